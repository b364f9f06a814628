"""Model lifecycle: no default is past EOL today, the catalog is sourced, and plan warns on Legacy models and
refuses to create or replace onto one past EOL (text, json, markdown), before any write."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from catalog import lifecycle
from catalog.models import load_catalog
from provisioning.ops.starter import starter
from provisioning.ops.verify import Control
from tests.conftest import ELASTIC_V1, ELASTIC_V2, PRESET_MODEL, V2, Cli, endpoint, write_file
from tests.doubles.es_double import EsDouble

ROOT = Path(__file__).resolve().parents[2]
# A citation of the project's own notes (`reference/aws-...md`, `reference §2`), which are not in the repository;
# an upstream path such as elastic/kibana's `docs/reference/...` is a primary source and fine.
NOTES_CITATION = re.compile(r"(?<![\w/])reference(/[\w.-]+\.md|\s*§)")
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*") if p.is_file())


def past_eol_today(models: list[str]) -> list[str]:
    """The models whose catalog EOL date is today or earlier, read against today's date (never a fixed one)."""
    catalog, today = load_catalog(), date.today()
    return [m for m in models if (entry := catalog.model(m)) is not None and entry.state(today) == "EOL"]


def mentioned_models(text: str) -> list[str]:
    """Every catalog model whose id (profile or in-region) appears in `text` as a whole id."""
    found = []
    for entry in load_catalog().models:
        for model_id in {entry.id, entry.bedrock_model_id, entry.us_profile_id} - {None}:
            if re.search(rf"(?<![\w.:-]){re.escape(str(model_id))}(?![\w.:-])", text):
                found.append(str(model_id))
    return found


def test_no_default_uses_a_model_past_eol_today() -> None:
    catalog = load_catalog()
    from infra.constants import DEFAULT_MODELS

    assert past_eol_today(list(catalog.stack_default_models())) == []
    assert past_eol_today(list(DEFAULT_MODELS)) == []
    assert past_eol_today([p.model for p in catalog.presets]) == []
    init = starter("cn=admins", "us-east-1", "saml1", "managed-llm.yaml")
    assert past_eol_today([e.model for e in init.desired.inference_endpoints]) == []
    assert past_eol_today(mentioned_models("\n".join(init.pulumi_config))) == []
    # Defaults are Active (not merely before EOL): nothing shipped as a default is Legacy either.
    assert {catalog.model(m).state(date.today()) for m in catalog.stack_default_models()} == {"ACTIVE"}  # type: ignore[union-attr]


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT)) for p in EXAMPLES])
def test_no_example_uses_a_model_past_eol_today(path: Path) -> None:
    assert past_eol_today(mentioned_models(path.read_text(encoding="utf-8"))) == []


def test_the_eol_check_sees_a_retired_model_in_a_file() -> None:
    """The two helpers above find what they look for (or the tests using them could never fail)."""
    assert mentioned_models(f"model: {ELASTIC_V1}\n") == [ELASTIC_V1]
    assert past_eol_today([ELASTIC_V1, PRESET_MODEL]) == [ELASTIC_V1]


def test_every_catalog_fact_has_a_source_and_a_checked_date() -> None:
    catalog = load_catalog()
    today = date.today()
    for entry in catalog.models:
        for source, checked in (
            (entry.lifecycle.source, entry.lifecycle.checked),
            (entry.price.source, entry.price.checked),
            (entry.ids_source, entry.ids_checked),
            *(((entry.elastic.source, entry.elastic.checked),) if entry.elastic else ()),
        ):
            assert source.strip(), entry.id
            assert not NOTES_CITATION.search(source), f"{entry.id}: cite the primary source, not a notes file"
            assert checked <= today, entry.id
    for text in (catalog.regions.source, catalog.presets_source, *(p.source for p in catalog.elasticsearch.providers)):
        assert not NOTES_CITATION.search(text), text


