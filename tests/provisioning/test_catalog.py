"""The shipped catalog and model-id parsing shared by the stack and the CLI."""

from __future__ import annotations

import pytest

from provisioning.catalog import ModelIdError, load_catalog, parse_model_id


def test_catalog_loads_and_names_general_purpose_llms() -> None:
    catalog = load_catalog()
    generations = {m.general_purpose_llm: m for m in catalog.models if m.general_purpose_llm}
    assert generations["v1"].name == "Claude 3.7 Sonnet"
    assert generations["v2"].name == "Claude Sonnet 4.5"
    assert catalog.stack_default_models() == (generations["v1"].id, generations["v2"].id)
    assert catalog.regions.allowed == ("us-east-1", "us-east-2", "us-west-2")
    assert catalog.regions.default == "us-east-1"


def test_catalog_prices_carry_date_and_source() -> None:
    prices = load_catalog().prices
    assert prices.currency == "USD"
    assert prices.as_of
    assert prices.source.startswith("https://aws.amazon.com/bedrock/pricing")


def test_catalog_models_all_parse() -> None:
    for model in load_catalog().models:
        parse_model_id(model.id)


def test_parse_us_profile() -> None:
    parsed = parse_model_id("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert parsed.via_us_profile
    assert parsed.vendor == "anthropic"
    assert parsed.foundation_model_id == "anthropic.claude-sonnet-4-5-20250929-v1:0"


def test_parse_in_region_model() -> None:
    parsed = parse_model_id("amazon.titan-embed-text-v2:0")
    assert not parsed.via_us_profile
    assert parsed.vendor == "amazon"
    assert parsed.foundation_model_id == "amazon.titan-embed-text-v2:0"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("us.anthropic.*", "wildcards"),
        ("anthropic.claude-?", "wildcards"),
        ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "only US inference profiles"),
        ("apac.anthropic.claude-3-7-sonnet-20250219-v1:0", "only US inference profiles"),
        ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude", "not an ARN"),
        ("us.deepseek.r1-v1:0", "unknown model vendor"),
        ("US.anthropic.claude", "is not a Bedrock model id"),
        ("anthropic", "is not a Bedrock model id"),
        ("us.anthropic", "unknown model vendor"),
    ],
)
def test_parse_refuses(raw: str, reason: str) -> None:
    with pytest.raises(ModelIdError, match=reason):
        parse_model_id(raw)
