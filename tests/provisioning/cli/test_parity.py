"""Parity with Elastic Managed LLMs: presets, the preset history shown in plans, version awareness, init."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog.models import load_catalog
from provisioning.adapters.file_loader import parse_document
from provisioning.cli.app import cli
from tests.conftest import ELASTIC_V1, PRESET_MODEL, V1, V2, Cli, write_file
from tests.doubles.es_double import EsDouble, running_double


def parse(text: str, **kwargs: object) -> object:
    return parse_document("bedrock: {region: us-east-1}\ninference_endpoints:\n" + text, "f.yaml", **kwargs)  # type: ignore[arg-type]


def test_a_preset_fills_model_provider_and_task_type() -> None:
    (v2,) = parse("  - {id: llm, preset: general-purpose-llm-v2}").inference_endpoints  # type: ignore[attr-defined]
    assert (v2.model, v2.provider, v2.task_type, v2.preset) == (
        V2,
        "anthropic",
        "chat_completion",
        "general-purpose-llm-v2",
    )


def test_explicit_fields_override_the_preset() -> None:
    (v1,) = parse(
        "  - {id: llm, preset: general-purpose-llm-v1, task_type: completion, rate_limit: {requests_per_minute: 5}}"
    ).inference_endpoints  # type: ignore[attr-defined]
    assert (v1.model, v1.task_type, v1.rate_limit.requests_per_minute) == (PRESET_MODEL, "completion", 5)
    (other,) = parse(f"  - {{id: llm, preset: general-purpose-llm-v1, model: {V1}}}").inference_endpoints  # type: ignore[attr-defined]
    assert other.model == V1


@pytest.mark.parametrize("alias", ["Elastic Managed LLM", "elastic-managed-llm"])
def test_the_old_name_is_an_alias_of_v1(alias: str) -> None:
    (endpoint,) = parse(f"  - {{id: llm, preset: {alias}}}").inference_endpoints  # type: ignore[attr-defined]
    assert (endpoint.preset, endpoint.model) == ("general-purpose-llm-v1", PRESET_MODEL)


def test_an_unknown_preset_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    file = tmp_path / "f.yaml"
    file.write_text(
        "bedrock: {region: us-east-1}\ninference_endpoints:\n  - {id: llm, preset: general-purpose-llm-v3}\n"
    )
    result = CliRunner().invoke(cli, ["validate", "-f", str(file)])
    assert result.exit_code == 1
    assert "inference_endpoints[0]: preset: not a known preset; known presets: general-purpose-llm-v1" in result.stderr


def test_the_stack_and_the_presets_share_one_data_file() -> None:
    from infra.constants import DEFAULT_MODELS

    assert tuple(dict.fromkeys(p.model for p in load_catalog().presets)) == DEFAULT_MODELS


@pytest.mark.double_only
def test_plan_says_when_a_presets_model_changed_between_versions(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    """An endpoint created by an earlier managed-llm on Elastic's v1 model (now past EOL) moves to the successor."""
    file = write_file(tmp_path, [{"id": "llm", "preset": "general-purpose-llm-v1"}], [])
    assert run("apply", "-f", str(file)).exit_code == 0
    double.cluster.endpoints["llm"].service_settings["model"] = ELASTIC_V1  # what managed-llm 0.1.0 created
    planned = run("plan", "-f", str(file), "--output", "json")
    assert planned.exit_code == 2, planned.output
    document = json.loads(planned.stdout)
    (change,) = document["changes"]
    assert change["action"] == "replace"
    assert change["reason"].startswith(
        f"preset general-purpose-llm-v1 means {PRESET_MODEL} since managed-llm 0.2.0 (was {ELASTIC_V1}; "
        "Elastic's General Purpose LLM v1 was Claude 3.7 Sonnet, past EOL 2026-04-28)"
    )
    assert document["cluster"]["refusals"] == []  # the replace goes onto an Active model
    assert document["presets"] == [
        {
            "endpoint": "llm",
            "preset": "general-purpose-llm-v1",
            "model": PRESET_MODEL,
            "overridden": False,
            "elastic": "Elastic's General Purpose LLM v1 was Claude 3.7 Sonnet, past EOL 2026-04-28",
        }
    ]
    assert run("apply", "-f", str(file)).exit_code == 0
    assert double.cluster.endpoints["llm"].service_settings["model"] == PRESET_MODEL


