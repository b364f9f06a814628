"""`--output json`: one document function per report, and the one `FORMAT_VERSION`.

The documents are a public contract: `format_version` stays 1 and fields are only ever added, never
renamed or removed (tests/provisioning/render/test_snapshots.py holds each document's shape).
"""

from __future__ import annotations

import json
from typing import IO, Any

from catalog.lifecycle import Assessment, Finding, PresetResolution
from catalog.models import Price
from provisioning import __version__
from provisioning.core.apply import ApplyReport
from provisioning.core.diff import Change
from provisioning.core.kinds.ownership import LEDGER_NAME
from provisioning.core.outcome import ClusterOutcome, Clusters
from provisioning.core.plan import Plan
from provisioning.ops.models_report import Dated, ModelRow, ModelsReport
from provisioning.ops.rotate import RotationReport
from provisioning.ops.smoke import SmokeReport
from provisioning.ops.usage import FIELDS, Day, ModelUsage, UsageReport
from provisioning.ops.verify import Status as ControlStatus
from provisioning.ops.verify import VerifyReport

FORMAT_VERSION = 1


def write(document: dict[str, Any], stream: IO[str]) -> None:
    """Every JSON document is printed the same way: indented, one trailing newline."""
    stream.write(json.dumps(document, indent=2) + "\n")


def change_document(change: Change) -> dict[str, Any]:
    references = change.references
    return {
        "kind": change.kind,
        "id": change.id,
        "action": change.action.value,
        "reason": change.reason,
        "fields": [{"path": f.path, "before": f.before, "after": f.after} for f in change.fields],
        "references": None
        if references is None
        else {"pipelines": list(references.pipelines), "indexes": list(references.indexes), "known": references.known},
        "blocked": change.blocked,
    }


def _assessment(assessment: Assessment) -> dict[str, Any]:
    return {
        "model": assessment.model,
        "state": assessment.state,
        "eol_date": assessment.eol_date.isoformat() if assessment.eol_date else None,
        "successor": assessment.successor,
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "endpoint": finding.endpoint,
        "level": finding.level,
        **_assessment(finding.assessment),
        "message": finding.message,
    }


def _preset(preset: PresetResolution) -> dict[str, Any]:
    return {
        "endpoint": preset.endpoint,
        "preset": preset.preset,
        "model": preset.model,
        "overridden": preset.overridden,
        "elastic": preset.elastic,
    }


def plan_document(plan: Plan) -> dict[str, Any]:
    """`plan --output json`."""
    return {
        "format_version": FORMAT_VERSION,
        "tool": {"name": "managed-llm", "version": __version__},
        "target": plan.target,
        "cluster": {"version": plan.cluster_version, "refusals": list(plan.refusals)},
        "options": {
            "prune": plan.options.prune,
            "adopt": plan.options.adopt,
            "force_replace": plan.options.force_replace,
        },
        "summary": {a.value: n for a, n in plan.counts.items()} | {"blocked": len(plan.blocked)},
        "changes": [change_document(c) for c in plan.changes],
        "kept_without_prune": [{"kind": k, "id": i} for k, i in plan.diff.kept],
        "kibana_connectors": [
            {
                "id": s.spec.id,
                "name": s.spec.name,
                "endpoint": s.spec.inference_id,
                "state": s.state.value,
                "detail": s.detail,
            }
            for s in plan.kibana
        ],
        "ownership_ledger": {
            "name": LEDGER_NAME,
            "before": sorted(plan.diff.ledger_before),
            "after": sorted(plan.diff.ledger_after),
            "pending_before": sorted(plan.diff.pending_before),
            "pending_confirmed": sorted(plan.diff.pending_confirmed),
            "lock": None if plan.lock is None else {k: v for k, v in plan.lock.to_metadata().items() if k != "token"},
        },
        "lifecycle": [_finding(f) for f in plan.lifecycle],
        "presets": [_preset(p) for p in plan.presets],
        "deployment": None
        if plan.resolution is None
        else {
            "name": plan.resolution.deployment,
            "models": [
                {"endpoint": m.endpoint_id, "model": m.model, "profile_arn": m.profile_arn}
                for m in plan.resolution.models
            ],
        },
        "exit_code": plan.exit_code,
    }


def apply_report_document(report: ApplyReport) -> dict[str, Any]:
    """What apply did (the `apply` half of `apply --output json`)."""
    return {
        "format_version": FORMAT_VERSION,
        "target": report.target,
        "results": [
            {**change_document(r.change), "status": r.status.value, "error": r.error, "seconds": round(r.seconds, 3)}
            for r in report.results
        ],
        "ownership_ledger_writes": report.ledger_writes,
        "converged": report.converged,
        "interrupted": report.interrupted,
        "remaining": None if report.final_plan is None else [change_document(c) for c in report.final_plan.changes],
        "exit_code": report.exit_code,
    }


