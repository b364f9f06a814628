"""Each step of `apply_plan` on its own (issue 12): refusals, credentials, privileges, claims, write phases,
the re-read that settles the ledger, the final plan. The whole path runs in test_ledger_safety.py and
test_cli_safety.py; these pin each step's contract so a change to one shows which rule it broke.

The cluster here is an in-memory `ClusterWriter` (endpoints and role mappings in dicts), and the lock is the
real `ApplyLock` on it: nothing of the core is mocked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from provisioning.adapters.credentials import BedrockCredentials
from provisioning.core.apply import (
    REQUIRED_PRIVILEGES,
    ChangeResult,
    Claims,
    Status,
    Stop,
    _Run,
    _Silent,
    check_privileges,
    claim,
    final_plan,
    gone_claims,
    in_plan_order,
    initial_claims,
    needs_credentials,
    refuse_if_stopped,
    refuse_unappliable,
    reread_and_settle_ledger,
    resolve_credentials_if_needed,
    write_phases,
)
from provisioning.core.diff import Action, Change, Diff, References
from provisioning.core.errors import PlanError, PrivilegeError
from provisioning.core.kinds import inference_endpoints as endpoints
from provisioning.core.kinds import kibana_connectors
from provisioning.core.kinds import role_mappings as mappings
from provisioning.core.kinds.ownership import LEDGER_NAME, Claim, Lease, ledger_body, read_ledger
from provisioning.core.lock import ApplyLock, LockLost
from provisioning.core.model import DesiredState
from provisioning.core.plan import Plan
from provisioning.core.planning import ClusterState
from provisioning.render.json import plan_document
from tests.conftest import V2, endpoint

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
KEYS = BedrockCredentials(SecretStr("AKIAAPPLYSTEPSTEST01"), SecretStr("apply-steps-secret"), "test")
DESIRED = DesiredState.model_validate(
    {"bedrock": {"region": "us-east-1"}, "inference_endpoints": [endpoint("e1"), endpoint("e2"), endpoint("e3")]}
)
SPECS = {e.id: endpoints.desired(e, "us-east-1") for e in DESIRED.inference_endpoints}


def change(action: Action, endpoint_id: str = "e1", kind: str = endpoints.KIND, **extra: Any) -> Change:
    spec = SPECS.get(endpoint_id)
    desired = spec if action is not Action.DELETE else None
    actual = spec if action in (Action.DELETE, Action.REPLACE, Action.UPDATE) else None
    return Change(kind, endpoint_id, action, "test", desired=desired, actual=actual, **extra)


def plan_of(*changes: Change, **diff: frozenset[str]) -> Plan:
    return Plan(target="https://es.test", diff=Diff(changes=changes, **diff))


class Cluster:
    """Endpoints and role mappings in memory; `fail` ids raise on write; every write is logged in order."""

    def __init__(self, *ids: str, missing: Sequence[str] = (), fail: Sequence[str] = ()) -> None:
        self.endpoints: dict[str, Mapping[str, Any]] = {i: {"inference_id": i} for i in ids}
        self.mappings: dict[str, Mapping[str, Any]] = {}
        self.missing, self.fail = list(missing), set(fail)
        self.log: list[tuple[str, str]] = []

    def version(self) -> str | None:
        return None

    def read_all(self) -> ClusterState:
        return ClusterState(tuple(self.endpoints.values()), dict(self.mappings))

    def references(self, endpoint_id: str, task_type: str) -> References:
        return References(known=False)

    def missing_privileges(self, privileges: Sequence[str]) -> list[str]:
        assert tuple(privileges) == REQUIRED_PRIVILEGES
        return self.missing

    def get_endpoint(self, endpoint_id: str) -> Mapping[str, Any] | None:
        return self.endpoints.get(endpoint_id)

    def get_role_mapping(self, name: str) -> Mapping[str, Any] | None:
        return self.mappings.get(name)

    def _write(self, verb: str, name: str) -> None:
        self.log.append((verb, name))
        if name in self.fail:
            raise PlanError(f"{verb} {name} failed")

    def create_endpoint(self, spec: endpoints.EndpointSpec, credentials: BedrockCredentials) -> None:
        self._write("create", spec.id)
        self.endpoints[spec.id] = {"inference_id": spec.id}

    def update_endpoint(self, spec: endpoints.EndpointSpec) -> None:
        self._write("update", spec.id)

    def delete_endpoint(self, endpoint_id: str, task_type: str, *, force: bool) -> None:
        self._write("delete", endpoint_id)
        self.endpoints.pop(endpoint_id, None)

    def put_role_mapping(self, name: str, body: Mapping[str, Any]) -> None:
        if name != LEDGER_NAME:
            self._write("put", name)
        self.mappings[name] = json.loads(json.dumps(body))

    def delete_role_mapping(self, name: str) -> None:
        self._write("delete", name)


def lock_on(cluster: Cluster) -> ApplyLock:
    return ApplyLock(cluster, holder="test", ttl=60, settle=0, clock=lambda: NOW, sleep=lambda _: None)


# ---------------------------------------------------------------------------- before any write


def test_refuse_unappliable_lets_a_clean_plan_through() -> None:
    refuse_unappliable(plan_of(change(Action.CREATE)))


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (Plan("t", Diff(()), refusals=("cluster 8.14 lacks x", "second")), "nothing applied: cluster 8.14 lacks x"),
        (plan_of(change(Action.CREATE), change(Action.CONFLICT, "e2")), "nothing applied: inference_endpoint e2: test"),
        (
            plan_of(change(Action.DELETE, "e3", blocked="used by index logs")),
            "nothing applied: inference_endpoint e3: used by index logs",
        ),
    ],
)
def test_refuse_unappliable_names_the_first_reason(plan: Plan, message: str) -> None:
    with pytest.raises(PlanError, match=f"^{message}$"):
        refuse_unappliable(plan)


def test_refuse_unappliable_refuses_a_foreign_kibana_connector() -> None:
    spec = kibana_connectors.ConnectorSpec("c1", "c1", "chat_completion", "e1", "{}")
    foreign = kibana_connectors.ConnectorStatus(spec, kibana_connectors.State.FOREIGN, "made in Kibana")
    pending = kibana_connectors.ConnectorStatus(spec, kibana_connectors.State.PENDING, "later")
    refuse_unappliable(Plan("t", Diff(()), kibana=(pending,)))
    with pytest.raises(PlanError, match=r"^nothing applied: kibana connector c1: made in Kibana$"):
        refuse_unappliable(Plan("t", Diff(()), kibana=(pending, foreign)))


@pytest.mark.parametrize(
    ("write", "needed"),
    [
        (change(Action.CREATE), True),
        (change(Action.REPLACE), True),
        (change(Action.UPDATE), False),
        (change(Action.DELETE), False),
        (Change(mappings.KIND, "m", Action.CREATE, "test"), False),
    ],
)
def test_credentials_are_resolved_only_for_an_endpoint_create_or_replace(write: Change, needed: bool) -> None:
    calls: list[int] = []

    def resolve() -> BedrockCredentials:
        calls.append(1)
        return KEYS

    plan = plan_of(write)
    assert needs_credentials(plan) is needed
    assert resolve_credentials_if_needed(plan, resolve) == (KEYS if needed else None)
    assert len(calls) == int(needed)


def test_check_privileges_names_every_missing_privilege() -> None:
    check_privileges(Cluster())
    with pytest.raises(PrivilegeError, match=r"^nothing applied: .* privilege\(s\) manage_inference, manage_security$"):
        check_privileges(Cluster(missing=["manage_inference", "manage_security"]))


def test_refuse_if_stopped_names_the_signal() -> None:
    stop = Stop()
    refuse_if_stopped(stop)
    stop.set("SIGTERM")
    stop.set("SIGINT")  # the first reason is kept
    with pytest.raises(PlanError, match=r"^nothing applied: interrupted by SIGTERM$"):
        refuse_if_stopped(stop)


# ---------------------------------------------------------------------------- the claim


def test_initial_claims_put_every_endpoint_write_pending_and_drop_only_what_the_plan_drops() -> None:
    plan = plan_of(
        change(Action.CREATE, "new"),
        change(Action.REPLACE, "swapped"),
        change(Action.DELETE, "pruned"),
        change(Action.UPDATE, "tuned"),
        Change(mappings.KIND, "m", Action.CREATE, "test"),
        ledger_before=frozenset({"swapped", "pruned", "tuned", "gone"}),
        ledger_after=frozenset({"new", "swapped", "tuned", "adopted", "stood"}),
        pending_before=frozenset({"stood", "dropped"}),
    )
    assert initial_claims(plan) == Claims(
        confirmed=frozenset({"adopted", "stood"}),
        pending=frozenset({"new", "swapped", "pruned"}),
        # A delete stays pending until its answer comes; an update is confirmed already.
        removed=frozenset({"gone", "dropped"}),
    )


def test_claim_writes_the_lease_and_the_claims_in_one_ledger_write() -> None:
    cluster = Cluster("tuned")
    cluster.mappings[LEDGER_NAME] = ledger_body(["tuned", "gone"])
    plan = plan_of(
        change(Action.CREATE, "new"),
        ledger_before=frozenset({"tuned", "gone"}),
        ledger_after=frozenset({"tuned", "new"}),
    )
    lock, stop = lock_on(cluster), Stop()
    claim(plan, lock, break_lock=False, stop=stop)
    ledger = read_ledger(cluster.mappings)
    assert (ledger.confirmed, ledger.pending, lock.writes) == ({"tuned"}, {"new"}, 1)
    assert ledger.lease is not None
    assert ledger.lease.holder == "test"
    lock.release_quietly()
    assert not stop.is_set()


def test_claim_refuses_a_ledger_that_changed_since_the_plan() -> None:
    cluster = Cluster()
    cluster.mappings[LEDGER_NAME] = ledger_body(["theirs"])
    with pytest.raises(PlanError, match=r"^nothing applied: the ownership ledger changed after the plan was read"):
        claim(plan_of(change(Action.CREATE, "new")), lock_on(cluster), break_lock=False, stop=Stop())
    assert read_ledger(cluster.mappings).confirmed == {"theirs"}


# ---------------------------------------------------------------------------- the writes


def run_on(cluster: Cluster, plan: Plan, stop: Stop | None = None) -> tuple[_Run, list[ChangeResult]]:
    settled: list[ChangeResult] = []
    return _Run(plan, cluster, KEYS, _Silent(), stop or Stop(), settled.append), settled


def test_write_phases_run_deletes_after_every_other_write() -> None:
    cluster = Cluster("e3", "e2")
    writes = (change(Action.DELETE, "e3"), change(Action.CREATE, "e1"), change(Action.UPDATE, "e2"))
    run, settled = run_on(cluster, plan_of(*writes))
    results = write_phases(run, writes, concurrency=1)
    assert cluster.log == [("create", "e1"), ("update", "e2"), ("delete", "e3")]
    assert [r.status for r in results] == [Status.DONE] * 3
    assert settled == results


def test_write_phases_attempt_no_delete_after_a_failure() -> None:
    cluster = Cluster("e3", fail=["e1"])
    writes = (change(Action.CREATE, "e1"), change(Action.CREATE, "e2"), change(Action.DELETE, "e3"))
    run, settled = run_on(cluster, plan_of(*writes))
    results = write_phases(run, writes, concurrency=1)
    assert cluster.log == [("create", "e1")]
    assert [(r.change.id, r.status) for r in results] == [
        ("e1", Status.FAILED),
        ("e2", Status.NOT_ATTEMPTED),
        ("e3", Status.NOT_ATTEMPTED),
    ]
    assert results[0].error == "create e1 failed"
    assert "e3" in cluster.endpoints
    assert len(settled) == 3


def test_write_phases_start_nothing_once_stopped() -> None:
    cluster = Cluster("e3")
    stop = Stop()
    stop.set("SIGINT")
    writes = (change(Action.CREATE, "e1"), change(Action.DELETE, "e3"))
    run, _ = run_on(cluster, plan_of(*writes), stop)
    assert [r.status for r in write_phases(run, writes, concurrency=2)] == [Status.NOT_ATTEMPTED] * 2
    assert cluster.log == []


def test_in_plan_order_sorts_results_by_the_plan_whatever_order_they_answered_in() -> None:
    writes = (change(Action.CREATE, "e1"), change(Action.CREATE, "e2"), change(Action.DELETE, "e3"))
    answered = [ChangeResult(writes[2], Status.DONE), ChangeResult(writes[0], Status.FAILED)]
    answered.append(ChangeResult(writes[1], Status.NOT_ATTEMPTED))
    assert [r.change.id for r in in_plan_order(answered, writes)] == ["e1", "e2", "e3"]


# ---------------------------------------------------------------------------- after the writes


def test_gone_claims_are_the_claimed_ids_the_reread_no_longer_shows() -> None:
    claims = {"kept": Claim.CONFIRMED, "lost": Claim.PENDING, "deleted": Claim.ABSENT, "vanished": Claim.CONFIRMED}
    assert gone_claims(claims, {"kept", "other"}) == {"lost", "vanished"}


def test_reread_and_settle_ledger_releases_the_lock_and_drops_ids_that_no_longer_exist() -> None:
    cluster = Cluster("made")
    lock = lock_on(cluster)
    claim(plan_of(change(Action.CREATE, "made"), change(Action.CREATE, "lost")), lock, break_lock=False, stop=Stop())
    lock.note(confirmed=frozenset({"made"}))
    state = reread_and_settle_ledger(cluster, lock)
    ledger = read_ledger(cluster.mappings)
    assert (ledger.confirmed, ledger.pending, ledger.lease) == ({"made"}, set(), None)
    assert lock.writes == 2
    assert not lock.held
    # The state handed to the final plan carries the ledger as written, without the lease.
    assert read_ledger(state.role_mappings) == ledger
    assert [b["inference_id"] for b in state.endpoints] == ["made"]


def test_reread_and_settle_ledger_reports_a_lease_taken_over_and_keeps_its_claims_pending() -> None:
    cluster = Cluster("made")
    lock = lock_on(cluster)
    claim(plan_of(change(Action.CREATE, "made")), lock, break_lock=False, stop=Stop())
    lock.note(confirmed=frozenset({"made"}))
    theirs = Lease("other", "their-token", NOW, NOW)
    cluster.mappings[LEDGER_NAME] = ledger_body([], [], theirs)
    with pytest.raises(LockLost, match=r"taken over by another apply \(other"):
        reread_and_settle_ledger(cluster, lock)
    assert read_ledger(cluster.mappings).pending == {"made"}


class Kibana:
    def __init__(self) -> None:
        self.reads = 0

    def connectors(self) -> list[Mapping[str, Any]]:
        self.reads += 1
        return []


def test_final_plan_is_empty_once_the_cluster_matches_and_reads_kibana_only_when_the_file_uses_it() -> None:
    desired = DesiredState.model_validate({"bedrock": {"region": "us-east-1"}, "inference_endpoints": []})
    kibana = Kibana()
    settled = final_plan(plan_of(), desired, ClusterState((), {LEDGER_NAME: ledger_body([])}), kibana)
    assert not settled.has_changes
    assert kibana.reads == 0
    left = final_plan(plan_of(), DESIRED, ClusterState((), {LEDGER_NAME: ledger_body([])}), None)
    assert [(c.id, c.action) for c in left.changes] == [(i, Action.CREATE) for i in ("e1", "e2", "e3")]
    assert left.changes[0].desired == SPECS["e1"]
    assert V2 in json.dumps(plan_document(left))
