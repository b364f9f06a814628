"""The shipped catalog and model-id parsing shared by the stack and the CLI."""

from __future__ import annotations

import pytest

from catalog.models import ModelIdError, load_catalog, parse_model_id


def test_catalog_names_the_general_purpose_llms() -> None:
    catalog = load_catalog()
    names = {m.id: m.name for m in catalog.models}
    v1, v2 = catalog.preset("general-purpose-llm-v1"), catalog.preset("general-purpose-llm-v2")
    assert v1 is not None
    assert v2 is not None
    # Elastic's v1 (Claude 3.7 Sonnet) is past EOL and its v2 (Claude Sonnet 4.5) Legacy: both resolve to the
    # current Claude Sonnet, and the catalog keeps what Elastic means by each name.
    assert (v1.name, names[v1.model]) == ("General Purpose LLM v1", "Claude Sonnet 4.6")
    assert (v2.name, names[v2.model]) == ("General Purpose LLM v2", "Claude Sonnet 4.6")
    assert v1.elastic_model is not None
    assert v2.elastic_model is not None
    assert (names[v1.elastic_model], names[v2.elastic_model]) == ("Claude 3.7 Sonnet", "Claude Sonnet 4.5")
    assert catalog.stack_default_models() == (v1.model,)


def test_presets_accept_the_old_elastic_managed_llm_name() -> None:
    catalog = load_catalog()
    assert catalog.preset("Elastic Managed LLM") == catalog.preset("general-purpose-llm-v1")
    assert catalog.preset("elastic-managed-llm") == catalog.preset("general-purpose-llm-v1")
    assert catalog.preset("general-purpose-llm-v3") is None


def test_every_preset_model_is_in_the_catalog_with_a_price() -> None:
    catalog = load_catalog()
    priced = catalog.default_prices()
    for preset in catalog.presets:
        assert preset.model in priced
        assert preset.history[-1].model == preset.model, "the newest history entry is the current model"
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


def test_provider_task_types_come_from_the_catalogs_table() -> None:
    """One home for the provider x task type rule: change the table and validation follows."""
    from catalog.models import ProviderTasks
    from provisioning.adapters.file_loader import parse_document
    from provisioning.core.errors import ConfigError

    text = (
        "bedrock: {region: us-east-1}\ninference_endpoints:\n"
        "  - {id: t, task_type: chat_completion, model: amazon.titan-text-premier-v1:0, provider: amazontitan}\n"
    )
    with pytest.raises(ConfigError, match="provider amazontitan has no chat_completion task"):
        parse_document(text, "f.yaml")
    catalog = load_catalog()
    chatty = ProviderTasks(provider="amazontitan", task_types=("chat_completion",), source="a test")
    widened = catalog.model_copy(
        update={
            "elasticsearch": catalog.elasticsearch.model_copy(
                update={"providers": (chatty, *(p for p in catalog.elasticsearch.providers if p != chatty))}
            )
        }
    )
    (endpoint,) = parse_document(text, "f.yaml", widened).inference_endpoints
    assert endpoint.provider == "amazontitan"