def apply_document(plan: Plan, report: ApplyReport) -> dict[str, Any]:
    """`apply --output json`: the plan apply worked from, and what it did."""
    # format_version at the top too (added in 0.2.0: every document carries it; fields are only ever added).
    return {"format_version": FORMAT_VERSION, "plan": plan_document(plan), "apply": apply_report_document(report)}


def verify_document(report: VerifyReport) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "controls": [
            {"id": c.id, "title": c.title, "status": c.status.value, "evidence": c.evidence} for c in report.controls
        ],
        "summary": {s.value: sum(1 for c in report.controls if c.status is s) for s in ControlStatus},
        "exit_code": report.exit_code,
    }


def smoke_document(report: SmokeReport) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "canary": report.canary,
        "endpoints": [
            {
                "id": r.endpoint_id,
                "task_type": r.task_type,
                "model": r.model,
                "status": r.verdict.value,
                "seconds": round(r.seconds, 3),
                "detail": r.detail,
            }
            for r in report.results
        ],
        "log_checks": [{"check": c.name, "status": c.verdict.value, "evidence": c.evidence} for c in report.log_checks],
        "exit_code": report.exit_code,
    }


def rotation_document(report: RotationReport) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "credentials": report.source,
        "cluster_version": report.cluster_version,
        "endpoints": [
            {
                "id": r.endpoint_id,
                "key": r.key.value,
                "smoke": r.smoke.value if r.smoke else None,
                "detail": r.detail,
                "seconds": round(r.seconds, 3),
            }
            for r in report.results
        ],
        "exit_code": report.exit_code,
    }


def _price(price: Price | None) -> dict[str, float] | None:
    return None if price is None else {"input": price.input, "output": price.output}


def _cost(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _day(day: Day, cost: float | None) -> dict[str, Any]:
    return {"day": day.day.isoformat(), **{f: getattr(day, f) for f in FIELDS}, "cost_usd": _cost(cost)}


def _model_usage(model: ModelUsage) -> dict[str, Any]:
    return {
        "model": model.model,
        "price_per_million": _price(model.price),
        "days": [_day(d, model.cost(d)) for d in model.days],
        "totals": {**{f: model.total(f) for f in FIELDS}, "cost_usd": _cost(model.cost())},
    }


def usage_document(report: UsageReport) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "region": report.region,
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "currency": "USD",
        "prices": report.price_source,
        "models": [_model_usage(m) for m in report.by_model()],
        "totals": {**{f: report.total(f) for f in FIELDS}, "cost_usd": round(report.total_cost(), 6)},
        "source": report.source,
        "by": list(report.by),
        "groups": [
            {**dict(zip(report.by, g.key, strict=True)), **g.totals, "cost_usd": _cost(g.cost)} for g in report.groups()
        ],
        "notes": list(report.notes),
    }


def _dated(dated: Dated) -> dict[str, str | None]:
    return {
        "bedrock": None if dated.live is None else dated.live.isoformat(),
        "catalog": None if dated.catalog is None else dated.catalog.isoformat(),
    }


def _model_row(row: ModelRow) -> dict[str, Any]:
    return {
        "model": row.model,
        "name": row.name,
        "foundation_model_id": row.foundation_model_id,
        "task_types": list(row.task_types),
        "us_profile": None
        if row.us_profile is None
        else {"id": row.us_profile, "regions": None if row.profile_regions is None else list(row.profile_regions)},
        "listed_by_bedrock": row.listed,
        "lifecycle": {
            "state": row.state,
            "bedrock": row.live_status,
            "catalog": row.catalog_state,
            "legacy": _dated(row.legacy),
            "public_extended_access": _dated(row.public_extended_access),
            "eol": _dated(row.eol),
            "successor": row.successor,
        },
        "access": {"state": row.access.value, "reason": row.access_reason or None},
        "price_per_million": _price(row.price),
        "used_by": list(row.used_by),
        "problems": row.problems(),
    }


def models_document(report: ModelsReport) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "region": report.region,
        "today": report.today.isoformat(),
        "models": [_model_row(r) for r in report.rows],
        "notes": list(report.notes),
        "failures": report.failures,
        "exit_code": report.exit_code,
    }


def _cluster(outcome: ClusterOutcome) -> dict[str, Any]:
    return {
        "name": outcome.name,
        "exit_code": outcome.exit_code,
        "error": outcome.error,
        "plan": None if outcome.plan is None else plan_document(outcome.plan),
        "apply": None if outcome.report is None else apply_report_document(outcome.report),
    }


def clusters_document(clusters: Clusters) -> dict[str, Any]:
    """Several clusters in one file: each cluster's plan and apply documents and the combined exit code."""
    return {
        "format_version": FORMAT_VERSION,
        "clusters": [_cluster(o) for o in clusters.outcomes],
        "exit_code": clusters.exit_code,
    }
