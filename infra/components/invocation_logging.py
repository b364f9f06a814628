"""Metadata-only Bedrock invocation logging: log group, the role Bedrock writes with, the logging config.

Zero data retention is an invariant of this component, not an argument: every data-delivery flag the
provider models is always False (their provider default is True), CloudWatch is the only destination, and
`require_metadata_only` refuses any logging configuration that says otherwise before it is declared,
including a `*_data_delivery_enabled` flag nobody knows yet. A flag Bedrock has but the provider cannot set
(`audioDataDeliveryEnabled` in pulumi-aws 7.51) is reported as a warning: this stack cannot switch it off.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, TypeVar

import pulumi
import pulumi_aws as aws

from catalog.data_delivery import DELIVERY_FLAGS, describe, payload_destinations, read_flags
from infra.constants import COMPONENT_PREFIX
from infra.policies import logging_role_policy, logging_trust_policy

LoggingConfigArgs = aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigArgs
CloudwatchConfigArgs = aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigCloudwatchConfigArgs
LoggingConfig = TypeVar("LoggingConfig", LoggingConfigArgs, Mapping[str, Any])


def _python_name(flag: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", flag).lower()


# The flags the installed provider can set, found on its input type so an upgrade that adds one (audio)
# makes the stack set it False without a code change; the rest are Bedrock flags this stack cannot set.
SETTABLE_FLAGS: tuple[str, ...] = tuple(
    flag for flag in DELIVERY_FLAGS if isinstance(getattr(LoggingConfigArgs, _python_name(flag), None), property)
)
UNSETTABLE_FLAGS: tuple[str, ...] = tuple(flag for flag in DELIVERY_FLAGS if flag not in SETTABLE_FLAGS)


class DataRetentionError(ValueError):
    """A logging configuration that would store prompts, outputs, images, embeddings, video or audio."""


@dataclass(frozen=True)
class InvocationLoggingArgs:
    account_id: pulumi.Input[str]
    region: str
    log_group_name: str
    retention_days: int
    kms_key_arn: pulumi.Input[str]


def metadata_only_logging_config(log_group_name: pulumi.Input[str], role_arn: pulumi.Input[str]) -> LoggingConfigArgs:
    """The only logging configuration this project declares: metadata to CloudWatch, no payloads."""
    config = LoggingConfigArgs(cloudwatch_config=CloudwatchConfigArgs(log_group_name=log_group_name, role_arn=role_arn))
    for flag in SETTABLE_FLAGS:
        pulumi.set(config, _python_name(flag), False)
    return config


def _field(config: Any, name: str) -> Any:
    return config.get(name) if isinstance(config, Mapping) else pulumi.get(config, name)


def require_metadata_only(config: LoggingConfig) -> LoggingConfig:
    """Return `config` if it stores metadata only; raise DataRetentionError otherwise.

    Deny by default: every `*_data_delivery_enabled` key it carries, known or not, must be False, and an
    unset settable flag is refused too (the provider would default it to True).
    """
    bag = dict(config) if isinstance(config, Mapping) else dict(vars(config))
    flags = read_flags(bag, SETTABLE_FLAGS)
    if flags.not_off:
        key, value = flags.not_off[0]
        raise DataRetentionError(f"{key} must be False ({describe(key, value)}): zero data retention is an invariant")
    if flags.absent:
        raise DataRetentionError(
            f"{_python_name(flags.absent[0])} must be False (unset: the provider defaults it to true): zero data"
            " retention is an invariant"
        )
    # The destination rule is shared with verify (catalog.data_delivery.payload_destinations).
    if payload_destinations({"s3_config": _field(config, "s3_config")}):
        raise DataRetentionError("s3_config must be unset: CloudWatch is the only destination")
    cloudwatch = _field(config, "cloudwatch_config")
    if not isinstance(cloudwatch, CloudwatchConfigArgs | Mapping):
        raise DataRetentionError("cloudwatch_config must be given as plain arguments: metadata goes to CloudWatch")
    large = _field(cloudwatch, "large_data_delivery_s3_config")
    if payload_destinations({"cloudwatch_config": {"large_data_delivery_s3_config": large}}):
        raise DataRetentionError("large_data_delivery_s3_config must be unset: no payload leaves Bedrock")
    return config


def unsettable_flags_warning() -> str | None:
    """What to tell the operator about Bedrock flags the installed provider cannot set (None: there are none)."""
    if not UNSETTABLE_FLAGS:
        return None
    it = "it" if len(UNSETTABLE_FLAGS) == 1 else "them"
    return (
        f"{', '.join(UNSETTABLE_FLAGS)}: pulumi-aws {version('pulumi_aws')} cannot set {it}, so this stack cannot"
        f" switch {it} off; switch {it} off with `aws bedrock put-model-invocation-logging-configuration`"
        " (docs/aws-stack.md) and check with `managed-llm verify`"
    )


class InvocationLogging(pulumi.ComponentResource):
    """Bedrock logs request metadata (timestamp, model, region, status) to a KMS-encrypted log group."""

    log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    configuration: aws.bedrockmodel.InvocationLoggingConfiguration

    def __init__(self, name: str, args: InvocationLoggingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:InvocationLogging", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = pulumi.Output.from_input(args.account_id)

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-log-group",
            name=args.log_group_name,
            retention_in_days=args.retention_days,
            kms_key_id=args.kms_key_arn,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            description="Assumed by Amazon Bedrock to write invocation metadata to CloudWatch Logs",
            assume_role_policy=account.apply(lambda a: json.dumps(logging_trust_policy(a, args.region))),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=self.role.id,
            policy=account.apply(lambda a: json.dumps(logging_role_policy(a, args.region, args.log_group_name))),
            opts=child,
        )
        # Bedrock validates the role when the configuration is put, so the role's permissions must exist
        # first; the provider retries for IAM propagation (about a minute) on create.
        self.configuration = aws.bedrockmodel.InvocationLoggingConfiguration(
            f"{name}-configuration",
            logging_config=require_metadata_only(metadata_only_logging_config(self.log_group.name, self.role.arn)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy, self.log_group]),
        )
        if warning := unsettable_flags_warning():
            pulumi.log.warn(warning, resource=self)
        self.register_outputs(
            {"logGroupName": self.log_group.name, "logGroupArn": self.log_group.arn, "roleArn": self.role.arn}
        )
