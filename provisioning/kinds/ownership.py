"""Which inference endpoints managed-llm owns: a ledger kept in the cluster, in a disabled role mapping.

Inference endpoints carry no metadata, so the tool records the ids it created (or adopted) in the
metadata of one role mapping, `managed-llm-ownership`. It is disabled, its rule can match no user and its
only role does not exist, so it grants nothing; it is read with the role mappings (no extra request) and
written with the `manage_security` privilege the tool needs anyway. Only ids in the ledger are ever
updated, replaced or pruned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from provisioning.model import LEDGER_NAME, MANAGED_BY_KEY, MANAGED_BY_VALUE

__all__ = ["LEDGER_KEY", "LEDGER_NAME", "foreign_ledger", "is_ledger", "ledger_body", "owned_endpoints"]

LEDGER_KEY = "inference_endpoints"
# A user cannot be both of two usernames: this rule matches nobody even if someone enables the mapping.
_MATCHES_NOBODY = {
    "all": [{"field": {"username": "managed-llm-ledger-a"}}, {"field": {"username": "managed-llm-ledger-b"}}]
}
_GRANTS_NOTHING = "managed-llm-ledger-grants-nothing"


def owned_endpoints(role_mappings: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    ledger = role_mappings.get(LEDGER_NAME)
    if ledger is None:
        return frozenset()
    if not is_ledger(ledger):
        return frozenset()  # someone else's mapping with our name: trust nothing in it
    # Preconfigured (`.`) endpoints are never ours, whatever a ledger says.
    ids = (str(i) for i in (ledger.get("metadata") or {}).get(LEDGER_KEY) or [])
    return frozenset(i for i in ids if not i.startswith("."))


def is_ledger(mapping: Mapping[str, Any]) -> bool:
    return (mapping.get("metadata") or {}).get(MANAGED_BY_KEY) == MANAGED_BY_VALUE


def foreign_ledger(role_mappings: Mapping[str, Mapping[str, Any]]) -> str | None:
    """A refusal when someone else's mapping already holds the ledger's name (managed-llm never overwrites it)."""
    found = role_mappings.get(LEDGER_NAME)
    if found is None or is_ledger(found):
        return None
    return (
        f"role mapping {LEDGER_NAME} exists and was not written by managed-llm; "
        "rename or remove it (managed-llm keeps its ownership ledger there)"
    )


def ledger_body(endpoint_ids: Iterable[str]) -> dict[str, Any]:
    return {
        "enabled": False,
        "roles": [_GRANTS_NOTHING],
        "rules": _MATCHES_NOBODY,
        "metadata": {
            MANAGED_BY_KEY: MANAGED_BY_VALUE,
            "description": "managed-llm ownership ledger: inference endpoints this tool manages; grants nothing",
            LEDGER_KEY: sorted(set(endpoint_ids)),
        },
    }