def test_every_successor_is_in_the_catalog_and_not_past_eol_today() -> None:
    catalog = load_catalog()
    for entry in catalog.models:
        successor = entry.lifecycle.successor
        if successor is None:
            continue
        found = catalog.model(successor)
        assert found is not None, f"{entry.id}: successor {successor} is not in the catalog"
        assert found.state(date.today()) != "EOL", f"{entry.id}: successor {successor} is past EOL"


def test_every_preset_names_elastics_model_from_the_catalog() -> None:
    catalog = load_catalog()
    for preset in catalog.presets:
        assert preset.elastic_model is not None
        assert catalog.model(preset.elastic_model) is not None, preset.id


# ------------------------------------------------------------------------------------------ plan


def legacy_day(monkeypatch: pytest.MonkeyPatch) -> date:
    """Pretend today is the day Bedrock made Elastic's v2 model Legacy (a date from the catalog, not from code)."""
    entry = load_catalog().model(ELASTIC_V2)
    assert entry is not None
    assert entry.lifecycle.legacy_date is not None
    day = entry.lifecycle.legacy_date
    monkeypatch.setattr(lifecycle, "today", lambda: day)
    return day


@pytest.mark.double_only
def test_plan_refuses_to_create_onto_a_model_past_eol_and_apply_writes_nothing(
    run: Cli, double: EsDouble, tmp_path: Path
) -> None:
    file = write_file(tmp_path, [endpoint("llm", model=ELASTIC_V1), endpoint("other")], [])
    refusal = (
        f"inference endpoint llm: {ELASTIC_V1} (Claude 3.7 Sonnet) is past EOL since 2026-04-28: "
        f"Bedrock refuses calls to it; successor {PRESET_MODEL}"
    )
    planned = run("plan", "-f", str(file))
    assert planned.exit_code == 1
    assert f"refused: {refusal}\n" in planned.stdout
    as_json = json.loads(run("plan", "-f", str(file), "--output", "json").stdout)
    assert as_json["cluster"]["refusals"] == [refusal]
    assert as_json["lifecycle"] == [
        {
            "endpoint": "llm",
            "level": "refuse",
            "model": ELASTIC_V1,
            "state": "EOL",
            "eol_date": "2026-04-28",
            "successor": PRESET_MODEL,
            "message": refusal,
        }
    ]
    applied = run("apply", "-f", str(file))
    assert applied.exit_code == 1
    assert applied.stderr == f"error: nothing applied: {refusal}\n"
    assert double.writes() == []


