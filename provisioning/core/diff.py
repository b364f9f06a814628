"""The pure diff: (desired, actual, ownership) -> an immutable, sorted tuple of changes.

Semantics (what `plan` shows and `apply` executes):
- an id in the file and absent from the cluster is a `create`;
- present and owned (or `adopt`): compared field by field after normalization; only task settings
  changed or added is an `update` (the `_update` API), anything else, or a task setting removed
  (`_update` merges, it cannot remove), is a `replace` (delete + create); role mappings are `update`
  (PUT replaces them whole);
- present and not owned: a `conflict`, never touched; a pending claim (an id claimed just before a
  create, replace or delete whose answer never came or was an error: crash, kill) is owned only if the
  live endpoint is exactly what the file asks for (`resolve_pending`, the one place this is decided),
  otherwise it is someone else's: so an id deleted just before a crash is never pruned again;
- owned and absent from the file: `delete` with `prune`, otherwise listed as kept;
- `.`-prefixed endpoints and operator-defined mappings never appear in any change.
Lists are compared as sets where Elasticsearch treats them as sets (roles). Output is sorted by
(kind, id), so the same inputs always give the same plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from provisioning.core.kinds import inference_endpoints as endpoints
from provisioning.core.kinds import role_mappings as mappings
from provisioning.core.kinds.inference_endpoints import EndpointSpec
from provisioning.core.kinds.role_mappings import RoleMappingSpec

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
    # Pending claims found in the ledger, and those of them that stand (the live endpoint equals the file).
    pending_before: frozenset[str] = field(default_factory=frozenset)
    pending_confirmed: frozenset[str] = field(default_factory=frozenset)


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


def resolve_pending(
    pending: frozenset[str], desired: Mapping[str, EndpointSpec], actual: Mapping[str, EndpointSpec]
) -> frozenset[str]:
    """The pending claims that become ownership: the live endpoint is exactly what the file asks for.

    A pending id was claimed before its create, replace or delete, and no answer recorded the outcome (the
    process was killed, or the write failed). If the endpoint now equals the file, the create went through
    (or someone made exactly what we wanted: the keys are write-only and cannot be compared); if it
    differs, or the id left the file, it cannot be told apart from someone else's endpoint, so it is not
    owned: a conflict, and never pruned.
    """
    return frozenset(
        i for i in pending if i in desired and i in actual and compare_endpoint(desired[i], actual[i])[1] is None
    )


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


Compare = Callable[[Any, Any], tuple[tuple[FieldChange, ...], Action | None, str]]


def _compare_endpoints(want: EndpointSpec, have: EndpointSpec) -> tuple[tuple[FieldChange, ...], Action | None, str]:
    fields, action = compare_endpoint(want, have)
    reason = "task settings differ" if action is Action.UPDATE else _replace_reason(fields)
    return fields, action, reason


def _compare_mappings(
    want: RoleMappingSpec, have: RoleMappingSpec
) -> tuple[tuple[FieldChange, ...], Action | None, str]:
    fields = compare_role_mapping(want, have)
    return fields, Action.UPDATE if fields else None, ", ".join(f.path for f in fields) + " differ"


@dataclass
class _KindDiff:
    changes: list[Change] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    managed: set[str] = field(default_factory=set)


def _diff_kind(
    kind: str,
    desired: Mapping[str, Spec],
    actual: Mapping[str, Spec],
    owned: frozenset[str],
    compare: Compare,
    options: DiffOptions,
) -> _KindDiff:
    """Creates, conflicts, updates/replaces for ids in the file; deletes or kept for owned ids not in it.

    `managed` is every id managed-llm owns once the changes are made (the ledger's next content).
    """
    out = _KindDiff()
    for key in sorted(desired):
        want, have = desired[key], actual.get(key)
        if have is None:
            out.changes.append(
                Change(kind, key, Action.CREATE, "not in the cluster", _all_fields(want, as_after=True), want)
            )
        elif key not in owned and not options.adopt:
            reason = "exists but is not managed by managed-llm (use --adopt)"
            out.changes.append(Change(kind, key, Action.CONFLICT, reason, (), want, have))
            continue
        else:
            fields, action, reason = compare(want, have)
            if action is not None:
                out.changes.append(Change(kind, key, action, reason, fields, want, have))
        out.managed.add(key)
    for key in sorted((owned & set(actual)) - set(desired)):
        if endpoints.is_reserved(key):
            continue
        if options.prune:
            have = actual[key]
            reason = "owned and not in the file (--prune)"
            out.changes.append(Change(kind, key, Action.DELETE, reason, _all_fields(have, as_after=False), None, have))
        else:
            out.kept.append((kind, key))
            out.managed.add(key)
    return out


def diff(
    *,
    desired_endpoints: Mapping[str, EndpointSpec],
    actual_endpoints: Mapping[str, EndpointSpec],
    owned_endpoints: frozenset[str],
    desired_mappings: Mapping[str, RoleMappingSpec],
    actual_mappings: Mapping[str, RoleMappingSpec],
    owned_mappings: frozenset[str],
    options: DiffOptions = DiffOptions(),
    pending_endpoints: frozenset[str] = frozenset(),
) -> Diff:
    """Everything needed to converge, plus the ownership ledger before and after. Pure and deterministic.

    `actual_mappings` must already exclude operator-defined mappings and the ledger itself;
    `owned_endpoints` are the ledger's confirmed ids, `pending_endpoints` its pending claims.
    """
    confirmed = resolve_pending(pending_endpoints - owned_endpoints, desired_endpoints, actual_endpoints)
    for_endpoints = _diff_kind(
        endpoints.KIND, desired_endpoints, actual_endpoints, owned_endpoints | confirmed, _compare_endpoints, options
    )
    for_mappings = _diff_kind(
        mappings.KIND, desired_mappings, actual_mappings, owned_mappings, _compare_mappings, options
    )
    return Diff(
        changes=tuple(sorted(for_endpoints.changes + for_mappings.changes, key=lambda c: c.key)),
        kept=tuple(sorted(for_endpoints.kept + for_mappings.kept)),
        ledger_before=owned_endpoints,
        ledger_after=frozenset(for_endpoints.managed),
        pending_before=pending_endpoints - owned_endpoints,
        pending_confirmed=confirmed,
    )


def _replace_reason(fields: tuple[FieldChange, ...]) -> str:
    immutable = [f.path for f in fields if not (f.path.startswith(endpoints.UPDATABLE_PREFIX) and f.after is not None)]
    return "cannot be changed in place: " + ", ".join(immutable)
