"""From a desired state and what the cluster returned to a Plan: normalize both sides, diff, check references.

I/O goes through the small `ClusterReader` protocol (implemented by `es_client.EsClient`): one read of
everything, plus a dry-run reference check for each endpoint a plan would replace or delete.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from catalog import lifecycle
from catalog.models import Catalog, load_catalog
from provisioning.core import cycles
from provisioning.core.deployments import Resolution
from provisioning.core.diff import Action, Change, Diff, DiffOptions, References, diff
from provisioning.core.kinds import inference_endpoints as endpoints
from provisioning.core.kinds import kibana_connectors
from provisioning.core.kinds import role_mappings as mappings
from provisioning.core.kinds.inference_endpoints import EndpointSpec
from provisioning.core.kinds.ownership import LEDGER_NAME, Ledger, foreign_ledger, read_ledger
from provisioning.core.model import DesiredState
from provisioning.core.plan import Plan, PlanOptions
from provisioning.core.versions import refusals

ReferenceLookup = Callable[[str, str], References]


@dataclass(frozen=True)
class ClusterState:
    """What one GET per kind returned: endpoint bodies, and role mappings by name."""

    endpoints: tuple[Mapping[str, Any], ...]
    role_mappings: Mapping[str, Mapping[str, Any]]


class KibanaReader(Protocol):
    def connectors(self) -> list[Mapping[str, Any]]: ...


class ClusterReader(Protocol):
    def version(self) -> str | None: ...

    def read_all(self) -> ClusterState: ...

    def references(self, endpoint_id: str, task_type: str) -> References: ...


def make_plan(
    desired: DesiredState,
    reader: ClusterReader,
    options: PlanOptions,
    target: str,
    catalog: Catalog | None = None,
    kibana: KibanaReader | None = None,
    resolution: Resolution | None = None,
) -> Plan:
    """GET / once for the version, then one GET per kind (and Kibana's connector list), then the diff."""
    catalog = catalog or load_catalog()
    version = reader.version()
    listed = kibana.connectors() if kibana is not None and desired.kibana is not None else None
    plan = plan_from_state(
        desired, reader.read_all(), options, target, reader.references, catalog, listed, resolution=resolution
    )
    found = refusals(desired, version, catalog) if version is not None else ()
    return dataclasses.replace(plan, cluster_version=version, refusals=(*plan.refusals, *found))


def unknown_references(endpoint_id: str, task_type: str) -> References:
    return References(known=False)


def plan_from_state(
    desired: DesiredState,
    state: ClusterState,
    options: PlanOptions,
    target: str,
    references: ReferenceLookup = unknown_references,
    catalog: Catalog | None = None,
    listed_connectors: Sequence[Mapping[str, Any]] | None = None,
    today: date | None = None,
    resolution: Resolution | None = None,
) -> Plan:
    """The diff of `desired` (catalog ids as models; `resolution` gives the ARNs written instead) and `state`."""
    catalog = catalog or load_catalog()
    on = today or lifecycle.today()
    region = desired.bedrock.region if desired.bedrock is not None else ""
    actual_mappings = {
        name: body
        for name, body in state.role_mappings.items()
        if name != LEDGER_NAME and not mappings.is_read_only(name, body)
    }
    ledger = read_ledger(state.role_mappings)
    with cycles.paused():  # pure and allocation-heavy; the reference lookups below talk to the cluster
        result = _diff(desired, state, region, resolution, ledger, actual_mappings, options)
    presets = {e.id: e.preset for e in desired.inference_endpoints if e.preset is not None}
    checked = tuple(
        _with_preset_note(_with_references(c, references, options), presets, catalog, on) for c in result.changes
    )
    connectors: tuple[kibana_connectors.ConnectorStatus, ...] = ()
    if listed_connectors is not None:
        existing = {str(b.get("inference_id")) for b in state.endpoints}
        wanted = kibana_connectors.desired_all(desired, catalog)
        connectors = kibana_connectors.status(wanted, listed_connectors, existing)
    ledger_refusal = foreign_ledger(state.role_mappings)
    written = {c.id for c in checked if c.kind == endpoints.KIND and c.action in (Action.CREATE, Action.REPLACE)}
    findings = lifecycle.endpoint_findings(
        ((e.id, e.model, e.id in written) for e in sorted(desired.inference_endpoints, key=lambda e: e.id)), catalog, on
    )
    return Plan(
        target=target,
        diff=dataclasses.replace(result, changes=checked),
        options=options,
        kibana=connectors,
        refusals=(
            *((ledger_refusal,) if ledger_refusal else ()),
            *(f.message for f in findings if f.level == "refuse"),
        ),
        lock=ledger.lease,
        lifecycle=findings,
        resolution=resolution,
        presets=lifecycle.resolve_presets(
            sorted((e.id, e.preset, e.model) for e in desired.inference_endpoints if e.preset is not None), catalog, on
        ),
    )


def _diff(
    desired: DesiredState,
    state: ClusterState,
    region: str,
    resolution: Resolution | None,
    ledger: Ledger,
    actual_mappings: Mapping[str, Mapping[str, Any]],
    options: PlanOptions,
) -> Diff:
    """Both sides in canonical form, then the diff: pure, no request."""
    return diff(
        desired_endpoints={
            e.id: endpoints.desired(e, region, resolution.arn(e.id) if resolution else None)
            for e in desired.inference_endpoints
        },
        actual_endpoints={
            str(b.get("inference_id")): endpoints.normalize(b)
            for b in state.endpoints
            if not endpoints.is_reserved(str(b.get("inference_id", "")))
        },
        owned_endpoints=ledger.confirmed,
        pending_endpoints=ledger.pending,
        desired_mappings={m.name: mappings.desired(m) for m in desired.role_mappings},
        actual_mappings={name: mappings.normalize(name, body) for name, body in actual_mappings.items()},
        owned_mappings=frozenset(name for name, body in actual_mappings.items() if mappings.is_owned(body)),
        options=DiffOptions(prune=options.prune, adopt=options.adopt),
    )


def _with_preset_note(change: Change, presets: Mapping[str, str], catalog: Catalog, on: date) -> Change:
    """Say so when an endpoint changes because its preset means another model in this version of the tool,
    and what Elastic means by the preset's name (on `on`: Elastic's model may be past EOL)."""
    preset = catalog.preset(presets[change.id]) if change.kind == endpoints.KIND and change.id in presets else None
    if preset is None:
        return change
    for field in change.fields:
        if field.path == "service_settings.model" and field.before in preset.previous_models():
            since = next(v.since for v in preset.history if v.model == preset.model)
            elastic = lifecycle.elastic_meaning(preset, catalog, on)
            was = f"was {field.before}" + (f"; {elastic}" if elastic else "")
            note = f"preset {preset.id} means {preset.model} since managed-llm {since} ({was})"
            return dataclasses.replace(change, reason=f"{note}; {change.reason}")
    return change


def _with_references(change: Change, references: ReferenceLookup, options: PlanOptions) -> Change:
    """Replacing or deleting an endpoint breaks the pipelines and semantic_text fields using it."""
    if change.action not in (Action.REPLACE, Action.DELETE) or not isinstance(change.actual, EndpointSpec):
        return change
    found = references(change.id, change.actual.task_type)
    blocked = None
    if found.in_use and not options.force_replace:
        users = [
            f"pipelines [{', '.join(found.pipelines)}]" if found.pipelines else "",
            f"indexes [{', '.join(found.indexes)}]" if found.indexes else "",
        ]
        blocked = (
            f"in use by {' and '.join(u for u in users if u)}; pass --force-replace to {change.action.value} it anyway"
        )
    return dataclasses.replace(change, references=found, blocked=blocked)
