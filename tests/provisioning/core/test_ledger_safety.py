"""The ownership ledger survives kills and races (issue 10, items 15 and 16).

Kill tests run `managed-llm apply` as a real process against the double, slow each create down with the
stand-in's simulated Bedrock validation call, and signal it mid-apply; in-process ones stop it at an exact
point (after a prune's delete, between a replace's delete and its create) by raising from the client.
Unit tests cover the pure pieces: which pending claims stand, lease expiry, merging claims, the lock
against a store that loses races, fails a read or fails in the renewal thread.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from provisioning.adapters.es_client import EsClient
from provisioning.core.diff import Action, diff, resolve_pending
from provisioning.core.errors import ClusterError, ManagedLlmError
from provisioning.core.kinds import inference_endpoints as endpoints
from provisioning.core.kinds.ownership import (
    LEDGER_NAME,
    PENDING_KEY,
    Claim,
    Lease,
    Ledger,
    ledger_body,
    merge_claims,
    read_ledger,
)
from provisioning.core.lock import ApplyLock, LockHeld, LockLost, held_message
from provisioning.core.model import DesiredState
from tests.conftest import BEDROCK_ENV, V1, V2, Cli, endpoint, write_file
from tests.doubles.es_double import EsDouble
from tests.provisioning.cli.test_cli_safety import foreign_endpoint

ROOT = Path(__file__).resolve().parents[3]
WAIT = 60.0  # a guard against a hung process, not a timing assertion
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

# ---------------------------------------------------------------------------- pure pieces


def _specs(**models: str) -> dict[str, endpoints.EndpointSpec]:
    desired = DesiredState.model_validate(
        {
            "bedrock": {"region": "us-east-1"},
            "inference_endpoints": [endpoint(i, model=m) for i, m in models.items()],
        }
    )
    return {e.id: endpoints.desired(e, "us-east-1") for e in desired.inference_endpoints}


def test_a_pending_claim_stands_only_when_the_endpoint_equals_the_file() -> None:
    desired = _specs(same=V2, other=V2, absent=V2)
    actual = {**_specs(same=V2, dropped=V2), **_specs(other=V1)}
    pending = frozenset({"same", "other", "absent", "dropped"})
    assert resolve_pending(pending, desired, actual) == {"same"}


def _diff(pending: frozenset[str], desired: Mapping[str, Any], actual: Mapping[str, Any], prune: bool) -> Any:
    from provisioning.core.diff import DiffOptions

    return diff(
        desired_endpoints=desired,
        actual_endpoints=actual,
        owned_endpoints=frozenset(),
        pending_endpoints=pending,
        desired_mappings={},
        actual_mappings={},
        owned_mappings=frozenset(),
        options=DiffOptions(prune=prune),
    )


def test_a_pending_claim_on_a_different_endpoint_is_a_conflict_and_never_pruned() -> None:
    planned = _diff(frozenset({"llm"}), _specs(llm=V2), _specs(llm=V1), prune=False)
    assert [(c.id, c.action) for c in planned.changes] == [("llm", Action.CONFLICT)]
    pruned = _diff(frozenset({"llm"}), {}, _specs(llm=V1), prune=True)
    assert pruned.changes == ()
    assert "llm" not in pruned.ledger_after


def test_a_pending_claim_on_the_endpoint_asked_for_is_confirmed() -> None:
    planned = _diff(frozenset({"llm"}), _specs(llm=V2), _specs(llm=V2), prune=False)
    assert planned.changes == ()
    assert planned.pending_confirmed == {"llm"}
    assert planned.ledger_after == {"llm"}


def test_a_ledger_from_the_previous_version_holds_confirmed_ids_only() -> None:
    old = ledger_body(["a", "b"])
    assert PENDING_KEY not in old["metadata"]
    ledger = read_ledger({LEDGER_NAME: old})
    assert (ledger.confirmed, ledger.pending, ledger.lease) == ({"a", "b"}, frozenset(), None)


@pytest.mark.parametrize(
    "metadata",
    [None, "x", {}, {"holder": "h", "token": "t", "started": "yesterday", "expires": "2999-01-01T00:00:00Z"}],
)
def test_a_malformed_lease_reads_as_expired(metadata: object) -> None:
    lease = Lease.from_metadata(metadata)
    assert lease.expired(NOW)
    assert held_message(lease, NOW) is None


def test_a_lease_is_held_until_it_expires() -> None:
    lease = Lease("ci-7 pid 1", "t", NOW, NOW + timedelta(seconds=300))
    assert Lease.from_metadata(lease.to_metadata()) == lease
    assert held_message(lease, NOW + timedelta(seconds=299)) == (
        "another apply (ci-7 pid 1, started 2026-01-01T12:00:00Z) holds the lock; retry or wait"
    )
    assert held_message(lease, NOW + timedelta(seconds=300)) is None


class Store:
    """Role mappings in memory; `interleave` runs once, right after our next PUT (another writer's PUT)."""

    def __init__(self) -> None:
        self.mappings: dict[str, Mapping[str, Any]] = {}
        self.interleave: Callable[[], None] | None = None

    def get_role_mapping(self, name: str) -> Mapping[str, Any] | None:
        return self.mappings.get(name)

    def put_role_mapping(self, name: str, body: Mapping[str, Any]) -> None:
        self.mappings[name] = json.loads(json.dumps(body))
        if self.interleave is not None:
            other, self.interleave = self.interleave, None
            other()


def _lock(store: Store, holder: str, now: datetime = NOW) -> ApplyLock:
    return ApplyLock(store, holder=holder, ttl=60, settle=0, clock=lambda: now, sleep=lambda _: None)


def test_a_second_lock_fails_fast_and_an_expired_one_needs_break_lock() -> None:
    store = Store()
    first = _lock(store, "first")
    empty = read_ledger({})
    first.acquire(empty, frozenset(), frozenset({"a"}))
    with pytest.raises(LockHeld, match=r"^another apply \(first, started 2026-01-01T12:00:00Z\) holds the lock"):
        _lock(store, "second").acquire(empty, frozenset(), frozenset({"b"}))
    assert read_ledger(store.mappings).pending == {"a"}
    # `first` crashed: a minute later its lease has expired, and only --break-lock takes it over.
    later = NOW + timedelta(seconds=61)
    with pytest.raises(LockHeld, match=r"expired at 2026-01-01T12:01:00Z; .* --break-lock"):
        _lock(store, "third", later).acquire(read_ledger(store.mappings), frozenset(), frozenset({"a"}))
    third = _lock(store, "third", later)
    third.acquire(read_ledger(store.mappings), frozenset(), frozenset({"a"}), break_lock=True)
    third.release(frozenset({"a"}), frozenset())
    assert read_ledger(store.mappings) == read_ledger({LEDGER_NAME: ledger_body(["a"])})


def test_losing_the_race_between_read_and_write_is_noticed_before_any_other_write() -> None:
    store = Store()
    mine = _lock(store, "mine")
    theirs = Lease("other", "their-token", NOW, NOW + timedelta(seconds=60))

    def their_put() -> None:  # they read the unlocked ledger too; their PUT lands right after mine
        store.mappings[LEDGER_NAME] = ledger_body([], ["theirs"], theirs)

    store.interleave = their_put
    with pytest.raises(LockHeld, match=r"^another apply \(other, started 2026-01-01T12:00:00Z\) holds the lock"):
        mine.acquire(read_ledger({}), frozenset(), frozenset({"mine"}))
    assert not mine.held
    mine.release_quietly()  # writes nothing: the lease is theirs
    assert read_ledger(store.mappings) == read_ledger({LEDGER_NAME: ledger_body([], ["theirs"], theirs)})


def test_merging_claims_changes_only_the_ids_claimed() -> None:
    found = Ledger(frozenset({"theirs", "kept", "deleted"}), frozenset({"their-claim", "created"}))
    claims = {"created": Claim.CONFIRMED, "deleted": Claim.ABSENT, "replaced": Claim.PENDING}
    assert merge_claims(found, claims) == (
        {"theirs", "kept", "created"},
        {"their-claim", "replaced"},
    )
    # The lease is someone else's: confirmations go in as pending, and no other apply's claim is dropped.
    lost = {**claims, "their-claim": Claim.ABSENT}
    assert merge_claims(found, lost, lost=True) == ({"theirs", "kept"}, {"their-claim", "created", "replaced"})


class StaleFirstRead:
    """Another apply's view of `store`: its first GET was answered before our PUT, its PUT lands after our
    settle re-read (a PUT retried after a 503), so both applies believe they hold the lease."""

    def __init__(self, store: Store) -> None:
        self.store, self.first = store, True

    def get_role_mapping(self, name: str) -> Mapping[str, Any] | None:
        if self.first:
            self.first = False
            return None
        return self.store.get_role_mapping(name)

    def put_role_mapping(self, name: str, body: Mapping[str, Any]) -> None:
        self.store.put_role_mapping(name, body)


def test_two_applies_that_both_think_they_hold_the_lock_lose_no_ids() -> None:
    store = Store()
    a = _lock(store, "a")
    b = ApplyLock(StaleFirstRead(store), holder="b", ttl=60, settle=0, clock=lambda: NOW, sleep=lambda _: None)
    empty = read_ledger({})
    a.acquire(empty, frozenset(), frozenset({"a1", "a2"}))
    b.acquire(empty, frozenset(), frozenset({"b1"}))
    assert (a.held, b.held) == (True, True)
    with pytest.raises(LockLost, match=r"taken over by another apply \(b, .*recorded its endpoints as pending claims$"):
        a.release(frozenset({"a1", "a2"}))
    b.release(frozenset({"b1"}))
    ledger = read_ledger(store.mappings)
    assert (ledger.confirmed, ledger.pending, ledger.lease) == ({"b1"}, {"a1", "a2"}, None)


def test_the_lease_is_checked_again_before_the_first_endpoint_write() -> None:
    store = Store()
    mine = _lock(store, "mine")
    mine.acquire(read_ledger({}), frozenset(), frozenset({"mine"}))
    theirs = Lease("other", "their-token", NOW, NOW + timedelta(seconds=60))
    store.mappings[LEDGER_NAME] = ledger_body([], ["theirs"], theirs)
    with pytest.raises(LockLost, match=r"^nothing applied: the apply lock was taken over by another apply \(other"):
        mine.check()
    mine.release_quietly()  # nothing was written under the lease: nothing to record
    assert read_ledger(store.mappings) == read_ledger({LEDGER_NAME: ledger_body([], ["theirs"], theirs)})


class FailingReread(Store):
    """The settle re-read (the second GET) fails, as a GET answered 503 after its retries."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get_role_mapping(self, name: str) -> Mapping[str, Any] | None:
        self.gets += 1
        if self.gets == 2:
            raise ClusterError("GET /_security/role_mapping: 503 after retries")
        return super().get_role_mapping(name)


def test_a_lock_whose_settle_read_fails_is_given_back() -> None:
    store = FailingReread()
    store.mappings[LEDGER_NAME] = ledger_body(["replaced"])
    before = read_ledger(store.mappings)
    lock = _lock(store, "mine")
    with pytest.raises(ClusterError, match="503 after retries"):
        lock.acquire(before, frozenset(), frozenset({"new", "replaced"}))
    assert not lock.held
    assert read_ledger(store.mappings) == before  # no lease left, claims withdrawn


class FailingRenewal(Store):
    """Every GET from the renewal thread raises something that is not a ManagedLlmError."""

    def get_role_mapping(self, name: str) -> Mapping[str, Any] | None:
        if threading.current_thread().name == "apply-lock":
            raise RuntimeError("connection pool is closed")
        return super().get_role_mapping(name)


def test_a_failed_renewal_is_recorded_reported_and_its_thread_joined(monkeypatch: pytest.MonkeyPatch) -> None:
    escaped: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", escaped.append)
    store = FailingRenewal()
    before = _lock_threads()  # a test that simulates a kill leaves its (daemon) renewal thread behind
    lock = ApplyLock(store, holder="mine", ttl=0.03, settle=0, clock=lambda: NOW, sleep=lambda _: None)
    reported: list[ManagedLlmError] = []
    failed = threading.Event()
    lock.acquire(read_ledger({}), frozenset(), frozenset({"a"}), on_lost=lambda e: (reported.append(e), failed.set()))
    assert failed.wait(WAIT)
    assert [str(e) for e in reported] == ["renewing the apply lock failed (RuntimeError)"]
    assert lock.lost is reported[0]
    assert escaped == []  # no traceback from the thread
    lock.release(frozenset({"a"}))
    assert _lock_threads() <= before
    assert read_ledger(store.mappings) == read_ledger({LEDGER_NAME: ledger_body(["a"])})


def test_release_stops_the_renewal_thread_before_it_returns() -> None:
    store = Store()
    lock = ApplyLock(store, holder="mine", ttl=3600, settle=0, clock=lambda: NOW, sleep=lambda _: None)
    before = _lock_threads()
    lock.acquire(read_ledger({}), frozenset(), frozenset({"a"}))
    assert _lock_threads() > before
    lock.release(frozenset({"a"}))
    assert _lock_threads() <= before


# ---------------------------------------------------------------------------- in-process kills and failures


class Killed(BaseException):
    """The process dies here (SIGKILL): nothing after this point runs, no finally writes the ledger."""


def _lock_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "apply-lock"}


def _expire_the_lease(double: EsDouble) -> None:
    metadata = double.cluster.role_mappings[LEDGER_NAME]["metadata"]
    if "apply_lock" in metadata:
        metadata["apply_lock"]["expires"] = "2000-01-01T00:00:00Z"


def test_a_kill_after_a_prune_delete_never_prunes_the_next_owner_of_the_id(
    run: Cli, double: EsDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("apply", "-f", str(write_file(tmp_path, [endpoint("keep-me"), endpoint("drop-me")], []))).exit_code == 0
    deleted = threading.Event()
    delete, put = EsClient.delete_endpoint, EsClient.put_role_mapping

    def delete_then_note(self: EsClient, *args: Any, **kwargs: Any) -> None:
        delete(self, *args, **kwargs)
        deleted.set()

    def die_on_the_ledger_write(self: EsClient, name: str, body: Mapping[str, Any]) -> None:
        if name == LEDGER_NAME and deleted.is_set():
            raise Killed
        put(self, name, body)

    monkeypatch.setattr(EsClient, "delete_endpoint", delete_then_note)
    monkeypatch.setattr(EsClient, "put_role_mapping", die_on_the_ledger_write)
    smaller = write_file(tmp_path, [endpoint("keep-me")], [])
    with pytest.raises(Killed):
        run("apply", "-f", str(smaller), "--prune")
    monkeypatch.undo()
    assert "drop-me" not in double.cluster.endpoints
    ledger = _ledger(double)
    assert (ledger.confirmed, ledger.pending) == ({"keep-me"}, {"drop-me"})

    _expire_the_lease(double)
    foreign_endpoint(double, "drop-me", model=V1)  # another team creates drop-me
    applied = run("apply", "-f", str(smaller), "--prune", "--break-lock")
    assert applied.exit_code == 0, applied.output
    assert double.cluster.endpoints["drop-me"].service_settings["model"] == V1
    assert _ledger(double).confirmed == {"keep-me"}


@pytest.mark.parametrize("failure", [Killed, RuntimeError])
def test_a_replace_stopped_between_its_delete_and_its_create_never_replaces_the_next_owner(
    run: Cli, double: EsDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: type[BaseException]
) -> None:
    assert run("apply", "-f", str(write_file(tmp_path, [endpoint("llm", model=V2)], []))).exit_code == 0

    def create(self: EsClient, *args: Any, **kwargs: Any) -> None:
        raise failure("the process dies" if failure is Killed else "a bug in the client")

    monkeypatch.setattr(EsClient, "create_endpoint", create)
    changed = write_file(tmp_path, [endpoint("llm", model=V1)], [])
    if failure is Killed:
        with pytest.raises(Killed):
            run("apply", "-f", str(changed))
    else:
        failed = run("apply", "-f", str(changed))
        assert failed.exit_code == 1
        assert "unexpected error (RuntimeError)" in failed.stdout
        assert "a bug in the client" not in failed.output
        assert _ledger(double).lease is None  # released
    monkeypatch.undo()
    assert "llm" not in double.cluster.endpoints
    ledger = _ledger(double)
    # Killed: the claim stays pending. Failed: the re-read saw the id gone, so it left the ledger.
    assert (ledger.confirmed, ledger.pending) == (set(), {"llm"} if failure is Killed else set())

    _expire_the_lease(double)
    foreign_endpoint(double, "llm", model=V2)  # another team creates llm
    applied = run("apply", "-f", str(changed), "--break-lock")
    assert applied.exit_code == 1
    assert applied.stderr == (
        "error: nothing applied: inference_endpoint llm: exists but is not managed by managed-llm (use --adopt)\n"
    )
    assert double.cluster.endpoints["llm"].service_settings["model"] == V2


def test_a_failed_lock_renewal_stops_apply_from_starting_new_writes(
    run: Cli, double: EsDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renewal_failed = threading.Event()
    get, create = EsClient.get_role_mapping, EsClient.create_endpoint

    def get_failing_in_the_renewal(self: EsClient, name: str) -> Mapping[str, Any] | None:
        if threading.current_thread().name == "apply-lock":
            renewal_failed.set()
            raise RuntimeError("a bug in the client")
        return get(self, name)

    def create_after_the_renewal_failed(self: EsClient, *args: Any, **kwargs: Any) -> None:
        assert renewal_failed.wait(WAIT)
        create(self, *args, **kwargs)

    monkeypatch.setattr(EsClient, "get_role_mapping", get_failing_in_the_renewal)
    monkeypatch.setattr(EsClient, "create_endpoint", create_after_the_renewal_failed)
    file = write_file(tmp_path, [endpoint("a"), endpoint("b"), endpoint("c")], [])
    before = _lock_threads()
    applied = run("apply", "-f", str(file), "--concurrency", "1", "--lock-ttl", "1")
    assert applied.exit_code == 1
    assert applied.stderr.splitlines()[-1] == (
        "error: apply interrupted by a failure to renew the apply lock: in-flight writes finished, "
        "nothing new started; the ownership ledger records what was done"
    )
    assert "Traceback" not in applied.output
    assert set(double.cluster.endpoints) == {"a"}
    ledger = _ledger(double)
    assert (ledger.confirmed, ledger.pending, ledger.lease) == ({"a"}, set(), None)
    assert _lock_threads() <= before


# ---------------------------------------------------------------------------- real processes

MANY = 200


def _many(directory: Path, ids: list[str], name: str = "managed-llm.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = write_file(directory, [endpoint(i) for i in ids], [])
    return path.rename(directory / name)


class Apply:
    """`managed-llm apply` in its own process; output goes to files (a 200-endpoint plan overflows a pipe)."""

    def __init__(self, double: EsDouble, directory: Path, *args: str) -> None:
        env = {**double.env(**BEDROCK_ENV), "PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
        directory.mkdir(parents=True, exist_ok=True)
        self.out, self.err = directory / "stdout", directory / "stderr"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "provisioning", "apply", *args], cwd=ROOT, env=env, stdout=out, stderr=err
            )

    def poll(self) -> int | None:
        return self.process.poll()

    def kill(self) -> None:
        self.process.kill()

    def send_signal(self, number: int) -> None:
        self.process.send_signal(number)

    def finish(self) -> tuple[int, str, str]:
        code = self.process.wait(timeout=WAIT)
        return code, self.out.read_text(), self.err.read_text()


def _wait_for(condition: Callable[[], bool], process: Apply) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"apply ended early: {process.finish()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("apply never got there")
        time.sleep(0.01)


def _quiet(double: EsDouble) -> set[str]:
    """The endpoints once the double has finished the creates a killed process had in flight."""
    deadline, seen = time.monotonic() + WAIT, None
    while True:
        now = (double.cluster.validations_in_flight, len(double.cluster.endpoints))
        if now == seen and now[0] == 0:
            return set(double.cluster.endpoints)
        assert time.monotonic() < deadline
        seen = now
        time.sleep(0.1)


def _ledger(double: EsDouble) -> Any:
    return read_ledger(double.cluster.role_mappings)


@pytest.mark.double_only
def test_sigkill_mid_apply_never_makes_a_foreign_endpoint_ours(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    ids = [f"llm-{n:03}" for n in range(MANY)]
    file = _many(tmp_path / "all", ids)
    double.cluster.validation_latency = 0.02  # each create takes a little while, as a Bedrock call does
    process = Apply(double, tmp_path / "killed", "-f", str(file), "--lock-ttl", "2")
    _wait_for(lambda: len(double.cluster.endpoints) >= 80, process)
    process.send_signal(signal.SIGKILL)
    assert process.finish()[0] == -signal.SIGKILL
    double.cluster.validation_latency = 0.0
    created = _quiet(double)
    assert 80 <= len(created) < MANY
    ledger = _ledger(double)
    assert ledger.confirmed == set()
    assert ledger.pending == set(ids)
    assert ledger.lease is not None  # left behind: it expires by itself

    theirs = next(i for i in ids if i not in created)
    foreign_endpoint(double, theirs, model=V1)
    planned = run("plan", "-f", str(file))
    assert planned.exit_code == 1, planned.output
    assert re.search(rf"conflict\s+inference_endpoint\s+{theirs}\s", planned.stdout), planned.stdout
    missing = MANY - len(created) - 1
    assert f"Plan: {missing} to create, 0 to update, 0 to replace, 0 to delete; 1 conflict." in planned.stdout
    assert f"ownership ledger: confirm {', '.join(sorted(created))} (claimed by an interrupted" in planned.stdout
    # Plan warns, and takes no lock (on a loaded machine the 2 s lease may have expired by now).
    assert "holds the lock" in planned.stdout or "apply --break-lock takes it" in planned.stdout

    applied = run("apply", "-f", str(file))
    assert applied.exit_code == 1
    assert applied.stderr == (
        f"error: nothing applied: inference_endpoint {theirs}: exists but is not managed by managed-llm (use --adopt)\n"
    )
    assert double.cluster.endpoints[theirs].service_settings["model"] == V1

    without = _many(tmp_path / "without", [i for i in ids if i != theirs])
    _wait_until_expired(double)  # the killed apply's lease (--lock-ttl 2)
    expired = run("apply", "-f", str(without), "--prune")
    assert expired.exit_code == 1
    assert "run apply again with --break-lock" in expired.stderr
    broken = run("apply", "-f", str(without), "--prune", "--break-lock")
    assert broken.exit_code == 0, broken.output
    assert double.cluster.endpoints[theirs].service_settings["model"] == V1  # never pruned
    after = _ledger(double)
    assert after.confirmed == set(ids) - {theirs}
    assert after.pending == set()
    assert after.lease is None
    assert run("plan", "-f", str(without), "--prune").exit_code == 0


def _wait_until_expired(double: EsDouble) -> None:
    lease = _ledger(double).lease
    assert lease is not None
    deadline = time.monotonic() + WAIT
    while not lease.expired(datetime.now(UTC)):
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.double_only
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_finish_in_flight_writes_record_them_and_release_the_lock(
    run: Cli, double: EsDouble, tmp_path: Path, stop: signal.Signals
) -> None:
    ids = [f"llm-{n:03}" for n in range(MANY)]
    file = _many(tmp_path / "all", ids)
    double.cluster.validation_latency = 0.02
    process = Apply(double, tmp_path / "stopped", "-f", str(file))
    _wait_for(lambda: len(double.cluster.endpoints) >= 80, process)
    process.send_signal(stop)
    code, stdout, stderr = process.finish()
    double.cluster.validation_latency = 0.0
    assert code == 1, (stdout, stderr)
    assert "Traceback" not in stderr + stdout
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: apply interrupted by {stop.name}: in-flight writes finished, nothing new started; "
        "the ownership ledger records what was done"
    ]
    assert f"Apply failed: interrupted by {stop.name}: " in stdout
    assert "not attempted" in stdout
    created = set(double.cluster.endpoints)
    assert 80 <= len(created) < MANY
    ledger = _ledger(double)
    assert ledger.confirmed == created  # exactly what was created, nothing else claimed
    assert ledger.pending == set()
    assert ledger.lease is None  # released

    theirs = next(i for i in ids if i not in created)
    foreign_endpoint(double, theirs, model=V1)
    planned = run("plan", "-f", str(file))
    assert planned.exit_code == 1
    assert re.search(rf"conflict\s+inference_endpoint\s+{theirs}\s", planned.stdout), planned.stdout
    assert "0 to replace" in planned.stdout
    assert "1 conflict" in planned.stdout
    without = _many(tmp_path / "without", [i for i in ids if i != theirs])
    pruned = run("apply", "-f", str(without), "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert double.cluster.endpoints[theirs].service_settings["model"] == V1
    assert _ledger(double).confirmed == set(ids) - {theirs}


@pytest.mark.double_only
def test_a_second_apply_fails_fast_while_the_first_holds_the_lock(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    first_ids = [f"team-a-{n:03}" for n in range(100)]
    second_ids = [f"team-b-{n:03}" for n in range(100)]
    first = _many(tmp_path / "a", first_ids)
    second = _many(tmp_path / "b", second_ids)
    double.cluster.validation_latency = 0.02
    process = Apply(double, tmp_path / "first", "-f", str(first))
    _wait_for(lambda: len(double.cluster.endpoints) >= 1, process)
    double.reset_counters()
    refused = run("apply", "-f", str(second))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: another apply (")
    assert refused.stderr.endswith("holds the lock; retry or wait\n")
    assert refused.stderr.count("\n") == 1
    assert not [w for w in double.writes() if "team-b" in w[1] or LEDGER_NAME in w[1]]
    code, stdout, stderr = process.finish()
    assert code == 0, (stdout, stderr)
    double.cluster.validation_latency = 0.0
    assert run("apply", "-f", str(second)).exit_code == 0
    assert _ledger(double).confirmed == set(first_ids) | set(second_ids)
    assert run("plan", "-f", str(first)).exit_code == 0  # nothing lost its ownership
    assert run("plan", "-f", str(second)).exit_code == 0


@pytest.mark.double_only
def test_two_applies_started_together_never_lose_ownership(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    files = {team: _many(tmp_path / team, [f"{team}-{n:03}" for n in range(100)]) for team in ("team-a", "team-b")}
    double.cluster.validation_latency = 0.01
    processes = {team: Apply(double, tmp_path / f"{team}-run", "-f", str(file)) for team, file in files.items()}
    outcomes = {team: p.finish() for team, p in processes.items()}
    assert sorted(code for code, _, _ in outcomes.values()) == [0, 1], outcomes
    winner = next(team for team, (code, _, _) in outcomes.items() if code == 0)
    _, _, loser_stderr = next(o for o in outcomes.values() if o[0] == 1)
    assert "Traceback" not in loser_stderr
    errors = [line for line in loser_stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].endswith(
        ("holds the lock; retry or wait", "took the lock at the same time; retry or wait", "run apply again")
    ), errors
    ledger = _ledger(double)
    assert {i for i in ledger.confirmed if i.startswith(winner)} == {f"{winner}-{n:03}" for n in range(100)}
    assert ledger.lease is None
    for team in files:  # the loser's endpoints too: every one that exists is owned or claimed, none lost
        made = {i for i in double.cluster.endpoints if i.startswith(team)}
        assert made <= ledger.confirmed | ledger.pending, (team, sorted(made - ledger.confirmed - ledger.pending))
    loser = next(team for team in files if team != winner)
    double.cluster.validation_latency = 0.0
    assert run("apply", "-f", str(files[loser])).exit_code == 0
    for file in files.values():  # both files converge: nothing either apply made became someone else's
        assert run("plan", "-f", str(file)).exit_code == 0
