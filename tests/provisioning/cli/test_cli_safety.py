"""Ownership, prune, conflicts, adoption, endpoints in use, privileges: nothing is touched that is not ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioning.core.kinds.ownership import LEDGER_NAME
from tests.conftest import V1, V2, Cli, endpoint, mapping, write_file
from tests.doubles.es_double import EsDouble

pytestmark = pytest.mark.double_only


def foreign_endpoint(double: EsDouble, endpoint_id: str, model: str = V2) -> None:
    """An endpoint someone else created directly in the cluster (not in the ledger)."""
    from provisioning.sandbox import Request

    settings = {
        "access_key": "other-team-key",
        "secret_key": "other-team-secret",
        "region": "us-east-1",
        "model": model,
        "provider": "anthropic",
    }
    body = json.dumps({"service": "amazonbedrock", "service_settings": settings})
    admin = next(iter(double.cluster.principals))
    response = double.cluster.handle(
        Request(
            "PUT", f"/_inference/chat_completion/{endpoint_id}", headers={"authorization": admin}, body=body.encode()
        )
    )
    assert response.status == 200, response.body


def two_endpoints(tmp_path: Path) -> Path:
    return write_file(tmp_path, [endpoint("keep-me"), endpoint("drop-me")], [mapping("users"), mapping("old-users")])


def test_without_prune_nothing_is_deleted_and_plan_says_so(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    assert run("apply", "-f", str(two_endpoints(tmp_path))).exit_code == 0
    smaller = write_file(tmp_path, [endpoint("keep-me")], [mapping("users")])
    planned = run("plan", "-f", str(smaller))
    assert planned.exit_code == 0, planned.output
    assert "kept: inference_endpoint drop-me is managed by managed-llm and not in the file" in planned.stdout
    assert "kept: role_mapping old-users" in planned.stdout
    double.reset_counters()
    assert run("apply", "-f", str(smaller)).exit_code == 0
    assert double.writes() == []
    assert "drop-me" in double.cluster.endpoints
    assert "old-users" in double.cluster.role_mappings


def test_prune_deletes_only_owned_objects_absent_from_the_file(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    assert run("apply", "-f", str(two_endpoints(tmp_path))).exit_code == 0
    foreign_endpoint(double, "other-team-llm")
    double.cluster.role_mappings["other-team-mapping"] = {
        "enabled": True,
        "roles": ["inference_admin"],
        "rules": {"field": {"username": "bob"}},
        "metadata": {},
    }
    double.cluster.operator_mappings["file-defined"] = {
        "enabled": True,
        "roles": ["x"],
        "rules": {"field": {"username": "y"}},
    }
    smaller = write_file(tmp_path, [endpoint("keep-me")], [mapping("users")])
    planned = run("plan", "-f", str(smaller), "--prune")
    assert planned.exit_code == 2, planned.output
    assert planned.stdout.strip().endswith("Plan: 0 to create, 0 to update, 0 to replace, 2 to delete.")
    pruned = run("apply", "-f", str(smaller), "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert set(double.cluster.endpoints) == {"keep-me", "other-team-llm"}
    assert set(double.cluster.preconfigured) == {
        ".elser-2-elasticsearch",
        ".multilingual-e5-small-elasticsearch",
        ".rerank-v1-elasticsearch",
    }
    assert set(double.cluster.role_mappings) == {"users", "other-team-mapping", LEDGER_NAME}
    assert double.cluster.operator_mappings["file-defined"]["roles"] == ["x"]
    assert double.cluster.role_mappings[LEDGER_NAME]["metadata"]["inference_endpoints"] == ["keep-me"]
    assert run("plan", "-f", str(smaller), "--prune").exit_code == 0


def test_prune_with_an_empty_file_never_touches_what_is_not_ours(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    foreign_endpoint(double, "other-team-llm")
    empty = write_file(tmp_path, [], [])
    assert run("plan", "-f", str(empty), "--prune").exit_code == 0
    double.reset_counters()
    assert run("apply", "-f", str(empty), "--prune").exit_code == 0
    assert double.writes() == []
    assert "other-team-llm" in double.cluster.endpoints


def test_an_existing_object_we_do_not_own_is_a_conflict(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    foreign_endpoint(double, "shared-llm", model=V1)
    file = write_file(tmp_path, [endpoint("shared-llm")], [])
    planned = run("plan", "-f", str(file))
    assert planned.exit_code == 1, planned.output
    assert "conflict" in planned.stdout
    assert "exists but is not managed by managed-llm (use --adopt)" in planned.stdout
    double.reset_counters()
    applied = run("apply", "-f", str(file))
    assert applied.exit_code == 1
    assert applied.stderr.strip().startswith("error: nothing applied: inference_endpoint shared-llm")
    assert double.writes() == []
    assert double.cluster.endpoints["shared-llm"].service_settings["model"] == V1


def test_adopt_takes_over_and_converges(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    foreign_endpoint(double, "shared-llm", model=V1)
    double.cluster.role_mappings["users"] = {
        "enabled": True,
        "roles": ["inference_user"],
        "rules": {"field": {"realm.name": "saml1"}},
        "metadata": {},
    }
    file = write_file(tmp_path, [endpoint("shared-llm")], [mapping("users")])
    assert run("plan", "-f", str(file), "--adopt").exit_code == 2
    adopted = run("apply", "-f", str(file), "--adopt")
    assert adopted.exit_code == 0, adopted.output
    assert double.cluster.endpoints["shared-llm"].service_settings["model"] == V2
    assert double.cluster.role_mappings["users"]["metadata"] == {"managed_by": "managed-llm"}
    assert run("plan", "-f", str(file)).exit_code == 0


def test_replacing_an_endpoint_in_use_is_blocked_without_force(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    file = write_file(tmp_path, [endpoint("llm")], [])
    assert run("apply", "-f", str(file)).exit_code == 0
    double.cluster.references["llm"] = (["chat-pipeline"], ["support-docs"])
    changed = write_file(tmp_path, [endpoint("llm", model=V1)], [])
    planned = run("plan", "-f", str(changed))
    assert planned.exit_code == 1, planned.output
    assert "used by pipelines ['chat-pipeline'], indexes ['support-docs']" in planned.stdout
    assert (
        "BLOCKED: in use by pipelines [chat-pipeline] and indexes [support-docs]; pass --force-replace"
        in planned.stdout
    )
    double.reset_counters()
    blocked = run("apply", "-f", str(changed))
    assert blocked.exit_code == 1
    assert "error: nothing applied: inference_endpoint llm: in use by" in blocked.stderr
    assert double.writes() == []
    forced = run("apply", "-f", str(changed), "--force-replace")
    assert forced.exit_code == 0, forced.output
    assert ("DELETE", "/_inference/chat_completion/llm") in double.writes()
    assert double.cluster.endpoints["llm"].service_settings["model"] == V1


def test_pruning_an_endpoint_in_use_is_blocked_without_force(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    assert run("apply", "-f", str(write_file(tmp_path, [endpoint("llm")], []))).exit_code == 0
    double.cluster.references["llm"] = ([], ["support-docs"])
    empty = write_file(tmp_path, [], [])
    assert run("plan", "-f", str(empty), "--prune").exit_code == 1
    assert run("apply", "-f", str(empty), "--prune").exit_code == 1
    assert "llm" in double.cluster.endpoints


@pytest.mark.parametrize(
    ("caller", "missing"), [("no-security", "manage_security"), ("reader", "manage_inference, manage_security")]
)
def test_apply_without_privileges_writes_nothing(double: EsDouble, tmp_path: Path, caller: str, missing: str) -> None:
    from tests.conftest import BEDROCK_ENV

    run = Cli(double.env(caller, **BEDROCK_ENV))
    file = write_file(tmp_path, [endpoint("llm")], [mapping("users")])
    result = run("apply", "-f", str(file))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: nothing applied: the caller lacks the cluster privilege(s) {missing}"
    assert double.writes() == []


def test_a_reader_can_plan(double: EsDouble, tmp_path: Path) -> None:
    run = Cli(double.env("reader"))
    result = run("plan", "-f", str(write_file(tmp_path, [endpoint("llm")], [mapping("users")])))
    assert result.exit_code == 2, result.output


def test_stale_ledger_entries_are_shown_and_cleaned(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    file = write_file(tmp_path, [endpoint("llm")], [])
    assert run("apply", "-f", str(file)).exit_code == 0
    double.cluster.endpoints.pop("llm")
    empty = write_file(tmp_path, [], [])
    planned = run("plan", "-f", str(empty))
    assert planned.exit_code == 2
    assert "ownership ledger: forget llm (no longer in the cluster)" in planned.stdout
    assert run("apply", "-f", str(empty)).exit_code == 0
    assert double.cluster.role_mappings[LEDGER_NAME]["metadata"]["inference_endpoints"] == []
    # Someone later creates an endpoint with that id: it is theirs, not ours.
    foreign_endpoint(double, "llm")
    assert run("apply", "-f", str(empty), "--prune").exit_code == 0
    assert "llm" in double.cluster.endpoints


def test_a_caller_that_cannot_read_role_mappings_gets_one_clear_line(double: EsDouble, tmp_path: Path) -> None:
    run = Cli(double.env("inference-only"))
    result = run("plan", "-f", str(write_file(tmp_path, [endpoint("llm")], [])))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: read role mappings: permission denied (HTTP 403): action [")
    assert "read_security" in result.stderr


def test_ownership_is_claimed_before_the_endpoint_is_created(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    file = write_file(tmp_path, [endpoint("llm")], [])
    double.fail("GET", r"^/_inference$", 503, times=100, skip=1)  # the re-read after the writes fails
    result = run("apply", "-f", str(file))
    assert result.exit_code == 1
    assert "llm" in double.cluster.endpoints
    assert double.cluster.role_mappings[LEDGER_NAME]["metadata"]["inference_endpoints"] == ["llm"]
    double.faults.clear()
    assert run("plan", "-f", str(file)).exit_code == 0


def test_a_ledger_not_written_by_us_grants_no_ownership(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    foreign_endpoint(double, "llm")
    double.cluster.role_mappings[LEDGER_NAME] = {
        "enabled": False,
        "roles": ["x"],
        "rules": {"field": {"username": "x"}},
        "metadata": {"inference_endpoints": ["llm"]},
    }
    planned = run("plan", "-f", str(write_file(tmp_path, [endpoint("llm", model=V1)], [])))
    assert planned.exit_code == 1
    assert "refused: role mapping managed-llm-ownership exists and was not written by managed-llm" in planned.stdout
    double.reset_counters()
    pruned = run("apply", "-f", str(write_file(tmp_path, [], [])), "--prune")
    assert pruned.exit_code == 1
    assert pruned.stderr.startswith("error: nothing applied: role mapping managed-llm-ownership exists")
    assert double.writes() == []
    assert "llm" in double.cluster.endpoints
    assert double.cluster.role_mappings[LEDGER_NAME]["roles"] == ["x"]


def test_an_id_taken_between_plan_and_apply_is_not_overwritten(double: EsDouble, tmp_path: Path) -> None:
    from provisioning.adapters.credentials import resolve
    from provisioning.adapters.file_loader import load_file
    from provisioning.adapters.settings import ConnectionSettings
    from provisioning.core.apply import Status, apply_plan
    from provisioning.core.plan import PlanOptions
    from provisioning.core.planning import make_plan
    from tests.conftest import BEDROCK_ENV, fast_connect

    desired = load_file(write_file(tmp_path, [endpoint("llm")], []))
    client = fast_connect(ConnectionSettings.from_environment(double.env()))
    plan = make_plan(desired, client, PlanOptions(), double.url)
    foreign_endpoint(double, "llm", model=V1)  # someone else wins the race
    report = apply_plan(plan, desired, client, lambda: resolve(desired, BEDROCK_ENV))
    client.close()
    (result,) = report.results
    assert result.status is Status.FAILED
    assert "already exists" in (result.error or "")
    assert double.cluster.endpoints["llm"].service_settings["model"] == V1
    # The failed create does not make the other party's endpoint ours: the next plan is a conflict.
    assert double.cluster.role_mappings[LEDGER_NAME]["metadata"]["inference_endpoints"] == []
    assert Cli(double.env(**BEDROCK_ENV))("plan", "-f", str(tmp_path / "managed-llm.yaml")).exit_code == 1


def test_preconfigured_ids_in_a_ledger_are_never_owned(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    from provisioning.core.kinds.ownership import ledger_body

    double.cluster.role_mappings[LEDGER_NAME] = ledger_body([".elser-2-elasticsearch"])
    empty = write_file(tmp_path, [], [])
    assert run("plan", "-f", str(empty), "--prune").exit_code == 0
    double.reset_counters()
    assert run("apply", "-f", str(empty), "--prune").exit_code == 0
    assert double.writes() == []
    assert ".elser-2-elasticsearch" in double.cluster.preconfigured


def test_elasticsearch_warnings_become_one_line_each(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    double.cluster.operator_mappings["llm-users"] = {
        "enabled": True,
        "roles": ["x"],
        "rules": {"field": {"username": "y"}},
    }
    file = write_file(tmp_path, [endpoint(f"llm-{i}") for i in range(6)], [mapping("llm-users")])
    result = run("apply", "-f", str(file))
    assert result.exit_code == 0, result.output
    warning_lines = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warning_lines == [
        'warning: 299 Elasticsearch-9.4.0 "A read-only role mapping with the same name [llm-users] has been '
        "previously defined in a configuration file. Both role mappings will be used to determine role "
        'assignments."'
    ]
    assert "ElasticsearchWarning" not in result.stderr
