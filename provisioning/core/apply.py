"""Execute a Plan: check, lock and claim, write with bounded concurrency, re-read, record, report.

Order: refuse conflicts/blocked changes and missing privileges before any write; take the apply lock
(`provisioning.core.lock`) and, in the same ledger write, claim as *pending* every endpoint about to be
created, replaced or deleted (so a crash never leaves an endpoint the tool made and forgot, and never
leaves an id it deleted confirmed for whoever creates it next: `diff.resolve_pending` owns a pending id
only if its endpoint is exactly what the file asks for, and never prunes one); re-check the lease; then
create/update/replace; then deletes; as each answer comes, a create or replace that answered becomes
confirmed, a delete that answered leaves the ledger, one not attempted goes back to confirmed, one that
failed stays pending; then re-read the cluster, drop ids that no longer exist, merge that into the ledger
and release the lock in the same write; re-plan to prove convergence. After the first failure (any
exception), a lost or unrenewable lease, or when `stop` is set (SIGINT/SIGTERM), nothing new starts and
in-flight writes finish: the report says per object what was done, what failed and what was not
attempted, and a re-run converges.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from provisioning.core.defaults import DEFAULT_CONCURRENCY
from provisioning.core.diff import Action, Change, compare_endpoint
from provisioning.core.errors import EXIT_ERROR, EXIT_OK, AlreadyExists, ManagedLlmError, PlanError, PrivilegeError
from provisioning.core.kinds import inference_endpoints as endpoints
from provisioning.core.kinds import role_mappings as mappings
from provisioning.core.kinds.inference_endpoints import EndpointSpec
from provisioning.core.kinds.kibana_connectors import State as ConnectorState
from provisioning.core.kinds.ownership import LEDGER_NAME, Claim, Ledger, ledger_body
from provisioning.core.kinds.role_mappings import RoleMappingSpec
from provisioning.core.lock import ApplyLock, LockLost
from provisioning.core.model import DesiredState
from provisioning.core.plan import Plan
from provisioning.core.planning import ClusterReader, ClusterState, KibanaReader, plan_from_state

if TYPE_CHECKING:
    # Only a type: the keys are resolved outside the core (adapters.credentials) and handed in as `credentials`.
    from provisioning.adapters.credentials import BedrockCredentials

REQUIRED_PRIVILEGES = ("manage_inference", "manage_security")


class ClusterWriter(ClusterReader, Protocol):
    def missing_privileges(self, privileges: Sequence[str]) -> list[str]: ...

    def get_endpoint(self, endpoint_id: str) -> Mapping[str, Any] | None: ...

    def get_role_mapping(self, name: str) -> Mapping[str, Any] | None: ...

    def create_endpoint(self, spec: EndpointSpec, credentials: BedrockCredentials) -> None: ...

    def update_endpoint(self, spec: EndpointSpec) -> None: ...

    def delete_endpoint(self, endpoint_id: str, task_type: str, *, force: bool) -> None: ...

    def put_role_mapping(self, name: str, body: Mapping[str, Any]) -> None: ...

    def delete_role_mapping(self, name: str) -> None: ...


class Status(StrEnum):
    DONE = "done"
    FAILED = "failed"
    NOT_ATTEMPTED = "not attempted"


@dataclass(frozen=True)
class ChangeResult:
    change: Change
    status: Status
    error: str | None = None
    seconds: float = 0.0


class Progress(Protocol):
    def started(self, change: Change) -> None: ...

    def finished(self, result: ChangeResult) -> None: ...


class _Silent:
    def started(self, change: Change) -> None:
        pass

    def finished(self, result: ChangeResult) -> None:
        pass


@dataclass(frozen=True)
class ApplyReport:
    """What apply did. `exit_code` is 0 only when every change is done and the re-read plan is empty."""

    target: str
    results: tuple[ChangeResult, ...]
    ledger_writes: int
    final_plan: Plan | None
    # The signal that stopped apply early (SIGINT/SIGTERM), if any: the report is partial.
    interrupted: str | None = None

    @property
    def failed(self) -> tuple[ChangeResult, ...]:
        return tuple(r for r in self.results if r.status is Status.FAILED)

    @property
    def converged(self) -> bool:
        return self.final_plan is not None and not self.final_plan.has_changes and not self.final_plan.conflicts

    @property
    def exit_code(self) -> int:
        return EXIT_OK if not self.failed and self.converged and self.interrupted is None else EXIT_ERROR

    def summary(self) -> str:
        counts = {s: sum(1 for r in self.results if r.status is s) for s in Status}
        text = (
            f"{counts[Status.DONE]} done, {counts[Status.FAILED]} failed, {counts[Status.NOT_ATTEMPTED]} not attempted"
        )
        if self.interrupted is not None:
            text = f"interrupted by {self.interrupted}: {text}"
        if self.converged:
            return f"{text}; converged"
        remaining = f" ({self.final_plan.summary()})" if self.final_plan is not None else ""
        return f"{text}; not converged{remaining}"


def apply_plan(
    plan: Plan,
    desired: DesiredState,
    cluster: ClusterWriter,
    credentials: Callable[[], BedrockCredentials],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
    kibana: KibanaReader | None = None,
    lock: ApplyLock | None = None,
    break_lock: bool = False,
    stop: Stop | None = None,
) -> ApplyReport:
    """Converge the cluster to `plan`. Raises before any write if the plan cannot be applied.

    `stop` (set by a signal handler) makes apply start nothing new; it then records what was done.
    Each step below is a named function with its own tests (tests/provisioning/core/test_apply_steps.py).
    """
    refuse_unappliable(plan)
    if not plan.writes and not plan.ledger_changes:
        return ApplyReport(plan.target, (), 0, plan)
    if concurrency < 1:
        raise PlanError("concurrency must be at least 1")
    keys = resolve_credentials_if_needed(plan, credentials)
    check_privileges(cluster)
    stop = stop or Stop()
    refuse_if_stopped(stop)
    lock = lock or ApplyLock(cluster)
    claim(plan, lock, break_lock=break_lock, stop=stop)
    try:
        lock.check()
        run = _Run(plan, cluster, keys, progress or _Silent(), stop, lambda result: lock.note(*_claims_after(result)))
        results = write_phases(run, plan.writes, concurrency)
        state = reread_and_settle_ledger(cluster, lock)
    finally:
        # Every exit path gives the lock back with what the answers so far say; the lease expires otherwise.
        lock.release_quietly()
    return ApplyReport(
        plan.target,
        in_plan_order(results, plan.writes),
        lock.writes,
        final_plan(plan, desired, state, kibana),
        interrupted=stop.reason,
    )


def refuse_unappliable(plan: Plan) -> None:
    """Raise PlanError, before anything is read or written, for a plan that must not be applied at all."""
    if plan.refusals:
        raise PlanError(f"nothing applied: {plan.refusals[0]}")
    if plan.conflicts or plan.blocked:
        first = (plan.conflicts + plan.blocked)[0]
        raise PlanError(f"nothing applied: {first.kind} {first.id}: {first.blocked or first.reason}")
    for connector in plan.kibana:
        if connector.state is ConnectorState.FOREIGN:
            raise PlanError(f"nothing applied: kibana connector {connector.spec.id}: {connector.detail}")


def needs_credentials(plan: Plan) -> bool:
    """Only an endpoint create or replace sends Bedrock keys; updates and deletes never need them."""
    return any(c.kind == endpoints.KIND and c.action in (Action.CREATE, Action.REPLACE) for c in plan.writes)


def resolve_credentials_if_needed(
    plan: Plan, credentials: Callable[[], BedrockCredentials]
) -> BedrockCredentials | None:
    """Resolve the keys before the lock is taken, and only when a write sends them (a missing key fails early)."""
    return credentials() if needs_credentials(plan) else None


def check_privileges(cluster: ClusterWriter) -> None:
    """PrivilegeError before any write when the caller lacks a cluster privilege apply needs."""
    missing = cluster.missing_privileges(REQUIRED_PRIVILEGES)
    if missing:
        raise PrivilegeError(f"nothing applied: the caller lacks the cluster privilege(s) {', '.join(missing)}")


def refuse_if_stopped(stop: Stop) -> None:
    """A signal that came before the lock was taken: stop with nothing written."""
    if stop.is_set():
        raise PlanError(f"nothing applied: interrupted by {stop.reason}")


@dataclass(frozen=True)
class Claims:
    """What the lock's first ledger write records: ids made ours, ids claimed pending, ids dropped."""

    confirmed: frozenset[str]
    pending: frozenset[str]
    removed: frozenset[str]


