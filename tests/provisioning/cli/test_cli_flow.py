"""validate / plan / apply end to end: the real CLI, the official client, HTTPS, the strict double.

Each test asserts the exit code and output, then the resulting cluster state and the double's
request counters (reads per plan, zero writes when there is nothing to do).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from provisioning.core.kinds.ownership import LEDGER_NAME
from tests.conftest import BEDROCK_ENV, LIVE, V1, V2, Cli, endpoint, mapping, write_file
from tests.doubles.es_double import EsDouble


@pytest.fixture
def standard(tmp_path: Path, prefix: str) -> Path:
    return write_file(
        tmp_path,
        [
            endpoint(f"{prefix}general-purpose-llm-v2"),
            endpoint(
                f"{prefix}general-purpose-llm-v1",
                model=V1,
                task_type="completion",
                rate_limit={"requests_per_minute": 120},
                task_settings={"max_new_tokens": 512, "temperature": 0.2},
            ),
        ],
        [
            mapping(
                f"{prefix}llm-admins", ["inference_admin"], rules={"field": {"groups": "cn=llm-admins,dc=example"}}
            ),
            mapping(f"{prefix}llm-users"),
        ],
    )


@pytest.fixture(autouse=True)
def live_cleanup(run: Cli, prefix: str) -> Iterator[None]:
    """In live mode, delete what a test created (objects carry the random prefix)."""
    yield
    if not LIVE:
        return
    from provisioning.adapters.es_client import EsClient
    from provisioning.adapters.settings import ConnectionSettings

    client = EsClient(ConnectionSettings.from_environment(run.env))
    state = client.read_all()
    for body in state.endpoints:
        if str(body["inference_id"]).startswith(prefix):
            client.delete_endpoint(body["inference_id"], body["task_type"], force=True)
    for name in state.role_mappings:
        if name.startswith(prefix):
            client.delete_role_mapping(name)
    client.close()


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_validate_accepts_the_example(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from provisioning.cli.app import cli

    monkeypatch.chdir(Path(__file__).resolve().parents[3])
    result = CliRunner().invoke(cli, ["validate", "-f", "examples/managed-llm.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "examples/managed-llm.yaml: valid (2 inference endpoints, 2 role mappings)"


@pytest.mark.double_only
def test_plan_on_an_empty_cluster_lists_creates_and_exits_2(run: Cli, double: EsDouble, standard: Path) -> None:
    result = run("plan", "-f", str(standard))
    assert result.exit_code == 2, result.output
    assert last_line(result.stdout) == "Plan: 4 to create, 0 to update, 0 to replace, 0 to delete."
    assert result.stdout.startswith(f"managed-llm plan for {double.url} (Elasticsearch 9.4.0)")
    # The version (GET /), then one GET per kind.
    assert [(m, p) for m, p, _ in double.requests] == [
        ("GET", "/"),
        ("GET", "/_inference"),
        ("GET", "/_security/role_mapping"),
    ]
    assert double.writes() == []
    assert double.cluster.endpoints == {}


def test_apply_creates_everything_then_plan_is_empty(run: Cli, double: EsDouble, standard: Path, prefix: str) -> None:
    applied = run("apply", "-f", str(standard))
    assert applied.exit_code == 0, applied.output
    assert "Apply complete: 4 done, 0 failed, 0 not attempted; converged." in applied.stdout
    planned = run("plan", "-f", str(standard))
    assert planned.exit_code == 0, planned.output
    assert "No changes." in planned.stdout
    if LIVE:
        return
    stored = double.cluster.endpoints[f"{prefix}general-purpose-llm-v1"]
    assert stored.service_settings["model"] == V1
    assert stored.service_settings["rate_limit"] == {"requests_per_minute": 120}
    assert stored.service_settings["access_key"] == BEDROCK_ENV["BEDROCK_ACCESS_KEY_ID"]
    assert stored.task_settings == {"max_new_tokens": 512, "temperature": 0.2}
    assert double.cluster.endpoints[f"{prefix}general-purpose-llm-v2"].task_type == "chat_completion"
    admins = double.cluster.role_mappings[f"{prefix}llm-admins"]
    assert admins["roles"] == ["inference_admin"]
    assert admins["metadata"] == {"managed_by": "managed-llm"}
    ledger = double.cluster.role_mappings[LEDGER_NAME]
    assert ledger["enabled"] is False
    assert ledger["metadata"]["inference_endpoints"] == ["general-purpose-llm-v1", "general-purpose-llm-v2"]


@pytest.mark.double_only
def test_second_apply_makes_zero_writes_and_three_reads(run: Cli, double: EsDouble, standard: Path) -> None:
    assert run("apply", "-f", str(standard)).exit_code == 0
    double.reset_counters()
    again = run("apply", "-f", str(standard))
    assert again.exit_code == 0, again.output
    assert double.writes() == []
    assert double.count("GET") == 3
    assert "No changes." in again.stdout


@pytest.mark.double_only
def test_plan_reads_once_per_kind_whatever_the_number_of_objects(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    many = write_file(tmp_path, [endpoint(f"ep-{i}") for i in range(40)], [mapping(f"m-{i}") for i in range(40)])
    assert run("apply", "-f", str(many)).exit_code == 0
    double.reset_counters()
    assert run("plan", "-f", str(many)).exit_code == 0
    assert double.count("GET") == 3


@pytest.mark.double_only
def test_plan_makes_no_write_request_even_with_changes(
    run: Cli, double: EsDouble, standard: Path, tmp_path: Path
) -> None:
    assert run("apply", "-f", str(standard)).exit_code == 0
    double.cluster.endpoints["general-purpose-llm-v1"].service_settings["model"] = V2  # drift: needs a replace
    double.reset_counters()
    result = run("plan", "-f", str(standard), "--prune")
    assert result.exit_code == 2, result.output
    assert double.writes() == []


@pytest.mark.double_only
@pytest.mark.parametrize(
    ("drift", "action", "detail"),
    [
        (
            lambda c: c.endpoints["general-purpose-llm-v1"].task_settings.update(temperature=0.9),
            "update",
            "task_settings.temperature: 0.9 -> 0.2",
        ),
        (
            lambda c: c.endpoints["general-purpose-llm-v1"].task_settings.pop("max_new_tokens"),
            "update",
            "task_settings.max_new_tokens: (none) -> 512",
        ),
        (
            lambda c: c.endpoints["general-purpose-llm-v1"].task_settings.update(top_p=0.5),
            "replace",
            "task_settings.top_p: 0.5 -> (none)",
        ),
        (
            lambda c: c.endpoints["general-purpose-llm-v1"].service_settings.update(
                rate_limit={"requests_per_minute": 60}
            ),
            "replace",
            "service_settings.rate_limit.requests_per_minute: 60 -> 120",
        ),
        (
            lambda c: c.endpoints["general-purpose-llm-v2"].service_settings.update(model=V1),
            "replace",
            f"service_settings.model: {V1} -> {V2}",
        ),
        (lambda c: c.endpoints.pop("general-purpose-llm-v2"), "create", "service_settings.model = " + V2),
        (
            lambda c: c.role_mappings["llm-users"].update(roles=["superuser"]),
            "update",
            "roles: [superuser] -> [inference_user]",
        ),
        (lambda c: c.role_mappings["llm-users"].update(enabled=False), "update", "enabled: False -> True"),
    ],
)
def test_drift_is_detected_and_apply_converges(
    run: Cli, double: EsDouble, standard: Path, drift: Any, action: str, detail: str
) -> None:
    assert run("apply", "-f", str(standard)).exit_code == 0
    drift(double.cluster)
    planned = run("plan", "-f", str(standard))
    assert planned.exit_code == 2, planned.output
    assert f" {action} " in planned.stdout
    assert detail in planned.stdout
    applied = run("apply", "-f", str(standard))
    assert applied.exit_code == 0, applied.output
    assert run("plan", "-f", str(standard)).exit_code == 0


@pytest.mark.double_only
def test_task_settings_drift_goes_through_the_update_api(run: Cli, double: EsDouble, standard: Path) -> None:
    assert run("apply", "-f", str(standard)).exit_code == 0
    double.cluster.endpoints["general-purpose-llm-v1"].task_settings["temperature"] = 0.9
    double.reset_counters()
    assert run("apply", "-f", str(standard)).exit_code == 0
    lock = ("PUT", f"/_security/role_mapping/{LEDGER_NAME}")  # the apply lock, taken then released
    assert double.writes() == [lock, ("PUT", "/_inference/completion/general-purpose-llm-v1/_update"), lock]


@pytest.mark.double_only
def test_replace_deletes_then_creates(run: Cli, double: EsDouble, standard: Path) -> None:
    assert run("apply", "-f", str(standard)).exit_code == 0
    double.cluster.endpoints["general-purpose-llm-v2"].service_settings["model"] = V1
    double.reset_counters()
    assert run("apply", "-f", str(standard)).exit_code == 0
    lock = ("PUT", f"/_security/role_mapping/{LEDGER_NAME}")  # the apply lock, taken then released
    assert double.writes() == [
        lock,
        ("DELETE", "/_inference/chat_completion/general-purpose-llm-v2"),
        ("PUT", "/_inference/chat_completion/general-purpose-llm-v2"),
        lock,
    ]
    assert double.cluster.endpoints["general-purpose-llm-v2"].service_settings["model"] == V2


@pytest.mark.double_only
def test_json_plan_is_a_stable_document(run: Cli, double: EsDouble, standard: Path) -> None:
    result = run("plan", "-f", str(standard), "--output", "json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert set(document) == {
        "format_version",
        "tool",
        "target",
        "cluster",
        "options",
        "summary",
        "changes",
        "kept_without_prune",
        "kibana_connectors",
        "ownership_ledger",
        "lifecycle",
        "presets",
        "deployment",
        "exit_code",
    }
    assert document["format_version"] == 1
    assert document["summary"] == {"create": 4, "update": 0, "replace": 0, "delete": 0, "conflict": 0, "blocked": 0}
    assert document["exit_code"] == 2
    assert document["target"] == double.url
    assert document["cluster"] == {"version": "9.4.0", "refusals": []}
    first = document["changes"][0]
    assert set(first) == {"kind", "id", "action", "reason", "fields", "references", "blocked"}
    assert (first["kind"], first["id"], first["action"]) == ("inference_endpoint", "general-purpose-llm-v1", "create")
    assert {"path": "service_settings.model", "before": None, "after": V1} in first["fields"]
    assert document["ownership_ledger"]["after"] == ["general-purpose-llm-v1", "general-purpose-llm-v2"]


@pytest.mark.double_only
def test_json_apply_reports_each_change(run: Cli, double: EsDouble, standard: Path) -> None:
    result = run("apply", "-f", str(standard), "--output", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["apply"]["converged"] is True
    assert [r["status"] for r in document["apply"]["results"]] == ["done"] * 4
    assert document["plan"]["summary"]["create"] == 4


@pytest.mark.double_only
def test_schema_matches_the_committed_file() -> None:
    from click.testing import CliRunner

    from provisioning.cli.app import cli

    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    committed = Path(__file__).resolve().parents[3] / "schema" / "managed-llm.schema.json"
    assert json.loads(result.stdout) == json.loads(committed.read_text()), (
        "run: managed-llm schema > schema/managed-llm.schema.json"
    )
    assert json.loads(result.stdout)["additionalProperties"] is False
