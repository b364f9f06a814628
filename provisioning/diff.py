"""The pure diff: (desired, actual, ownership) -> an immutable, sorted tuple of changes.

Semantics (what `plan` shows and `apply` executes):
- an id in the file and absent from the cluster is a `create`;
- present and owned (or `adopt`): compared field by field after normalization; only task settings
  changed or added is an `update` (the `_update` API), anything else, or a task setting removed
  (`_update` merges, it cannot remove), is a `replace` (delete + create); role mappings are `update`
  (PUT replaces them whole);
- present and not owned: a `conflict`, never touched;
- owned and absent from the file: `delete` with `prune`, otherwise listed as kept;
- `.`-prefixed endpoints and operator-defined mappings never appear in any change.
Lists are compared as sets where Elasticsearch treats them as sets (roles). Output is sorted by
(kind, id), so the same inputs always give the same plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from provisioning.kinds import inference_endpoints as endpoints
from provisioning.kinds import role_mappings as mappings
from provisioning.kinds.inference_endpoints import EndpointSpec
from provisioning.kinds.role_mappings import RoleMappingSpec

Spec = EndpointSpec | RoleMappingSpec


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class References:
    """Ingest pipelines and indexes (semantic_text) using an endpoint; `known` is False if not checkable."""

    pipelines: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()
    known: bool = True

    @property
    def in_use(self) -> bool:
        return bool(self.pipelines or self.indexes)


@dataclass(frozen=True)
class Change:
    kind: str
    id: str
    action: Action
    reason: str
    fields: tuple[FieldChange, ...] = ()
    desired: Spec | None = None
    actual: Spec | None = None
    references: References | None = None
    blocked: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.id)


@dataclass(frozen=True)
class DiffOptions:
    prune: bool = False
    adopt: bool = False


@dataclass(frozen=True)
class Diff:
    changes: tuple[Change, ...]
    kept: tuple[tuple[str, str], ...] = ()
    ledger_before: frozenset[str] = field(default_factory=frozenset)
    ledger_after: frozenset[str] = field(default_factory=frozenset)


def compare_endpoint(desired: EndpointSpec, actual: EndpointSpec) -> tuple[tuple[FieldChange, ...], Action | None]:
    """Field changes from `actual` to `desired`, and the action they need (None when equal)."""
    changes: list[FieldChange] = []
    for attribute in ("service", "task_type"):
        if getattr(desired, attribute) != getattr(actual, attribute):
            changes.append(FieldChange(attribute, getattr(actual, attribute), getattr(desired, attribute)))
    want, have = desired.field_map(), actual.field_map()
    for path in sorted(set(want) | set(have)):
        if path in endpoints.SERVER_ONLY or (path not in want and path in endpoints.SERVER_DECIDES):
            continue
        if want.get(path) != have.get(path):
            changes.append(FieldChange(path, have.get(path), want.get(path)))
    if not changes:
        return (), None
    in_place = all(c.path.startswith(endpoints.UPDATABLE_PREFIX) and c.after is not None for c in changes)
    return tuple(changes), Action.UPDATE if in_place else Action.REPLACE


def compare_role_mapping(desired: RoleMappingSpec, actual: RoleMappingSpec) -> tuple[FieldChange, ...]:
    want, have = desired.field_map(), actual.field_map()
    return tuple(FieldChange(p, have[p], want[p]) for p in sorted(want) if want[p] != have[p])


def _all_fields(spec: Spec, *, as_after: bool) -> tuple[FieldChange, ...]:
    if isinstance(spec, EndpointSpec):
        items = [("service", spec.service), ("task_type", spec.task_type), *spec.fields]
    else:
        items = sorted(spec.field_map().items())
    return tuple(
        FieldChange(path, None, value) if as_after else FieldChange(path, value, None)
        for path, value in items
        if value is not None
    )


def diff(
    *,
    desired_endpoints: Mapping[str, EndpointSpec],
    actual_endpoints: Mapping[str, EndpointSpec],
    owned_endpoints: frozenset[str],
    desired_mappings: Mapping[str, RoleMappingSpec],
    actual_mappings: Mapping[str, RoleMappingSpec],
    owned_mappings: frozenset[str],
    options: DiffOptions = DiffOptions(),
) -> Diff:
    """Everything needed to converge, plus the ownership ledger before and after. Pure and deterministic.

    `actual_mappings` must already exclude operator-defined mappings and the ledger itself.
    """
    changes: list[Change] = []
    kept: list[tuple[str, str]] = []
    claimed: set[str] = set()

    for endpoint_id in sorted(desired_endpoints):
        want = desired_endpoints[endpoint_id]
        have = actual_endpoints.get(endpoint_id)
        kind = endpoints.KIND
        if have is None:
            changes.append(
                Change(kind, endpoint_id, Action.CREATE, "not in the cluster", _all_fields(want, as_after=True), want)
            )
            claimed.add(endpoint_id)
            continue
        if endpoint_id not in owned_endpoints and not options.adopt:
            changes.append(
                Change(
                    kind,
                    endpoint_id,
                    Action.CONFLICT,
                    "exists but is not managed by managed-llm (use --adopt)",
                    (),
                    want,
                    have,
                )
            )
            continue
        claimed.add(endpoint_id)
        fields, action = compare_endpoint(want, have)
        if action is not None:
            reason = "task settings differ" if action is Action.UPDATE else _replace_reason(fields)
            changes.append(Change(kind, endpoint_id, action, reason, fields, want, have))

    for endpoint_id in sorted((owned_endpoints & set(actual_endpoints)) - set(desired_endpoints)):
        if endpoints.is_reserved(endpoint_id):
            continue
        if options.prune:
            have = actual_endpoints[endpoint_id]
            changes.append(
                Change(
                    endpoints.KIND,
                    endpoint_id,
                    Action.DELETE,
                    "owned and not in the file (--prune)",
                    _all_fields(have, as_after=False),
                    None,
                    have,
                )
            )
        else:
            kept.append((endpoints.KIND, endpoint_id))
            claimed.add(endpoint_id)

    for name in sorted(desired_mappings):
        want_mapping = desired_mappings[name]
        have_mapping = actual_mappings.get(name)
        kind = mappings.KIND
        if have_mapping is None:
            changes.append(
                Change(
                    kind,
                    name,
                    Action.CREATE,
                    "not in the cluster",
                    _all_fields(want_mapping, as_after=True),
                    want_mapping,
                )
            )
        elif name not in owned_mappings and not options.adopt:
            changes.append(
                Change(
                    kind,
                    name,
                    Action.CONFLICT,
                    "exists but is not managed by managed-llm (use --adopt)",
                    (),
                    want_mapping,
                    have_mapping,
                )
            )
        elif fields := compare_role_mapping(want_mapping, have_mapping):
            changes.append(
                Change(
                    kind,
                    name,
                    Action.UPDATE,
                    ", ".join(f.path for f in fields) + " differ",
                    fields,
                    want_mapping,
                    have_mapping,
                )
            )

    for name in sorted((owned_mappings & set(actual_mappings)) - set(desired_mappings)):
        if options.prune:
            have_mapping = actual_mappings[name]
            changes.append(
                Change(
                    mappings.KIND,
                    name,
                    Action.DELETE,
                    "owned and not in the file (--prune)",
                    _all_fields(have_mapping, as_after=False),
                    None,
                    have_mapping,
                )
            )
        else:
            kept.append((mappings.KIND, name))

    changes.sort(key=lambda c: c.key)
    return Diff(
        changes=tuple(changes),
        kept=tuple(sorted(kept)),
        ledger_before=owned_endpoints,
        ledger_after=frozenset(claimed),
    )


def _replace_reason(fields: tuple[FieldChange, ...]) -> str:
    immutable = [f.path for f in fields if not (f.path.startswith(endpoints.UPDATABLE_PREFIX) and f.after is not None)]
    return "cannot be changed in place: " + ", ".join(immutable)