def initial_claims(plan: Plan) -> Claims:
    """The claims written with the lease: every endpoint about to be created, replaced or deleted is pending.

    Adopted ids and pending claims that stand become confirmed; ids the plan drops from the ledger go now
    (except deletes, which stay pending until their answer).
    """
    acted = {action: _endpoint_ids(plan.writes, action) for action in (Action.CREATE, Action.REPLACE, Action.DELETE)}
    written = acted[Action.CREATE] | acted[Action.REPLACE]
    before = plan.diff.ledger_before | plan.diff.pending_before
    return Claims(
        confirmed=plan.diff.ledger_after - plan.diff.ledger_before - written,
        pending=written | acted[Action.DELETE],
        removed=before - plan.diff.ledger_after - acted[Action.DELETE],
    )


def claim(plan: Plan, lock: ApplyLock, *, break_lock: bool, stop: Stop) -> None:
    """Take the lock and write the initial claims in one ledger write; a lost lease later sets `stop`."""
    claims = initial_claims(plan)
    lock.acquire(
        Ledger(plan.diff.ledger_before, plan.diff.pending_before),
        claims.confirmed,
        claims.pending,
        removed=claims.removed,
        break_lock=break_lock,
        on_lost=lambda error: stop.set(_lost_reason(error)),
    )