@pytest.mark.double_only
def test_chat_completion_is_refused_before_any_write_on_an_older_cluster(authority: object, tmp_path: Path) -> None:
    from tests.conftest import BEDROCK_ENV

    with running_double(authority, version="9.3.2") as old:  # type: ignore[arg-type]
        run = Cli(old.env(**BEDROCK_ENV))
        file = write_file(tmp_path, [{"id": "llm", "preset": "general-purpose-llm-v2"}], [])
        planned = run("plan", "-f", str(file))
        assert planned.exit_code == 1
        refusal = (
            "inference endpoint llm: task_type chat_completion for the amazonbedrock service needs "
            "Elasticsearch 9.4.0 or later; the cluster runs 9.3.2"
        )
        assert f"refused: {refusal}" in planned.stdout
        applied = run("apply", "-f", str(file))
        assert applied.exit_code == 1
        assert applied.stderr == f"error: nothing applied: {refusal}\n"
        assert old.writes() == []
        completion = write_file(
            tmp_path, [{"id": "llm", "preset": "general-purpose-llm-v2", "task_type": "completion"}], []
        )
        assert run("apply", "-f", str(completion)).exit_code == 0


@pytest.mark.double_only
def test_a_cluster_of_another_major_version_is_refused(authority: object, tmp_path: Path) -> None:
    with running_double(authority, version="10.0.0") as future:  # type: ignore[arg-type]
        result = Cli(future.env())("plan", "-f", str(write_file(tmp_path, [], [])))
        assert result.exit_code == 1
        assert "refused: the cluster runs Elasticsearch 10.0.0; managed-llm needs 9.x" in result.stdout


@pytest.mark.double_only
def test_without_the_monitor_privilege_the_version_is_unknown_not_fatal(double: EsDouble, tmp_path: Path) -> None:
    result = Cli(double.env("reader"))(
        "plan", "-f", str(write_file(tmp_path, [{"id": "llm", "preset": "general-purpose-llm-v2"}], []))
    )
    assert result.exit_code == 2
    assert "version unknown (GET / needs the monitor privilege; version checks skipped)" in result.stdout


def test_init_writes_a_valid_starter_and_prints_the_stack_config(tmp_path: Path) -> None:
    target = tmp_path / "managed-llm.yaml"
    result = CliRunner().invoke(
        cli, ["init", "-f", str(target), "--admin-group", "cn=llm-admins,dc=example", "--user-realm", "saml1"]
    )
    assert result.exit_code == 0, result.output
    assert target.read_text().startswith("# yaml-language-server: $schema=./managed-llm.schema.json\n")
    assert (tmp_path / "managed-llm.schema.json").is_file()
    assert (
        f"    preset: general-purpose-llm-v1   # -> {PRESET_MODEL} (Claude Sonnet 4.6); "
        "Elastic's General Purpose LLM v1 was Claude 3.7 Sonnet, past EOL 2026-04-28\n"
    ) in target.read_text()
    desired = parse_document(target.read_text(), str(target))
    assert [(e.id, e.preset, e.model) for e in desired.inference_endpoints] == [
        ("general-purpose-llm-v2", "general-purpose-llm-v2", PRESET_MODEL),
        ("general-purpose-llm-v1", "general-purpose-llm-v1", PRESET_MODEL),
    ]
    assert [(m.name, m.roles, m.rules) for m in desired.role_mappings] == [
        ("llm-admins", ["inference_admin"], {"field": {"groups": "cn=llm-admins,dc=example"}}),
        ("llm-users", ["inference_user"], {"field": {"realm.name": "saml1"}}),
    ]
    assert result.stdout.splitlines()[-2:] == [
        "pulumi config set managed-llm:region us-east-1",
        f"pulumi config set --path 'managed-llm:models[0]' {PRESET_MODEL}",
    ]


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "managed-llm.yaml"
    target.write_text("mine: true\n")
    result = CliRunner().invoke(cli, ["init", "-f", str(target), "--admin-group", "cn=x"])
    assert result.exit_code == 1
    assert result.stderr == f"error: {target} exists; pass --force to overwrite\n"
    assert target.read_text() == "mine: true\n"
    forced = CliRunner().invoke(cli, ["init", "-f", str(target), "--admin-group", "cn=x", "--force"])
    assert forced.exit_code == 0
    assert "preset: general-purpose-llm-v2" in target.read_text()


def test_init_refuses_an_admin_group_that_matches_everyone(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "-f", str(tmp_path / "m.yaml"), "--admin-group", "*"])
    assert result.exit_code == 1
    assert "rules match every user and grant inference_admin" in result.stderr
    assert not (tmp_path / "m.yaml").exists()
