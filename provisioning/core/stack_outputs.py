"""The Pulumi stack's outputs: the contract between the AWS half (`infra/`) and the CLI.

Pipelines pass them with `--stack-outputs FILE`, the JSON of `pulumi stack output --json`. Without that
file, commands fall back to the declarative file's `bedrock` section, which knows the region and the
credentials secret but not the allow-listed models, the log group or the principal: controls that need
those say so instead of passing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from catalog.deployments import DEPLOYMENT_NAME_PATTERN
from catalog.models import parse_model_id
from provisioning.core.arns import APPLICATION_PROFILE_ARN, IAM_ARN, SECRET_ARN
from provisioning.core.errors import ConfigError
from provisioning.core.model import DesiredState

# Every output `infra/__main__.py` exports; tests/infra/test_program.py holds the two sides together.
STACK_OUTPUT_NAMES = (
    "region",
    "models",
    "credentialsSecretArn",
    "elasticsearchPrincipalArn",
    "logGroupName",
    "logGroupArn",
    "kmsKeyArn",
    "alarmTopicArn",
    "dashboardName",
    "deployments",
)


def _shaped(pattern: re.Pattern[str], shape: str) -> Callable[[str], str]:
    """A validator whose message says the expected shape (never the value: the file is untrusted)."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"not {shape}")
        return value

    return check


ProfileArn = Annotated[
    str,
    AfterValidator(
        _shaped(
            APPLICATION_PROFILE_ARN,
            "an application inference profile ARN "
            "(arn:aws:bedrock:us-<...>:<account>:application-inference-profile/<id>)",
        )
    ),
]
PrincipalArn = Annotated[str, AfterValidator(_shaped(IAM_ARN, "an IAM user or role ARN (arn:aws:iam::<account>:...)"))]
SecretArn = Annotated[
    str,
    AfterValidator(_shaped(SECRET_ARN, "a Secrets Manager ARN (arn:aws:secretsmanager:us-<...>:<account>:secret:...)")),
]
DeploymentKey = Annotated[str, StringConstraints(pattern=DEPLOYMENT_NAME_PATTERN)]


class DeploymentOutputs(BaseModel):
    """One entry of the `deployments` output (the contract in infra/__main__.py). Strict, unlike the top
    level: the CLI writes these ARNs into clusters and reads credentials through them, so a shape it does
    not know is refused rather than guessed at."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, populate_by_name=True)

    principal_arn: PrincipalArn = Field(alias="elasticsearchPrincipalArn")
    credentials_secret_arn: SecretArn = Field(alias="credentialsSecretArn")
    inference_profiles: dict[str, ProfileArn] = Field(alias="inferenceProfiles")
    monthly_budget_usd: float | None = Field(default=None, alias="monthlyBudgetUsd", ge=0)
    budget_name: str | None = Field(default=None, alias="budgetName", min_length=1, max_length=100)

    @field_validator("inference_profiles")
    @classmethod
    def _model_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for model in value:
            parse_model_id(model)  # a ValueError pydantic reports in one line
        return value

    def model_of(self, arn: str) -> str | None:
        """The catalog model id this deployment's profile `arn` serves, or None."""
        return next((model for model, profile in self.inference_profiles.items() if profile == arn), None)


class StackOutputs(BaseModel):
    # Outputs a newer stack adds are ignored, not refused: the contract only ever grows.
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    region: str
    models: tuple[str, ...] | None = None
    credentials_secret_arn: str | None = Field(default=None, alias="credentialsSecretArn")
    elasticsearch_principal_arn: str | None = Field(default=None, alias="elasticsearchPrincipalArn")
    log_group_name: str | None = Field(default=None, alias="logGroupName")
    log_group_arn: str | None = Field(default=None, alias="logGroupArn")
    kms_key_arn: str | None = Field(default=None, alias="kmsKeyArn")
    alarm_topic_arn: str | None = Field(default=None, alias="alarmTopicArn")
    dashboard_name: str | None = Field(default=None, alias="dashboardName")
    deployments: dict[DeploymentKey, DeploymentOutputs] | None = None
    source: str = Field(default="stack outputs", exclude=True)


def owner_of(stack: StackOutputs, arn: str) -> str | None:
    """The deployment whose application profile `arn` is, or None."""
    found = (name for name, d in (stack.deployments or {}).items() if d.model_of(arn) is not None)
    return next(found, None)


def from_file(desired: DesiredState, file_name: str) -> StackOutputs:
    """What the declarative file knows when no stack outputs are given."""
    if desired.bedrock is None:
        raise ConfigError(f"{file_name}: bedrock: required without --stack-outputs")
    credentials = desired.bedrock.credentials
    return StackOutputs(
        region=desired.bedrock.region,
        credentials_secret_arn=credentials.secret_arn if credentials else None,
        source=f"the bedrock section of {file_name}",
    )