def write_phases(run: _Run, writes: Sequence[Change], concurrency: int) -> list[ChangeResult]:
    """Creates, updates and replaces first, then deletes; after a failure or a stop no delete is attempted."""
    results = run.phase([c for c in writes if c.action is not Action.DELETE], concurrency)
    deletes = [c for c in writes if c.action is Action.DELETE]
    if any(r.status is Status.FAILED for r in results) or run.stop.is_set():
        return results + [run.skip(c) for c in deletes]
    return results + run.phase(deletes, concurrency)


def gone_claims(claims: Mapping[str, Claim], existing: set[str]) -> frozenset[str]:
    """Claimed ids whose endpoint the re-read no longer shows: they leave the ledger."""
    return frozenset(key for key, found in claims.items() if found is not Claim.ABSENT and key not in existing)


def reread_and_settle_ledger(cluster: ClusterWriter, lock: ApplyLock) -> ClusterState:
    """Re-read the cluster, release the lock with the ids that no longer exist dropped, in one ledger write.

    Returns the re-read state with the ledger as this apply last wrote it (what the final plan compares).
    """
    state = cluster.read_all()
    existing = {str(b.get("inference_id")) for b in state.endpoints}
    lock.release(removed=gone_claims(lock.claims(), existing))
    confirmed, pending = lock.content
    return ClusterState(state.endpoints, {**state.role_mappings, LEDGER_NAME: ledger_body(confirmed, pending)})


def final_plan(plan: Plan, desired: DesiredState, state: ClusterState, kibana: KibanaReader | None) -> Plan:
    """Re-plan from the re-read state to prove convergence (an empty plan means converged)."""
    # Kibana shows a preconfigured connector only once its endpoint exists: read it again after the writes.
    listed = kibana.connectors() if kibana is not None and desired.kibana is not None else None
    return plan_from_state(
        desired, state, plan.options, plan.target, listed_connectors=listed, resolution=plan.resolution
    )


def in_plan_order(results: Sequence[ChangeResult], writes: Sequence[Change]) -> tuple[ChangeResult, ...]:
    """Results in the plan's order, whichever order the concurrent writes answered in."""
    order = {c.key: i for i, c in enumerate(writes)}
    return tuple(sorted(results, key=lambda r: order[r.change.key]))


def _endpoint_ids(changes: Sequence[Change], action: Action) -> frozenset[str]:
    return frozenset(c.id for c in changes if c.kind == endpoints.KIND and c.action is action)


def _lost_reason(error: ManagedLlmError) -> str:
    if isinstance(error, LockLost):
        return "the loss of the apply lock"
    return "a failure to renew the apply lock"


