"""The apply lock: a lease (holder, token, start, expiry) kept in the ownership ledger's metadata.

Two applies at once would each read the ledger, add their ids and write it back: the last write wins and
the other's endpoints lose their ownership. So apply takes a lease before its first write and gives it
back with its last. Where: in the ledger role mapping itself. That needs no privilege beyond the
`manage_security` apply already has (an Elasticsearch document with `if_seq_no`/`if_primary_term`
would give true compare-and-set but needs index privileges on a new index, which a GitOps token should
not get), `plan` sees the lease in the GET it already makes, and ids and lease are read together.

Role-mapping PUT has no optimistic concurrency control (no version or seq_no on
`PutRoleMappingRequest`, elastic/elasticsearch x-pack/plugin/core/.../security/action/rolemapping/), so the
lease is a best effort against a race, made narrow: a lease is written with a random token, re-read after a settle
delay and kept only if the token is still ours, and re-read again just before the first endpoint write;
every ledger write re-reads first, stops the apply if the token changed, and merges only this apply's
claims into what it read (`ownership.merge_claims`), so another apply's ids are never overwritten. What
remains, because no PUT can be conditional: a PUT built from a read made before another apply's write
overwrites that write (a GET answered before our lease PUT, whose own PUT, retried after a 503, lands after
our checks). Both applies then believe they hold the lease until this apply's next ledger write (a
renewal, every third of the TTL, or its release), which notices, stops it, and merges its claims as
pending into the other's ledger. Until then the ledger shows the other apply's stale view of this apply's
ids: a new claim is missing (killed meanwhile, an endpoint it created is left unowned: a leak, never a
foreign endpoint owned), and an id it deletes or replaces is still confirmed (killed meanwhile after that
delete, and the id then created by someone else, a later prune or replace would touch it). A crashed
apply leaves its lease until it expires (`DEFAULT_TTL`, renewed every third of it while apply runs; a
failed renewal stops the apply); an expired lease is taken over only with `--break-lock`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from provisioning.core.defaults import DEFAULT_SETTLE, DEFAULT_TTL
from provisioning.core.errors import ManagedLlmError, PlanError
from provisioning.core.kinds.ownership import (
    LEDGER_NAME,
    Claim,
    Lease,
    Ledger,
    foreign_ledger,
    ledger_body,
    merge_claims,
    read_ledger,
)


class LockHeld(ManagedLlmError):
    """Another apply holds the lock (or held it and may still be running)."""


class LockLost(ManagedLlmError):
    """The lease was taken over while this apply ran: it starts nothing more and merges its claims as pending."""


class LedgerStore(Protocol):
    def get_role_mapping(self, name: str) -> Mapping[str, Any] | None: ...

    def put_role_mapping(self, name: str, body: Mapping[str, Any]) -> None: ...


def default_holder() -> str:
    """Who holds the lock, as other applies show it: host name and process id (nothing from the environment)."""
    return f"{socket.gethostname()[:100]} pid {os.getpid()}"


def held_message(lease: Lease, now: datetime) -> str | None:
    """Why a lease found in the ledger stops this apply, or None when it does not (it has expired)."""
    if lease.expired(now):
        return None
    started = lease.to_metadata()["started"]
    return f"another apply ({lease.holder}, started {started}) holds the lock; retry or wait"


def expired_message(lease: Lease) -> str:
    shown = lease.to_metadata()
    return (
        f"a lock left by an apply ({lease.holder}, started {shown['started']}) expired at {shown['expires']}; "
        "if that apply is no longer running, run apply again with --break-lock"
    )


@dataclass
class ApplyLock:
    """One apply's lease and claims; every ledger write of that apply goes through it (re-read, check, merge)."""

    store: LedgerStore
    holder: str = field(default_factory=default_holder)
    ttl: float = DEFAULT_TTL
    settle: float = DEFAULT_SETTLE
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    writes: int = 0

    def __post_init__(self) -> None:
        # Re-entrant: a failure inside acquire releases under the same mutex.
        self._mutex = threading.RLock()
        self._held = False
        # Set once the lease is ours: the claims must be written once more (release), even if it is lost.
        self._owes = False
        self._lease: Lease | None = None
        self._claims: dict[str, Claim] = {}
        self._content: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None
        self.lost: ManagedLlmError | None = None

    @property
    def held(self) -> bool:
        return self._held

    @property
    def content(self) -> tuple[frozenset[str], frozenset[str]]:
        """The ledger's (confirmed, pending) ids as this apply last wrote them."""
        return self._content

    def acquire(
        self,
        expected: Ledger,
        confirmed: frozenset[str],
        pending: frozenset[str],
        *,
        removed: frozenset[str] = frozenset(),
        break_lock: bool = False,
        on_lost: Callable[[ManagedLlmError], None] = lambda _: None,
    ) -> None:
        """Take the lease and write the claims in one PUT, if the ledger is still what the plan read.

        Raises LockHeld when another apply holds it, PlanError when the ledger changed since the plan. A
        failure after the PUT gives the lease back (and withdraws the claims) before raising.
        """
        with self._mutex:
            found = self._read()
            if found.lease is not None and found.lease.token != self.token:
                message = held_message(found.lease, self.clock())
                if message is not None:
                    raise LockHeld(message)
                if not break_lock:
                    raise LockHeld(expired_message(found.lease))
            if (found.confirmed, found.pending - found.confirmed) != (expected.confirmed, expected.pending):
                raise PlanError(
                    "nothing applied: the ownership ledger changed after the plan was read "
                    "(another apply ran meanwhile); run apply again"
                )
            now = self.clock()
            self._lease = Lease(self.holder, self.token, now, now + timedelta(seconds=self.ttl))
            self._note(confirmed, pending, removed)
            settled: Ledger | None = None
            try:
                self._held = True
                self._put(found)
                self.sleep(self.settle)
                # No compare-and-set on role mappings: whoever wrote last holds it, and everyone else stops here.
                settled = self._read()
            finally:
                if settled is None:  # the PUT or the re-read failed: the error on its way out is the one to report
                    # Nothing was written but the ledger: put back what the plan read for our ids, without the lease.
                    self._claims = {key: _state_in(expected, key) for key in self._claims}
                    with contextlib.suppress(Exception):
                        self._give_back()
            if settled.lease is None or settled.lease.token != self.token:
                self._held = False
                winner = settled.lease
                raise LockHeld(
                    (held_message(winner, self.clock()) if winner is not None else None)
                    or "another apply took the lock at the same time; retry or wait"
                )
            self._owes = True
        self._refresher = threading.Thread(target=self._renew, args=(on_lost,), name="apply-lock", daemon=True)
        self._refresher.start()

    def check(self) -> None:
        """Re-read the lease just before the first endpoint write: LockLost if it is no longer ours."""
        with self._mutex:
            found = self._read()
            if found.lease is None or found.lease.token != self.token:
                self._held = self._owes = False
                raise LockLost(
                    f"nothing applied: the apply lock was taken over{_by(found)} before the first write; "
                    "run apply again"
                )

    def note(
        self,
        confirmed: frozenset[str] = frozenset(),
        pending: frozenset[str] = frozenset(),
        removed: frozenset[str] = frozenset(),
    ) -> None:
        """Record what the answers say about ids, for the next ledger write (renewal or release)."""
        with self._mutex:
            self._note(confirmed, pending, removed)

    def claims(self) -> dict[str, Claim]:
        with self._mutex:
            return dict(self._claims)

    def write(self, confirmed: frozenset[str] = frozenset(), pending: frozenset[str] = frozenset()) -> None:
        """Merge these claims into the ledger under the lease, after checking the lease is still ours."""
        with self._mutex:
            self._note(confirmed, pending, frozenset())
            found = self._read()
            self._check(found)
            self._put(found)

    def release(
        self,
        confirmed: frozenset[str] = frozenset(),
        pending: frozenset[str] = frozenset(),
        removed: frozenset[str] = frozenset(),
    ) -> None:
        """Merge the claims into the ledger and drop the lease, in one write.

        If the lease is no longer ours, the claims are still merged (confirmations as pending) into the
        other apply's ledger, its lease untouched, and LockLost is raised.
        """
        self._halt()
        with self._mutex:
            self._note(confirmed, pending, removed)
            if not self._owes:
                return
            self._owes = False
            found = self._read()
            if found.lease is None or found.lease.token != self.token:
                self._held = False
                self._put(found, lost=True)
                raise LockLost(self._lost_message(found))
            self._give_back(found)

    def _give_back(self, found: Ledger | None = None) -> None:
        """Write the claims without the lease, if the lease is still ours (else leave the ledger alone)."""
        found = self._read() if found is None else found
        self._held = False
        if found.lease is not None and found.lease.token == self.token:
            self._lease = None
            self._put(found)

    def release_quietly(self) -> None:
        """On a failure path: give the lease back if possible; if not, it expires by itself."""
        # A failure path already has an error to report; this one would only hide it.
        with contextlib.suppress(Exception):
            self.release()

    def _halt(self) -> None:
        self._stop.set()
        refresher = self._refresher
        if refresher is not None and refresher is not threading.current_thread():
            refresher.join()

    def _renew(self, on_lost: Callable[[ManagedLlmError], None]) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                with self._mutex:
                    if not self._held or self._lease is None:
                        return
                    found = self._read()
                    self._check(found)
                    now = self.clock()
                    self._lease = Lease(self.holder, self.token, self._lease.started, now + timedelta(seconds=self.ttl))
                    self._put(found)
            # Anything at all: an exception escaping this daemon thread would print a traceback and end the
            # renewal silently while apply went on writing under a lease about to expire.
            except Exception as exc:
                self.lost = (
                    exc
                    if isinstance(exc, ManagedLlmError)
                    else ManagedLlmError(f"renewing the apply lock failed ({type(exc).__name__})")
                )
                on_lost(self.lost)
                return

    def _note(self, confirmed: frozenset[str], pending: frozenset[str], removed: frozenset[str]) -> None:
        for ids, claim in ((removed, Claim.ABSENT), (pending, Claim.PENDING), (confirmed, Claim.CONFIRMED)):
            self._claims.update(dict.fromkeys(ids, claim))

    def _read(self) -> Ledger:
        body = self.store.get_role_mapping(LEDGER_NAME)
        mappings = {} if body is None else {LEDGER_NAME: body}
        refusal = foreign_ledger(mappings)
        if refusal is not None:
            raise PlanError(f"nothing applied: {refusal}")
        return read_ledger(mappings)

    def _check(self, found: Ledger) -> None:
        if found.lease is None or found.lease.token != self.token:
            self._held = False
            raise LockLost(self._lost_message(found))

    def _lost_message(self, found: Ledger) -> str:
        return (
            f"the apply lock was taken over{_by(found)}; this apply started nothing more "
            "and recorded its endpoints as pending claims"
        )

    def _put(self, found: Ledger, *, lost: bool = False) -> None:
        confirmed, pending = merge_claims(found, self._claims, lost=lost)
        lease = found.lease if lost else self._lease
        self.store.put_role_mapping(LEDGER_NAME, ledger_body(confirmed, pending, lease))
        self._content = (confirmed, pending)
        self.writes += 1


def _by(found: Ledger) -> str:
    other = found.lease
    return f" by another apply ({other.holder}, started {other.to_metadata()['started']})" if other else ""


def _state_in(ledger: Ledger, key: str) -> Claim:
    if key in ledger.confirmed:
        return Claim.CONFIRMED
    return Claim.PENDING if key in ledger.pending else Claim.ABSENT
