"""The apply lock: a lease (holder, token, start, expiry) kept in the ownership ledger's metadata.

Two applies at once would each read the ledger, add their ids and write it back: the last write wins and
the other's endpoints lose their ownership. So apply takes a lease before its first write and gives it
back with its last. Where: in the ledger role mapping itself. That needs no privilege beyond the
`manage_security` apply already has (an Elasticsearch document with `if_seq_no`/`if_primary_term`
would give true compare-and-set but needs index privileges on a new index, which a GitOps token should
not get), `plan` sees the lease in the GET it already makes, and ids and lease are read together.

Role-mapping PUT has no optimistic concurrency control (no version or seq_no on `PutRoleMappingRequest`,
elastic/elasticsearch x-pack/plugin/core/.../security/action/rolemapping/), so the lease is a best effort
against a race, made narrow: a lease is written with a random token, re-read after a settle delay and kept only
if the token is still ours; every later ledger write re-reads first and stops if the token changed. What
remains: two applies whose read-to-write gaps overlap by more than the settle delay (0.25 s by default) can both
believe they hold it until the next ledger write, which then stops one of them; an apply that lost the lease
keeps its claims as pending (never owned unless the live endpoint equals the file). A crashed apply leaves its
lease until it expires (`DEFAULT_TTL`, renewed every third of it while apply runs); an expired lease is taken
over only with `--break-lock`.
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

from provisioning.errors import ManagedLlmError, PlanError
from provisioning.kinds.ownership import LEDGER_NAME, Lease, Ledger, foreign_ledger, ledger_body, read_ledger

DEFAULT_TTL = 300.0
DEFAULT_SETTLE = 0.25


class LockHeld(ManagedLlmError):
    """Another apply holds the lock (or held it and may still be running)."""


class LockLost(ManagedLlmError):
    """The lease was taken over while this apply ran: it writes nothing more to the ledger."""


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
    """One apply's lease; every ledger write of that apply goes through it (one mutex, token checked first)."""

    store: LedgerStore
    holder: str = field(default_factory=default_holder)
    ttl: float = DEFAULT_TTL
    settle: float = DEFAULT_SETTLE
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    writes: int = 0

    def __post_init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._lease: Lease | None = None
        self._content: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None
        self.lost: ManagedLlmError | None = None

    @property
    def held(self) -> bool:
        return self._held

    def acquire(
        self,
        expected: Ledger,
        confirmed: frozenset[str],
        pending: frozenset[str],
        *,
        break_lock: bool = False,
        on_lost: Callable[[], None] = lambda: None,
    ) -> None:
        """Take the lease and write the claims in one PUT, if the ledger is still what the plan read.

        Raises LockHeld when another apply holds it, PlanError when the ledger changed since the plan.
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
            self._put(confirmed, pending)
            self._held = True
            self.sleep(self.settle)
            # No compare-and-set on role mappings: whoever wrote last holds it, and everyone else stops here.
            settled = self._read()
            if settled.lease is None or settled.lease.token != self.token:
                self._held = False
                winner = settled.lease
                raise LockHeld(
                    (held_message(winner, self.clock()) if winner is not None else None)
                    or "another apply took the lock at the same time; retry or wait"
                )
        self._refresher = threading.Thread(target=self._renew, args=(on_lost,), name="apply-lock", daemon=True)
        self._refresher.start()

    def write(self, confirmed: frozenset[str], pending: frozenset[str]) -> None:
        """Write the ledger's ids under the lease, after checking the lease is still ours."""
        with self._mutex:
            self._check(self._read())
            self._put(confirmed, pending)

    def release(self, confirmed: frozenset[str] | None = None, pending: frozenset[str] | None = None) -> None:
        """Write the ids (or the last ones written) without the lease; a lease no longer ours is left alone."""
        self._stop.set()
        with self._mutex:
            if not self._held:
                return
            self._held = False
            found = self._read()
            if found.lease is None or found.lease.token != self.token:
                raise LockLost(self._lost_message(found))
            self._lease = None
            last_confirmed, last_pending = self._content
            self._put(last_confirmed if confirmed is None else confirmed, last_pending if pending is None else pending)

    def release_quietly(self) -> None:
        """On a failure path: give the lease back if possible; if not, it expires by itself."""
        with contextlib.suppress(ManagedLlmError):
            self.release()

    def _renew(self, on_lost: Callable[[], None]) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                with self._mutex:
                    if not self._held or self._lease is None:
                        return
                    self._check(self._read())
                    now = self.clock()
                    self._lease = Lease(self.holder, self.token, self._lease.started, now + timedelta(seconds=self.ttl))
                    self._put(*self._content)
            except ManagedLlmError as exc:
                self.lost = exc
                on_lost()
                return

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
        other = found.lease
        by = f" by another apply ({other.holder}, started {other.to_metadata()['started']})" if other else ""
        return f"the apply lock was taken over{by}; this apply writes nothing more (pending claims stay pending)"

    def _put(self, confirmed: frozenset[str], pending: frozenset[str]) -> None:
        self.store.put_role_mapping(LEDGER_NAME, ledger_body(confirmed, pending, self._lease))
        self._content = (confirmed, pending)
        self.writes += 1
