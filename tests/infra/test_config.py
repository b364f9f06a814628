"""Stack configuration: defaults, every refusal, and the one-line RunError before any resource exists."""

from __future__ import annotations

import json
import math
import runpy
from datetime import date
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pydantic.alias_generators import to_camel

from catalog import lifecycle
from catalog.models import load_catalog
from infra.config import StackConfig, StackConfigError, config_keys, parse_stack_config
from tests.infra.conftest import Engine, set_config

# V1 is the presets' model (the stack's default allow-list); V2 another Active model.
V1 = "us.anthropic.claude-sonnet-4-6"
V2 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
EOL_MODEL = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
LEGACY_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
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
    assert cfg.models == (V1,)
    assert cfg.log_retention_days == 365
    assert cfg.alarm_email is None
    assert cfg.credentials_generation == 1
    assert cfg.log_group_name == "/managed-llm/dev/bedrock-invocations"


def test_config_default_models_are_the_presets_models() -> None:
    presets = {p.id: p.model for p in load_catalog().presets}
    assert presets["general-purpose-llm-v1"] == presets["general-purpose-llm-v2"]
    assert parse().models == (presets["general-purpose-llm-v1"],)


@pytest.mark.parametrize("region", ["us-east-1", "us-east-2", "us-west-2"])
def test_config_accepts_us_bedrock_regions(region: str) -> None:
    assert parse(region=region).region == region


@pytest.mark.parametrize("region", ["eu-west-1", "us-west-1", "us-gov-west-1", "ap-southeast-2"])
def test_config_refuses_other_regions_naming_bad_and_allowed(region: str) -> None:
    message = refusal(region=region)
    assert message.startswith("managed-llm:region: ")
    assert repr(region) in message
    assert "us-east-1, us-east-2, us-west-2" in message


@pytest.mark.parametrize(
    "region", ["", "us-east-1\n", " us-east-1", "US-EAST-1", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]
)
def test_config_refuses_non_region_values_without_repeating_them(region: str) -> None:
    assert refusal(region=region) == (
        "managed-llm:region: this is not an allowed Bedrock region; allowed: us-east-1, us-east-2, us-west-2"
    )


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
    assert parse(models=models[:7]).models == tuple(models[:7])  # with the system-profile grants kept


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
    cfg = parse(models=[V1, V2], prices={V1: {"input": 2.5, "output": 12.5}})
    prices = cfg.resolved_prices
    assert (prices[V1].input, prices[V1].output) == (2.5, 12.5)
    shipped = load_catalog().default_prices()[V2]
    assert prices[V2] == shipped


def test_config_prices_refuse_unknown_models_and_negative_values() -> None:
    assert "not in `models`" in refusal(prices={V2: {"input": 1, "output": 5}})
    assert refusal(prices={V1: {"input": -1, "output": 5}}).startswith("managed-llm:prices")
    assert refusal(prices={V1: {"input": 1}}).startswith("managed-llm:prices")


def test_config_model_without_shipped_price_has_no_cost() -> None:
    cfg = parse(models=["us.anthropic.claude-opus-4-7"])  # not in the shipped catalog
    assert cfg.resolved_prices == {}


def test_config_load_reads_the_namespace_and_raises_run_error(engine: Engine) -> None:
    set_config({"region": "eu-west-1"})
    with pytest.raises(pulumi.RunError, match=r"^managed-llm:region: 'eu-west-1' is not an allowed Bedrock region"):
        StackConfig.load()


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"region": "eu-west-1"}, "region"),
        ({"alarm_email": "oncall@example.com"}, "alarm_email"),
        ({"credentialsGeneration": "2.0"}, "credentialsGeneration"),
        ({"logRetentionDays": "1_8_0"}, "logRetentionDays"),
        ({"stack": "prod"}, "stack"),
    ],
)
def test_program_with_refused_config_declares_nothing(engine: Engine, config: dict[str, Any], key: str) -> None:
    set_config(config)
    with pytest.raises(pulumi.RunError, match=rf"^managed-llm:{key}: [^\n]+$"):
        engine.run(lambda: runpy.run_path(str(PROGRAM), run_name="__main__"))
    assert engine.mocks.resources == []
    assert engine.mocks.calls == []


