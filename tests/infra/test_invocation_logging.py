"""Metadata-only invocation logging: the zero-data-retention invariant and its supporting resources."""

from __future__ import annotations

import logging
import re
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from infra.components.invocation_logging import (
    SETTABLE_FLAGS,
    UNSETTABLE_FLAGS,
    CloudwatchConfigArgs,
    DataRetentionError,
    InvocationLogging,
    InvocationLoggingArgs,
    LoggingConfigArgs,
    metadata_only_logging_config,
    require_metadata_only,
)
from tests.infra.conftest import ACCOUNT, Engine, policy_of, scoped_to

GROUP = "/managed-llm/test/bedrock-invocations"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/abc"
FLAGS = ("text", "image", "embedding", "video")


def build(engine: Engine, region: str = "us-east-1", retention: int = 365) -> None:
    engine.run(
        lambda: InvocationLogging(
            "logging", InvocationLoggingArgs(ACCOUNT, region, GROUP, retention, KEY_ARN), scoped_to(region)
        )
    )


def test_logging_delivers_no_data_of_any_kind(engine: Engine) -> None:
    build(engine)
    configuration = engine.mocks.one("aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration")
    logging_config = configuration.inputs["loggingConfig"]
    for flag in FLAGS:
        assert logging_config[f"{flag}DataDeliveryEnabled"] is False, f"{configuration.urn}: {flag} data delivered"


def test_logging_sets_every_flag_the_provider_can_set_and_warns_about_the_others(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        build(engine)
    configuration = engine.mocks.one("aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration")
    flags = {k: v for k, v in configuration.inputs["loggingConfig"].items() if k.endswith("DataDeliveryEnabled")}
    assert flags == dict.fromkeys(SETTABLE_FLAGS, False), configuration.urn
    # pulumi-aws 7.51 has no audio_data_delivery_enabled; Bedrock has audioDataDeliveryEnabled (botocore 1.42.1).
    assert UNSETTABLE_FLAGS == ("audioDataDeliveryEnabled",)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        w.startswith("audioDataDeliveryEnabled: pulumi-aws ") and "cannot switch it off" in w for w in warnings
    ), warnings


def test_logging_goes_to_cloudwatch_only(engine: Engine) -> None:
    build(engine)
    configuration = engine.mocks.one("aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration")
    logging_config = configuration.inputs["loggingConfig"]
    assert "s3Config" not in logging_config, configuration.urn
    cloudwatch = logging_config["cloudwatchConfig"]
    assert "largeDataDeliveryS3Config" not in cloudwatch, configuration.urn
    assert cloudwatch["logGroupName"] == GROUP
    role = engine.mocks.one("aws:iam/role:Role")
    assert cloudwatch["roleArn"] == role.outputs["arn"]


def test_logging_configuration_waits_for_the_role_policy_and_the_group(engine: Engine) -> None:
    build(engine)
    dependencies = engine.dependencies("logging-configuration")
    assert any(urn.endswith("::logging-role-policy") for urn in dependencies), dependencies
    assert any(urn.endswith("::logging-log-group") for urn in dependencies), dependencies


def test_log_group_has_retention_and_the_project_key(engine: Engine) -> None:
    build(engine, retention=90)
    group = engine.mocks.one("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"] == GROUP
    assert group.inputs["retentionInDays"] == 90, group.urn
    assert group.inputs["kmsKeyId"] == KEY_ARN, group.urn


def test_logging_role_trust_and_permissions(engine: Engine) -> None:
    build(engine, region="us-west-2")
    trust = policy_of(engine.mocks.one("aws:iam/role:Role"), "assumeRolePolicy")
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:bedrock:us-west-2:{ACCOUNT}:*"}
    permissions = policy_of(engine.mocks.one("aws:iam/rolePolicy:RolePolicy"))
    (allowed,) = permissions["Statement"]
    assert allowed["Resource"] == (
        f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:{GROUP}:log-stream:aws/bedrock/modelinvocations"
    )


def _config(**overrides: Any) -> LoggingConfigArgs:
    values: dict[str, Any] = {
        "cloudwatch_config": CloudwatchConfigArgs(log_group_name=GROUP, role_arn="arn:aws:iam::1:role/r"),
        **{f"{flag}_data_delivery_enabled": False for flag in FLAGS},
        **overrides,
    }
    return LoggingConfigArgs(**values)


def test_require_metadata_only_accepts_the_builder_output() -> None:
    config = metadata_only_logging_config(GROUP, "arn:aws:iam::1:role/r")
    assert require_metadata_only(config) is config


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("value", [True, None])
def test_require_metadata_only_refuses_data_delivery(flag: str, value: bool | None) -> None:
    with pytest.raises(DataRetentionError, match=f"{flag}_data_delivery_enabled must be False"):
        require_metadata_only(_config(**{f"{flag}_data_delivery_enabled": value}))


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("audio_data_delivery_enabled", "audio_data_delivery_enabled must be False (audioDataDeliveryEnabled=true)"),
        ("fooDataDeliveryEnabled", "fooDataDeliveryEnabled must be False (fooDataDeliveryEnabled=true)"),
        ("foo_data_delivery_enabled", "foo_data_delivery_enabled must be False"),
        ("Foo-Data-Delivery-Enabled", "Foo-Data-Delivery-Enabled must be False"),
    ],
)
def test_require_metadata_only_refuses_any_delivery_flag_that_is_on(key: str, message: str) -> None:
    """Deny by default: a flag the provider does not model (audio) or nobody knows yet (foo) is refused too."""
    typed = _config()
    pulumi.set(typed, key, True)
    with pytest.raises(DataRetentionError, match=re.escape(message)):
        require_metadata_only(typed)
    bag = {**vars(_config()), key: True}
    with pytest.raises(DataRetentionError, match=re.escape(message)):
        require_metadata_only(bag)
    off = {**vars(_config()), key: False}
    assert require_metadata_only(off) is off


def test_require_metadata_only_refuses_s3_destinations() -> None:
    s3 = aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigS3ConfigArgs(bucket_name="prompts")
    with pytest.raises(DataRetentionError, match="s3_config must be unset"):
        require_metadata_only(_config(s3_config=s3))
    large = aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigCloudwatchConfigLargeDataDeliveryS3ConfigArgs(
        bucket_name="prompts"
    )
    cloudwatch = CloudwatchConfigArgs(log_group_name=GROUP, role_arn="r", large_data_delivery_s3_config=large)
    with pytest.raises(DataRetentionError, match="large_data_delivery_s3_config must be unset"):
        require_metadata_only(_config(cloudwatch_config=cloudwatch))


def test_require_metadata_only_requires_cloudwatch() -> None:
    with pytest.raises(DataRetentionError, match="cloudwatch_config"):
        require_metadata_only(_config(cloudwatch_config=None))
