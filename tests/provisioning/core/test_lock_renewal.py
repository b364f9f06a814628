"""The renewal thread's lease check: a lease taken over while apply runs is noticed at the next renewal, reported
as LockLost, and never overwritten. A mutation inverting that check survived every fast test before this one."""

from __future__ import annotations

import threading
from datetime import timedelta

from provisioning.core.errors import ManagedLlmError
from provisioning.core.kinds.ownership import LEDGER_NAME, Lease, ledger_body, read_ledger
from provisioning.core.lock import ApplyLock, LockLost
from tests.provisioning.core.test_ledger_safety import NOW, WAIT, Store


def test_a_lease_taken_over_is_noticed_by_the_renewal_and_left_to_its_new_holder() -> None:
    store = Store()
    lock = ApplyLock(store, holder="mine", ttl=0.03, settle=0, clock=lambda: NOW, sleep=lambda _: None)
    reported: list[ManagedLlmError] = []
    lost = threading.Event()
    lock.acquire(read_ledger({}), frozenset(), frozenset({"a"}), on_lost=lambda e: (reported.append(e), lost.set()))
    theirs = Lease("theirs", "their-token", NOW, NOW + timedelta(minutes=5))
    with lock._mutex:  # the other apply's PUT lands between two renewals
        store.mappings[LEDGER_NAME] = ledger_body(["a"], [], theirs)
    assert lost.wait(WAIT)
    assert isinstance(reported[0], LockLost)
    assert "the apply lock was taken over" in str(reported[0])
    assert not lock.held
    lock.release_quietly()
    assert read_ledger(store.mappings).lease == theirs


def test_a_lease_still_ours_is_renewed_not_reported() -> None:
    store = Store()
    lock = ApplyLock(store, holder="mine", ttl=0.03, settle=0, clock=lambda: NOW, sleep=lambda _: None)
    reported: list[ManagedLlmError] = []
    lock.acquire(read_ledger({}), frozenset(), frozenset({"a"}), on_lost=reported.append)
    renewed = threading.Event()
    put = store.put_role_mapping

    def counting_put(name: str, body: object) -> None:
        put(name, body)  # type: ignore[arg-type]
        renewed.set()

    store.put_role_mapping = counting_put  # type: ignore[method-assign]
    assert renewed.wait(WAIT)
    lock.release(frozenset({"a"}))
    assert reported == []
    assert lock.lost is None
