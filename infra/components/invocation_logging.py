"""Metadata-only Bedrock invocation logging: log group, the role Bedrock writes with, the logging config.

Zero data retention is an invariant of this component, not an argument: the four data-delivery flags are
always False (their provider default is True), CloudWatch is the only destination, and
`require_metadata_only` refuses any logging configuration that says otherwise before it is declared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.catalog import COMPONENT_PREFIX
from infra.policies import logging_role_policy, logging_trust_policy

LoggingConfigArgs = aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigArgs
CloudwatchConfigArgs = aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigCloudwatchConfigArgs
_DELIVERY_FLAGS = (
    "text_data_delivery_enabled",
    "image_data_delivery_enabled",
    "embedding_data_delivery_enabled",
    "video_data_delivery_enabled",
)


class DataRetentionError(ValueError):
    """A logging configuration that would store prompts, outputs, images, embeddings or video."""


@dataclass(frozen=True)
class InvocationLoggingArgs:
    account_id: pulumi.Input[str]
    region: str
    log_group_name: str
    retention_days: int
    kms_key_arn: pulumi.Input[str]


def metadata_only_logging_config(log_group_name: pulumi.Input[str], role_arn: pulumi.Input[str]) -> LoggingConfigArgs:
    """The only logging configuration this project declares: metadata to CloudWatch, no payloads."""
    return LoggingConfigArgs(
        cloudwatch_config=CloudwatchConfigArgs(log_group_name=log_group_name, role_arn=role_arn),
        text_data_delivery_enabled=False,
        image_data_delivery_enabled=False,
        embedding_data_delivery_enabled=False,
        video_data_delivery_enabled=False,
    )


def require_metadata_only(config: LoggingConfigArgs) -> LoggingConfigArgs:
    """Return `config` if it stores metadata only; raise DataRetentionError otherwise.

    `None` is refused too: the provider would default it to True.
    """
    for flag in _DELIVERY_FLAGS:
        if getattr(config, flag) is not False:
            raise DataRetentionError(f"{flag} must be False: zero data retention is an invariant")
    if config.s3_config is not None:
        raise DataRetentionError("s3_config must be unset: CloudWatch is the only destination")
    cloudwatch = config.cloudwatch_config
    if not isinstance(cloudwatch, CloudwatchConfigArgs):
        raise DataRetentionError("cloudwatch_config must be given as plain arguments: metadata goes to CloudWatch")
    if cloudwatch.large_data_delivery_s3_config is not None:
        raise DataRetentionError("large_data_delivery_s3_config must be unset: no payload leaves Bedrock")
    return config


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
        self.register_outputs(
            {"logGroupName": self.log_group.name, "logGroupArn": self.log_group.arn, "roleArn": self.role.arn}
        )