@pytest.mark.double_only
def test_plan_refuses_to_replace_onto_a_model_past_eol(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    assert run("apply", "-f", str(write_file(tmp_path, [endpoint("llm")], []))).exit_code == 0
    before = len(double.writes())
    planned = run("plan", "-f", str(write_file(tmp_path, [endpoint("llm", model=ELASTIC_V1)], [])))
    assert planned.exit_code == 1
    assert f"refused: inference endpoint llm: {ELASTIC_V1} (Claude 3.7 Sonnet) is past EOL" in planned.stdout
    assert run("apply", "-f", str(write_file(tmp_path, [endpoint("llm", model=ELASTIC_V1)], []))).exit_code == 1
    assert len(double.writes()) == before
    assert double.cluster.endpoints["llm"].service_settings["model"] == V2


@pytest.mark.double_only
def test_an_unchanged_endpoint_on_a_model_past_eol_is_warned_about_not_refused(
    run: Cli, double: EsDouble, tmp_path: Path
) -> None:
    """It already exists and is broken (Bedrock refuses its calls): the plan shows it, and can prune or move it."""
    assert run("apply", "-f", str(write_file(tmp_path, [endpoint("llm")], []))).exit_code == 0
    double.cluster.endpoints["llm"].service_settings["model"] = ELASTIC_V1
    planned = run("plan", "-f", str(write_file(tmp_path, [endpoint("llm", model=ELASTIC_V1)], [])))
    assert planned.exit_code == 0, planned.output
    assert (
        f"warning: inference endpoint llm is BROKEN: {ELASTIC_V1} (Claude 3.7 Sonnet) is past EOL since 2026-04-28: "
        f"Bedrock refuses calls to it; successor {PRESET_MODEL}; change its model in the file (plan shows a replace) "
        "or prune it\n"
    ) in planned.stdout
    assert "refused:" not in planned.stdout
    pruned = run("plan", "-f", str(write_file(tmp_path, [], [])), "--prune")
    assert pruned.exit_code == 2
    moved = run("plan", "-f", str(write_file(tmp_path, [endpoint("llm")], [])))
    assert moved.exit_code == 2
    assert "replace" in moved.stdout


@pytest.mark.double_only
def test_plan_warns_on_a_legacy_model_in_text_json_and_markdown(
    run: Cli, double: EsDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy_day(monkeypatch)
    file = write_file(tmp_path, [endpoint("llm", model=ELASTIC_V2), endpoint("current")], [])
    warning = (
        f"inference endpoint llm: {ELASTIC_V2} (Claude Sonnet 4.5) is Legacy on Bedrock, EOL 2027-04-08; "
        f"successor {PRESET_MODEL}"
    )
    text = run("plan", "-f", str(file))
    assert text.exit_code == 2, text.output
    assert f"warning: {warning}\n" in text.stdout
    assert "current" not in "".join(line for line in text.stdout.splitlines() if line.startswith("warning:"))
    document = json.loads(run("plan", "-f", str(file), "--output", "json").stdout)
    assert document["lifecycle"] == [
        {
            "endpoint": "llm",
            "level": "warn",
            "model": ELASTIC_V2,
            "state": "LEGACY",
            "eol_date": "2027-04-08",
            "successor": PRESET_MODEL,
            "message": warning,
        }
    ]
    markdown = run("plan", "-f", str(file), "--output", "markdown")
    assert f"> :warning: {warning}" in markdown.stdout
    assert run("apply", "-f", str(file)).exit_code == 0  # a Legacy model still works: warned, not refused


@pytest.mark.double_only
def test_plan_makes_no_lifecycle_claim_on_a_model_the_catalog_does_not_know(run: Cli, tmp_path: Path) -> None:
    planned = run("plan", "-f", str(write_file(tmp_path, [endpoint("llm", model="us.anthropic.claude-opus-4-7")], [])))
    assert planned.exit_code == 2
    assert (
        "note: inference endpoint llm: us.anthropic.claude-opus-4-7: unknown lifecycle: run managed-llm models\n"
    ) in planned.stdout


@pytest.mark.double_only
def test_plan_says_what_each_preset_resolves_to(run: Cli, tmp_path: Path) -> None:
    file = write_file(
        tmp_path,
        [{"id": "gp-v1", "preset": "general-purpose-llm-v1"}, {"id": "gp-v2", "preset": "general-purpose-llm-v2"}],
        [],
    )
    planned = run("plan", "-f", str(file))
    assert planned.exit_code == 2, planned.output
    v1_eol = load_catalog().model(ELASTIC_V1).lifecycle.eol_date  # type: ignore[union-attr]
    assert (
        f"preset general-purpose-llm-v1 -> {PRESET_MODEL} (Elastic's General Purpose LLM v1 was Claude 3.7 Sonnet, "
        f"past EOL {v1_eol}); endpoint gp-v1\n"
    ) in planned.stdout
    assert f"preset general-purpose-llm-v2 -> {PRESET_MODEL} (Elastic's General Purpose LLM v2 " in planned.stdout
    markdown = run("plan", "-f", str(file), "--output", "markdown").stdout
    assert f"> :information_source: preset general-purpose-llm-v1 -> {PRESET_MODEL}" in markdown


def test_elastics_v2_is_described_as_legacy_on_its_legacy_day(monkeypatch: pytest.MonkeyPatch) -> None:
    day = legacy_day(monkeypatch)
    preset = load_catalog().preset("general-purpose-llm-v2")
    assert preset is not None
    assert lifecycle.elastic_meaning(preset, load_catalog(), day) == (
        "Elastic's General Purpose LLM v2 is Claude Sonnet 4.5, Legacy on Bedrock, EOL 2027-04-08"
    )


# ------------------------------------------------------------------------------------------ verify


def lifecycle_control(
    file_models: dict[str, str], cluster_models: dict[str, str], allowed: tuple[str, ...] | None
) -> Control:
    """The verify control judged on built evidence: the file's endpoints, the cluster's, the stack's allow-list."""
    from provisioning.adapters.file_loader import parse_document
    from provisioning.core.planning import ClusterState
    from provisioning.core.stack_outputs import StackOutputs
    from provisioning.ops.verify import Evidence, evaluate

    desired = parse_document(yaml_file(file_models), "f.yaml")
    bodies = tuple(
        {
            "inference_id": i,
            "task_type": "chat_completion",
            "service": "amazonbedrock",
            "service_settings": {"region": "us-east-1", "model": m, "provider": "ANTHROPIC"},
        }
        for i, m in cluster_models.items()
    )
    evidence = Evidence(
        desired,
        StackOutputs(region="us-east-1", models=allowed),
        None,
        None,
        (),
        None,
        ClusterState(bodies, {}),
        "https://es:9200",
        None,
    )
    (control,) = [c for c in evaluate(evidence).controls if c.id == "models.lifecycle"]
    return control


def yaml_file(models: dict[str, str]) -> str:
    lines = ["bedrock: {region: us-east-1}", "inference_endpoints:"]
    lines += [
        f"  - {{id: {i}, task_type: chat_completion, model: {m}, provider: anthropic}}" for i, m in models.items()
    ]
    return "\n".join(lines) + "\n"


def test_verify_fails_an_endpoint_on_a_model_past_eol() -> None:
    control = lifecycle_control({"llm": V2}, {"llm": ELASTIC_V1}, (V2,))
    assert control.status.value == "FAIL"
    assert control.evidence == (
        f"endpoint llm: {ELASTIC_V1} (Claude 3.7 Sonnet) is past EOL since 2026-04-28: Bedrock refuses calls to it; "
        f"successor {PRESET_MODEL}"
    )


def test_verify_fails_an_allow_listed_model_past_eol() -> None:
    control = lifecycle_control({"llm": V2}, {"llm": V2}, (V2, ELASTIC_V1))
    assert control.status.value == "FAIL"
    assert control.evidence.startswith(f"allow-list: {ELASTIC_V1} (Claude 3.7 Sonnet) is past EOL since 2026-04-28")


def test_verify_lists_legacy_models_with_their_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    legacy_day(monkeypatch)
    control = lifecycle_control({"llm": ELASTIC_V2}, {}, (V2, ELASTIC_V2))
    assert control.status.value == "WARN"
    described = f"{ELASTIC_V2} (Claude Sonnet 4.5) is Legacy on Bedrock, EOL 2027-04-08; successor {PRESET_MODEL}"
    assert control.evidence == f"endpoint llm: {described}; allow-list: {described}"


def test_verify_passes_current_models_and_makes_no_claim_on_unknown_ones() -> None:
    control = lifecycle_control({"llm": V2}, {"llm": V2}, (V2, "us.anthropic.claude-opus-4-7"))
    assert control.status.value == "PASS"
    assert control.evidence.endswith("none Legacy or past EOL; us.anthropic.claude-opus-4-7: " + lifecycle.UNKNOWN_HINT)


def test_verify_cannot_check_the_allow_list_without_stack_outputs() -> None:
    control = lifecycle_control({"llm": V2}, {"llm": V2}, None)
    assert control.status.value == "FAIL"
    assert control.evidence == "needs --stack-outputs (models) to check the allow-list"