def _claims_after(result: ChangeResult) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(confirmed, pending, removed) ids from one answer; everything was claimed pending when the lock was taken.

    A create or replace that answered is ours, a delete that answered leaves the ledger; one not attempted
    is as before (a create's id absent, a replace's or delete's confirmed). A failure may have happened on
    the server (a lost answer, a replace failing between its delete and its create), so it stays pending:
    the next plan owns it only if the endpoint is exactly what the file asks for, and never prunes it.
    """
    change, none = result.change, frozenset[str]()
    if change.kind != endpoints.KIND or change.action not in (Action.CREATE, Action.REPLACE, Action.DELETE):
        return none, none, none
    key = frozenset({change.id})
    if result.status is Status.FAILED:
        return none, key, none
    if result.status is Status.DONE:
        return (none, none, key) if change.action is Action.DELETE else (key, none, none)
    return (none, none, key) if change.action is Action.CREATE else (key, none, none)


class Stop:
    """Set once (by a signal handler or a lost lock): apply starts nothing new. Keeps the first reason."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


class _Run:
    def __init__(
        self,
        plan: Plan,
        cluster: ClusterWriter,
        keys: BedrockCredentials | None,
        progress: Progress,
        stop: Stop,
        settled: Callable[[ChangeResult], None],
    ) -> None:
        self.plan, self.cluster, self.keys, self.progress, self.stop = plan, cluster, keys, progress, stop
        self.settled = settled
        self._failed = threading.Event()

    def skip(self, change: Change) -> ChangeResult:
        result = ChangeResult(change, Status.NOT_ATTEMPTED)
        self.settled(result)
        self.progress.finished(result)
        return result

    def phase(self, changes: list[Change], concurrency: int) -> list[ChangeResult]:
        """Run `changes` at most `concurrency` at a time; after a failure, start nothing new."""
        results: list[ChangeResult] = []
        queue = list(changes)
        running: dict[Future[ChangeResult], Change] = {}
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="apply") as pool:
            while queue or running:
                while queue and len(running) < concurrency and not (self._failed.is_set() or self.stop.is_set()):
                    change = queue.pop(0)
                    running[pool.submit(self._execute, change)] = change
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    running.pop(future)
                    results.append(future.result())
                    self.settled(results[-1])
        results += [self.skip(c) for c in queue]
        return results

    def _execute(self, change: Change) -> ChangeResult:
        self.progress.started(change)
        began = time.monotonic()
        try:
            self._write(change)
            result = ChangeResult(change, Status.DONE, seconds=time.monotonic() - began)
        # Any exception, not only ours: a failed result keeps the id pending and the ledger write still happens.
        except Exception as exc:
            self._failed.set()
            message = exc.message if isinstance(exc, ManagedLlmError) else f"unexpected error ({type(exc).__name__})"
            result = ChangeResult(change, Status.FAILED, message, time.monotonic() - began)
        self.progress.finished(result)
        return result

    def _write(self, change: Change) -> None:
        force = self.plan.options.force_replace
        if change.kind == mappings.KIND:
            if change.action is Action.DELETE:
                self.cluster.delete_role_mapping(change.id)
            elif isinstance(change.desired, RoleMappingSpec):
                self.cluster.put_role_mapping(change.id, mappings.put_body(change.desired))
            return
        if change.action in (Action.DELETE, Action.REPLACE) and isinstance(change.actual, EndpointSpec):
            self.cluster.delete_endpoint(change.id, change.actual.task_type, force=force)
        if not isinstance(change.desired, EndpointSpec):
            return
        if change.action is Action.UPDATE:
            self.cluster.update_endpoint(change.desired)
        elif change.action in (Action.CREATE, Action.REPLACE):
            self._create(change.desired)

    def _create(self, spec: EndpointSpec) -> None:
        if self.keys is None:
            raise PlanError(f"create {spec.id}: no Bedrock credentials were resolved")
        try:
            self.cluster.create_endpoint(spec, self.keys)
        except AlreadyExists:
            # A retried PUT whose first attempt succeeded, or a concurrent writer: accept it only if the
            # endpoint now is exactly what we asked for.
            body = self.cluster.get_endpoint(spec.id)
            if body is None or compare_endpoint(spec, endpoints.normalize(body))[1] is not None:
                raise
