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

from provisioning.model import MANAGED_BY_KEY, MANAGED_BY_VALUE

LEDGER_NAME = "managed-llm-ownership"
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
    metadata = ledger.get("metadata") or {}
    if metadata.get(MANAGED_BY_KEY) != MANAGED_BY_VALUE:
        return frozenset()  # someone else's mapping with our name: trust nothing in it
    return frozenset(str(i) for i in metadata.get(LEDGER_KEY) or [])


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
