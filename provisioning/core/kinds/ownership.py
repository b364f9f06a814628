"""Which inference endpoints managed-llm owns: a ledger kept in the cluster, in a disabled role mapping.

Inference endpoints carry no metadata, so the tool records the ids it created (or adopted) in the
metadata of one role mapping, `managed-llm-ownership`. It is disabled, its rule can match no user and its
only role does not exist, so it grants nothing; it is read with the role mappings (no extra request) and
written with the `manage_security` privilege the tool needs anyway. Only ids in the ledger are ever
updated, replaced or pruned.

Two lists: `inference_endpoints` holds confirmed ids (a create that answered, or an adoption);
`inference_endpoints_pending` holds ids claimed just before their create, so that a crash between the
claim and the answer never leaves an endpoint the tool made but does not know of, and never makes an
endpoint someone else created under a claimed id ours (`diff.resolve_pending` decides). A ledger written
by an earlier version has no pending list: all its ids are confirmed. An id about to be deleted or
replaced is moved to pending too before the delete, so a crash after the delete never leaves the id
confirmed for whoever creates it next. The same metadata carries the apply lock (`Lease`, see
`provisioning.core.lock`), so one GET of the role mappings shows ids and lock together.

Role-mapping PUT replaces the whole mapping and has no compare-and-set, so every write is a merge
(`merge_claims`): an apply re-reads the ledger and changes only the ids it acted on (`Claim`), leaving
every other id as found. A PUT that lands between another apply's re-read and its PUT is still lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from provisioning.core.kinds.role_mappings import is_owned
from provisioning.core.model import LEDGER_NAME, MANAGED_BY_KEY, MANAGED_BY_VALUE

__all__ = [
    "LEDGER_KEY",
    "LEDGER_NAME",
    "PENDING_KEY",
    "Claim",
    "Lease",
    "Ledger",
    "foreign_ledger",
    "ledger_body",
    "merge_claims",
    "owned_endpoints",
    "read_ledger",
]

LEDGER_KEY = "inference_endpoints"
PENDING_KEY = "inference_endpoints_pending"
LOCK_KEY = "apply_lock"
# A user cannot be both of two usernames: this rule matches nobody even if someone enables the mapping.
_MATCHES_NOBODY = {
    "all": [{"field": {"username": "managed-llm-ledger-a"}}, {"field": {"username": "managed-llm-ledger-b"}}]
}
_GRANTS_NOTHING = "managed-llm-ledger-grants-nothing"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Lease:
    """Who holds the apply lock, since when, until when; `token` tells two holders with one name apart."""

    holder: str
    token: str
    started: datetime
    expires: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires

    def to_metadata(self) -> dict[str, str]:
        return {
            "holder": self.holder,
            "token": self.token,
            "started": _timestamp(self.started),
            "expires": _timestamp(self.expires),
        }

    @classmethod
    def from_metadata(cls, value: object) -> Lease:
        """A lease as read from the cluster; anything malformed reads as a lease that has expired."""
        if not isinstance(value, Mapping):
            return cls("unknown holder", "", _EPOCH, _EPOCH)
        started, expires = _parse_time(value.get("started")), _parse_time(value.get("expires"))
        holder = value.get("holder")
        token = value.get("token")
        return cls(
            holder[:200] if isinstance(holder, str) and holder else "unknown holder",
            token if isinstance(token, str) else "",
            started or _EPOCH,
            expires if expires is not None and started is not None else _EPOCH,
        )


@dataclass(frozen=True)
class Ledger:
    confirmed: frozenset[str] = frozenset()
    pending: frozenset[str] = frozenset()
    lease: Lease | None = None


class Claim(StrEnum):
    """What one apply says about one id: ours, claimed (ownership undecided), or not in the ledger."""

    CONFIRMED = "confirmed"
    PENDING = "pending"
    ABSENT = "absent"


def merge_claims(
    found: Ledger, claims: Mapping[str, Claim], *, lost: bool = False
) -> tuple[frozenset[str], frozenset[str]]:
    """The ledger's (confirmed, pending) ids after one apply's `claims` are merged into what it re-read.

    Ids without a claim stay as found, so a concurrent apply's ids survive. `lost` (the lease is someone
    else's): confirmations are written as pending claims, and only confirmed ids are removed, never
    another apply's pending claim (pending never leads to a delete).
    """
    confirmed, pending = set(found.confirmed), set(found.pending - found.confirmed)
    for key, claim in claims.items():
        if claim is Claim.ABSENT and lost:
            confirmed.discard(key)
            continue
        confirmed.discard(key)
        pending.discard(key)
        if claim is Claim.CONFIRMED and not lost:
            confirmed.add(key)
        elif claim is not Claim.ABSENT:
            pending.add(key)
    return frozenset(confirmed), frozenset(pending)


def read_ledger(role_mappings: Mapping[str, Mapping[str, Any]]) -> Ledger:
    """The ledger as found; someone else's mapping under our name gives an empty one (trust nothing in it)."""
    found = role_mappings.get(LEDGER_NAME)
    if found is None or not is_owned(found):
        return Ledger()
    metadata = found.get("metadata") or {}
    lease = metadata.get(LOCK_KEY)
    return Ledger(
        _ids(metadata.get(LEDGER_KEY)),
        _ids(metadata.get(PENDING_KEY)),
        None if lease is None else Lease.from_metadata(lease),
    )


def owned_endpoints(role_mappings: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """Confirmed ids only: a pending claim is not ownership until `diff.resolve_pending` says so."""
    return read_ledger(role_mappings).confirmed


def foreign_ledger(role_mappings: Mapping[str, Mapping[str, Any]]) -> str | None:
    """A refusal when someone else's mapping already holds the ledger's name (managed-llm never overwrites it)."""
    found = role_mappings.get(LEDGER_NAME)
    if found is None or is_owned(found):
        return None
    return (
        f"role mapping {LEDGER_NAME} exists and was not written by managed-llm; "
        "rename or remove it (managed-llm keeps its ownership ledger there)"
    )


def ledger_body(endpoint_ids: Iterable[str], pending: Iterable[str] = (), lease: Lease | None = None) -> dict[str, Any]:
    confirmed = set(endpoint_ids)
    metadata: dict[str, Any] = {
        MANAGED_BY_KEY: MANAGED_BY_VALUE,
        "description": "managed-llm ownership ledger: inference endpoints this tool manages; grants nothing",
        LEDGER_KEY: sorted(confirmed),
    }
    waiting = sorted(set(pending) - confirmed)
    if waiting:
        metadata[PENDING_KEY] = waiting
    if lease is not None:
        metadata[LOCK_KEY] = lease.to_metadata()
    return {"enabled": False, "roles": [_GRANTS_NOTHING], "rules": _MATCHES_NOBODY, "metadata": metadata}


def _ids(value: object) -> frozenset[str]:
    # Preconfigured (`.`) endpoints are never ours, whatever a ledger says.
    if not isinstance(value, list):
        return frozenset()
    return frozenset(str(i) for i in value if isinstance(i, str | int) and not str(i).startswith("."))


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
