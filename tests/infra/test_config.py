"""Stack configuration: defaults, every refusal, and the one-line RunError before any resource exists."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest

from infra.config import StackConfig, StackConfigError, parse_stack_config
from provisioning.catalog import load_catalog
from tests.infra.conftest import Engine, set_config

V1 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
V2 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
PROGRAM = Path(__file__).resolve().parents[2] / "infra"


def parse(**raw: Any) -> StackConfig:
    return parse_stack_config(raw, stack="dev")


def refusal(**raw: Any) -> str:
    with pytest.raises(StackConfigError) as caught:
        parse(**raw)
    message = str(caught.value)
    assert "\n" not in message, "a refusal is one line"
    return message


def test_config_defaults_need_no_configuration() -> None:
    cfg = parse()
    assert cfg.region == "us-east-1"
    assert cfg.models == (V1, V2)
    assert cfg.log_retention_days == 365
    assert cfg.alarm_email is None
    assert cfg.credentials_generation == 1
    assert cfg.log_group_name == "/managed-llm/dev/bedrock-invocations"


def test_config_default_models_are_the_presets_models() -> None:
    presets = {p.id: p.model for p in load_catalog().presets}
    assert parse().models == (presets["general-purpose-llm-v1"], presets["general-purpose-llm-v2"])


@pytest.mark.parametrize("region", ["us-east-1", "us-east-2", "us-west-2"])
def test_config_accepts_us_bedrock_regions(region: str) -> None:
    assert parse(region=region).region == region


@pytest.mark.parametrize("region", ["eu-west-1", "us-west-1", "us-gov-west-1", "ap-southeast-2", ""])
def test_config_refuses_other_regions_naming_bad_and_allowed(region: str) -> None:
    message = refusal(region=region)
    assert message.startswith("managed-llm:region: ")
    assert repr(region) in message
    assert "us-east-1, us-east-2, us-west-2" in message


@pytest.mark.parametrize(
    ("models", "reason"),
    [
        (["us.anthropic.*"], "wildcards are not allowed"),
        (["*"], "wildcards are not allowed"),
        (["eu.anthropic.claude-sonnet-4-5-20250929-v1:0"], "only US inference profiles"),
        (["global.anthropic.claude-sonnet-4-5-20250929-v1:0"], "only US inference profiles"),
        (["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2"], "not an ARN"),
        (["us.openai.gpt-oss-120b-1:0"], "unknown model vendor"),
        (["claude"], "is not a Bedrock model id"),
        ([], "at least one model id"),
        ([V1, V1], "unique"),
    ],
)
def test_config_refuses_bad_models(models: list[str], reason: str) -> None:
    message = refusal(models=models)
    assert message.startswith("managed-llm:models")
    assert reason in message


def test_config_refuses_more_models_than_one_policy_can_grant() -> None:
    models = [f"us.anthropic.claude-model-{i}-v1:0" for i in range(30)]
    message = refusal(models=models)
    assert message.startswith("managed-llm:models: 30 models make an invoke policy of up to ")
    assert "IAM allows 6144: allow fewer models" in message
    assert parse(models=models[:8]).models == tuple(models[:8])


def test_config_models_accept_pulumi_json_and_in_region_models() -> None:
    cfg = parse(models=f'["{V2}", "amazon.titan-embed-text-v2:0"]')
    assert cfg.models == (V2, "amazon.titan-embed-text-v2:0")


def test_config_models_refuse_non_json() -> None:
    assert "expected a JSON value" in refusal(models="us.anthropic.claude")


@pytest.mark.parametrize("days", ["0", "2", "366", "-1", "forever"])
def test_config_refuses_retention_cloudwatch_does_not_accept(days: str) -> None:
    assert refusal(logRetentionDays=days).startswith("managed-llm:logRetentionDays: ")


def test_config_accepts_cloudwatch_retention_values() -> None:
    assert parse(logRetentionDays="30").log_retention_days == 30
    assert parse(logRetentionDays="3653").log_retention_days == 3653


@pytest.mark.parametrize(
    "key",
    [
        "textDataDeliveryEnabled",
        "imageDataDeliveryEnabled",
        "embeddingDataDeliveryEnabled",
        "videoDataDeliveryEnabled",
        "logPrompts",
        "s3Bucket",
    ],
)
def test_config_refuses_any_switch_towards_data_retention(key: str) -> None:
    message = refusal(**{key: "true"})
    assert message.startswith(f"managed-llm:{key}: zero data retention is an invariant")


def test_config_refuses_unknown_keys_listing_known_ones() -> None:
    message = refusal(logRetentionDay="30")
    assert message.startswith("managed-llm:logRetentionDay: unknown key")
    assert "logRetentionDays" in message
    assert "credentialsGeneration" in message


def test_config_alarm_email_is_checked() -> None:
    assert parse(alarmEmail="oncall@example.com").alarm_email == "oncall@example.com"
    assert refusal(alarmEmail="not-an-address").startswith("managed-llm:alarmEmail: ")


def test_config_credentials_generation_starts_at_one() -> None:
    assert parse(credentialsGeneration="2").credentials_generation == 2
    assert refusal(credentialsGeneration="0").startswith("managed-llm:credentialsGeneration: ")


def test_config_prices_override_shipped_defaults() -> None:
    cfg = parse(prices={V1: {"input": 2.5, "output": 12.5}})
    prices = cfg.resolved_prices
    assert (prices[V1].input, prices[V1].output) == (2.5, 12.5)
    shipped = load_catalog().default_prices()[V2]
    assert prices[V2] == shipped


def test_config_prices_refuse_unknown_models_and_negative_values() -> None:
    assert "not in `models`" in refusal(
        prices={"us.anthropic.claude-haiku-4-5-20251001-v1:0": {"input": 1, "output": 5}}
    )
    assert refusal(prices={V1: {"input": -1, "output": 5}}).startswith("managed-llm:prices")
    assert refusal(prices={V1: {"input": 1}}).startswith("managed-llm:prices")


def test_config_model_without_shipped_price_has_no_cost() -> None:
    cfg = parse(models=["us.anthropic.claude-opus-4-1-20250805-v1:0"])
    assert cfg.resolved_prices == {}


def test_config_load_reads_the_namespace_and_raises_run_error(engine: Engine) -> None:
    set_config({"region": "eu-west-1"})
    with pytest.raises(pulumi.RunError, match=r"^managed-llm:region: 'eu-west-1' is not an allowed Bedrock region"):
        StackConfig.load()


def test_program_with_forbidden_region_declares_nothing(engine: Engine) -> None:
    set_config({"region": "eu-west-1"})
    with pytest.raises(pulumi.RunError):
        engine.run(lambda: runpy.run_path(str(PROGRAM), run_name="__main__"))
    assert engine.mocks.resources == []
    assert engine.mocks.calls == []