KNOWN_KEYS = "known keys: alarmEmail, credentialsGeneration, deployments, logRetentionDays, models, prices, region"
NOT_A_MODEL_ID = (
    "this is not a Bedrock model id (expected e.g. us.anthropic.claude-...: lowercase letters, "
    "digits, '.', '-', '_', ':' and no whitespace)"
)
NOT_AN_EMAIL = "expected one email address (name@example.com; no spaces, quotes, commas or control characters)"
GENERATION = "expected a whole number from 1 to 999999, written with digits 0-9 only"
RETENTION = "expected a whole number from 1 to 3653, written with digits 0-9 only"
NOT_JSON = "expected a JSON value (set it with `pulumi config set --path 'models[0]' ...`)"
PRICE = f'{{"{V1}": {{"input": %s, "output": 15}}}}'


# Issue 10 item 17, and the same class of bug in every other key: each value was accepted (or crashed)
# before the strict parsing layer, and each refusal is one line naming the key and the rule.
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param({"models": json.dumps([V1 + "\n"])}, f"managed-llm:models[0]: {NOT_A_MODEL_ID}", id="model-nl"),
        pytest.param({"models": [V1 + "\n"]}, f"managed-llm:models[0]: {NOT_A_MODEL_ID}", id="model-nl-list"),
        pytest.param({"models": [" " + V1]}, f"managed-llm:models[0]: {NOT_A_MODEL_ID}", id="model-space"),
        pytest.param({"models": [V1, 7]}, "managed-llm:models[1]: Input should be a valid string", id="model-int"),
        pytest.param({"models": "[" * 5_000}, f"managed-llm:models: {NOT_JSON}", id="models-deep-json"),
        pytest.param(
            {"models": "[NaN]"}, "managed-llm:models: NaN is not a JSON number; give finite numbers", id="models-nan"
        ),
        pytest.param(
            {"models": json.dumps(["x" * 70_000])},
            "managed-llm:models: expected a JSON value of at most 65536 characters",
            id="models-huge-json",
        ),
        pytest.param(
            {"prices": PRICE % "Infinity"},
            "managed-llm:prices: Infinity is not a JSON number; give finite numbers",
            id="inf",
        ),
        pytest.param(
            {"prices": PRICE % "-Infinity"},
            "managed-llm:prices: -Infinity is not a JSON number; give finite numbers",
            id="minus-inf",
        ),
        pytest.param(
            {"prices": PRICE % "NaN"}, "managed-llm:prices: NaN is not a JSON number; give finite numbers", id="nan"
        ),
        pytest.param(
            {"prices": PRICE % "1e400"}, f"managed-llm:prices.{V1}.input: Input should be a finite number", id="1e400"
        ),
        pytest.param(
            {"prices": {V1: {"input": math.inf, "output": 15}}},
            f"managed-llm:prices.{V1}.input: Input should be a finite number",
            id="inf-float",
        ),
        pytest.param(
            {"prices": PRICE % "1e30"},
            f"managed-llm:prices.{V1}.input: Input should be less than or equal to 10000",
            id="price-huge",
        ),
        pytest.param(
            {"prices": PRICE % '"3"'}, f"managed-llm:prices.{V1}.input: Input should be a valid number", id="price-str"
        ),
        pytest.param(
            {"prices": PRICE % "true"},
            f"managed-llm:prices.{V1}.input: Input should be a valid number",
            id="price-bool",
        ),
        pytest.param(
            {"prices": PRICE % "-1"},
            f"managed-llm:prices.{V1}.input: Input should be greater than or equal to 0",
            id="price-negative",
        ),
        pytest.param(
            {"prices": f'{{"{V1}": {{"input": 1, "output": 5}}, "{V1}": {{"input": 9, "output": 9}}}}'},
            "managed-llm:prices: a JSON object repeats a key",
            id="price-twice",
        ),
        pytest.param(
            {"prices": {"Secret/Value+x": {"input": 1, "output": 5}}},
            f"managed-llm:prices.<key>: {NOT_A_MODEL_ID}",
            id="price-key-not-shown",
        ),
        pytest.param({"alarmEmail": "oncall@example.com\n"}, f"managed-llm:alarmEmail: {NOT_AN_EMAIL}", id="email-nl"),
        pytest.param(
            {"alarmEmail": "oncall@example.com\nBcc: x@evil.test"},
            f"managed-llm:alarmEmail: {NOT_AN_EMAIL}",
            id="email-hdr",
        ),
        pytest.param(
            {"alarmEmail": '"on call"@example.com'}, f"managed-llm:alarmEmail: {NOT_AN_EMAIL}", id="email-quote"
        ),
        pytest.param(
            {"alarmEmail": 'on"call@example.com'}, f"managed-llm:alarmEmail: {NOT_AN_EMAIL}", id="email-quote2"
        ),
        pytest.param(
            {"alarmEmail": "a@example.com,b@example.com"}, f"managed-llm:alarmEmail: {NOT_AN_EMAIL}", id="email-two"
        ),
        pytest.param(
            {"alarmEmail": "On Call <oncall@example.com>"}, f"managed-llm:alarmEmail: {NOT_AN_EMAIL}", id="email-name"
        ),
        pytest.param({"alarmEmail": "on\tcall@example.com"}, f"managed-llm:alarmEmail: {NOT_AN_EMAIL}", id="email-tab"),
        pytest.param({"alarmEmail": "oncall@example"}, f"managed-llm:alarmEmail: {NOT_AN_EMAIL}", id="email-no-tld"),
        pytest.param({"alarmEmail": "o'call@example.com"}, f"managed-llm:alarmEmail: {NOT_AN_EMAIL}", id="email-apos"),
        pytest.param(
            {"alarmEmail": "on..call@example.com"}, f"managed-llm:alarmEmail: {NOT_AN_EMAIL}", id="email-dots"
        ),
        pytest.param(
            {"alarmEmail": "x" * 65 + "@example.com"}, f"managed-llm:alarmEmail: {NOT_AN_EMAIL}", id="email-65"
        ),
        pytest.param({"alarmEmail": "oncall@exa_mple.com"}, f"managed-llm:alarmEmail: {NOT_AN_EMAIL}", id="email-lbl"),
        pytest.param(
            {"credentialsGeneration": "2.0"}, f"managed-llm:credentialsGeneration: {GENERATION}", id="gen-2.0"
        ),
        pytest.param({"credentialsGeneration": "+2"}, f"managed-llm:credentialsGeneration: {GENERATION}", id="gen-+2"),
        pytest.param(
            {"credentialsGeneration": 10**30}, f"managed-llm:credentialsGeneration: {GENERATION}", id="gen-int"
        ),
        pytest.param(
            {"credentialsGeneration": str(10**30)}, f"managed-llm:credentialsGeneration: {GENERATION}", id="gen-10^30"
        ),
        pytest.param(
            {"credentialsGeneration": "2e3"}, f"managed-llm:credentialsGeneration: {GENERATION}", id="gen-exp"
        ),
        pytest.param({"credentialsGeneration": "2\n"}, f"managed-llm:credentialsGeneration: {GENERATION}", id="gen-nl"),
        pytest.param(
            {"credentialsGeneration": "\u0662"}, f"managed-llm:credentialsGeneration: {GENERATION}", id="gen-ar"
        ),
        pytest.param(
            {"credentialsGeneration": True}, f"managed-llm:credentialsGeneration: {GENERATION}", id="gen-bool"
        ),
        pytest.param(
            {"credentialsGeneration": "1000000"}, f"managed-llm:credentialsGeneration: {GENERATION}", id="gen-bound"
        ),
        pytest.param({"logRetentionDays": "1_8_0"}, f"managed-llm:logRetentionDays: {RETENTION}", id="days-1_8_0"),
        pytest.param({"logRetentionDays": "180.0"}, f"managed-llm:logRetentionDays: {RETENTION}", id="days-float"),
        pytest.param({"logRetentionDays": " 180"}, f"managed-llm:logRetentionDays: {RETENTION}", id="days-space"),
        pytest.param(
            {"logRetentionDays": "\u0661\u0668\u0660"}, f"managed-llm:logRetentionDays: {RETENTION}", id="days-arabic"
        ),
        pytest.param(
            {"alarm_email": "oncall@example.com"},
            f"managed-llm:alarm_email: unknown key; did you mean alarmEmail? {KNOWN_KEYS}",
            id="snake-alone",
        ),
        pytest.param(
            {"alarmEmail": "oncall@example.com", "alarm_email": "other@example.com"},
            f"managed-llm:alarm_email: unknown key; did you mean alarmEmail? {KNOWN_KEYS}",
            id="snake-twin",
        ),
        pytest.param(
            {"log_retention_days": "30", "credentials_generation": "2"},
            f"managed-llm:credentials_generation: unknown key; did you mean credentialsGeneration? {KNOWN_KEYS}; "
            f"managed-llm:log_retention_days: unknown key; did you mean logRetentionDays? {KNOWN_KEYS}",
            id="snake-two",
        ),
        pytest.param(
            {"AlarmEmail": "oncall@example.com"},
            f"managed-llm:AlarmEmail: unknown key; did you mean alarmEmail? {KNOWN_KEYS}",
            id="pascal",
        ),
        pytest.param(
            {"stack": "prod"},
            f"managed-llm:stack: unknown key; the stack name comes from `pulumi stack select`; {KNOWN_KEYS}",
            id="stack",
        ),
        pytest.param(
            {"region\n": "us-east-1"},
            f"managed-llm:'region\\n': unknown key; did you mean region? {KNOWN_KEYS}",
            id="key-nl",
        ),
    ],
)
def test_config_refuses_each_lax_value_naming_the_key(raw: dict[str, Any], message: str) -> None:
    assert refusal(**raw) == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"credentialsGeneration": "999999"}, {"credentials_generation": 999_999}),
        ({"credentialsGeneration": 3}, {"credentials_generation": 3}),
        ({"logRetentionDays": "180"}, {"log_retention_days": 180}),
        ({"alarmEmail": "on-call+llm@ops.example.co.uk"}, {"alarm_email": "on-call+llm@ops.example.co.uk"}),
        ({"alarmEmail": "first.last_2@Example.COM"}, {"alarm_email": "first.last_2@Example.COM"}),
        ({"prices": PRICE % "0"}, {"prices": {V1: {"input": 0.0, "output": 15.0}}}),
    ],
)
def test_config_accepts_plain_values(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    cfg = parse(**raw)
    assert {k: cfg.model_dump()[k] for k in expected} == expected


def test_config_load_refuses_infinite_price_as_pulumi_passes_it(engine: Engine) -> None:
    # set_config serializes like the engine does: json.dumps writes float("inf") as `Infinity`.
    set_config({"prices": {V1: {"input": math.inf, "output": 15}}})
    with pytest.raises(
        pulumi.RunError, match=r"^managed-llm:prices: Infinity is not a JSON number; give finite numbers$"
    ):
        StackConfig.load()


def test_config_load_refuses_snake_case_twin(engine: Engine) -> None:
    set_config({"alarm_email": "oncall@example.com"})
    with pytest.raises(pulumi.RunError, match=r"^managed-llm:alarm_email: unknown key; did you mean alarmEmail\? "):
        StackConfig.load()


def test_config_keys_are_the_camel_case_of_the_fields() -> None:
    fields = [name for name in StackConfig.model_fields if name != "stack"]
    assert config_keys() == tuple(sorted(to_camel(name) for name in fields))


def test_config_refuses_a_model_past_eol_naming_date_and_successor() -> None:
    entry = load_catalog().model(EOL_MODEL)
    assert entry is not None
    assert entry.lifecycle.eol_date is not None
    assert entry.state(date.today()) == "EOL"  # today's date: the refusal below is what a user meets now
    assert refusal(models=[V1, EOL_MODEL]) == (
        f"managed-llm:models: {EOL_MODEL} (Claude 3.7 Sonnet) is past EOL since {entry.lifecycle.eol_date}: "
        f"Bedrock refuses calls to it; successor {entry.lifecycle.successor}"
    )


def test_config_warns_on_a_legacy_model_with_its_eol_date_and_successor(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = load_catalog().model(LEGACY_MODEL)
    assert entry is not None
    assert entry.lifecycle.legacy_date is not None
    # The day Bedrock made it Legacy, taken from the catalog: the test does not age with the calendar.
    monkeypatch.setattr(lifecycle, "today", lambda: entry.lifecycle.legacy_date)
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warned.append(message))
    set_config({"models": [V1, LEGACY_MODEL]})
    assert StackConfig.load().models == (V1, LEGACY_MODEL)
    assert warned == [
        f"managed-llm:models: {LEGACY_MODEL} (Claude Sonnet 4.5) is Legacy on Bedrock, "
        f"EOL {entry.lifecycle.eol_date}; successor {entry.lifecycle.successor}"
    ]


def test_config_makes_no_lifecycle_claim_on_a_model_the_catalog_does_not_know(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warned.append(message))
    set_config({"models": ["us.anthropic.claude-opus-4-7"]})
    assert StackConfig.load().models == ("us.anthropic.claude-opus-4-7",)
    assert warned == []


def test_config_without_deployments_serves_one_default_deployment_with_every_model() -> None:
    config = parse_stack_config({}, stack="dev")
    (only,) = config.effective_deployments
    assert only.name == "default"
    assert only.models == config.models
    assert only.monthly_budget_usd is None


def test_config_deployments_default_to_the_stacks_models_and_keep_their_own() -> None:
    haiku = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    sonnet = "us.anthropic.claude-sonnet-4-6"
    deployments = [{"name": "team-a", "monthlyBudgetUsd": 100, "tags": {"team": "a"}}, {"name": "b", "models": [haiku]}]
    config = parse_stack_config(
        {"models": json.dumps([sonnet, haiku]), "deployments": json.dumps(deployments)}, stack="dev"
    )
    team_a, b = config.effective_deployments
    assert (team_a.name, team_a.models, team_a.monthly_budget_usd, team_a.tags) == (
        "team-a",
        (sonnet, haiku),
        100.0,
        {"team": "a"},
    )
    assert (b.name, b.models) == ("b", (haiku,))


@pytest.mark.parametrize(
    ("deployments", "message"),
    [
        ([{"name": "Team"}], "deployments[0].name: a deployment name is lower-case"),
        ([{"name": "a" * 33}], "deployments[0].name: a deployment name is lower-case"),
        ([{"name": "team-"}], "deployments[0].name: a deployment name is lower-case"),
        ([{"name": "a"}, {"name": "a"}], "deployments: deployment names must be unique"),
        ([{"name": "a", "monthly_budget_usd": 5}], "deployments[0].monthly_budget_usd: Extra inputs are not permitted"),
        ([{"name": "a", "monthlyBudgetUsd": 0}], "deployments[0].monthlyBudgetUsd: Input should be greater than 0"),
        ([{"name": "a", "monthlyBudgetUsd": "5"}], "deployments[0].monthlyBudgetUsd: Input should be a valid number"),
        ([{"name": "a", "models": []}], "deployments[0].models: Value error, a deployment's models are a non-empty"),
        ([{"name": "a", "models": ["us.anthropic.claude-opus-4-6-v1"]}], "not in `models` (the stack's allow-list)"),
        ([{"name": "a", "tags": {"aws:x": "1"}}], "deployments[0].tags: a tag key is 1-128"),
        ([{"name": "a", "tags": {"managed-llm:deployment": "b"}}], "deployments[0].tags: a tag key is 1-128"),
        ([{"name": "a", "tags": {"k": "v\n"}}], "deployments[0].tags: a tag value is at most 256"),
        ([{"name": f"d{i}"} for i in range(101)], "deployments: at most 100 deployments per stack"),
    ],
)
def test_config_refuses_bad_deployments_naming_the_key(deployments: list[dict[str, object]], message: str) -> None:
    with pytest.raises(StackConfigError) as refused:
        parse_stack_config({"deployments": json.dumps(deployments)}, stack="dev")
    assert message.replace("Value error, ", "") in str(refused.value)
    assert "\n" not in str(refused.value)
