"""The Pulumi stack's outputs: the contract between the AWS half (`infra/`) and the CLI.

Pipelines pass them with `--stack-outputs FILE`, the JSON of `pulumi stack output --json`. Without that
file, commands fall back to the declarative file's `bedrock` section, which knows the region and the
credentials secret but not the allow-listed models, the log group or the principal: controls that need
those say so instead of passing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

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
)


class DeploymentOutputs(BaseModel):
    """One entry of the `deployments` output: a deployment's principal, secret and application profiles."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    elasticsearch_principal_arn: str | None = Field(default=None, alias="elasticsearchPrincipalArn")
    credentials_secret_arn: str | None = Field(default=None, alias="credentialsSecretArn")
    # model (catalog id / `us.` profile id) -> application-inference-profile ARN
    inference_profiles: dict[str, str] = Field(default_factory=dict, alias="inferenceProfiles")
    monthly_budget_usd: float | None = Field(default=None, alias="monthlyBudgetUsd")
    budget_name: str | None = Field(default=None, alias="budgetName")


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
    deployments: dict[str, DeploymentOutputs] | None = None
    source: str = Field(default="stack outputs", exclude=True)


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
