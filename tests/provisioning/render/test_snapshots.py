"""One snapshot per report x format: what users and pipelines read, held byte for byte.

UPDATE_SNAPSHOTS=1 rewrites the files under tests/provisioning/snapshots/render/ (then review the diff).
The JSON documents are a public contract: a snapshot change there must only ever add fields.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from catalog.models import Price, load_catalog
from provisioning.core.apply import ApplyReport, ChangeResult, Status
from provisioning.core.diff import Action, Change, Diff, FieldChange
from provisioning.core.outcome import Applied, ClusterOutcome, Clusters
from provisioning.core.plan import Plan
from provisioning.ops.models_report import LiveModel, LiveView, join
from provisioning.ops.rotate import KeyStatus, RotationReport, RotationResult
from provisioning.ops.smoke import LogCheck, SmokeReport, SmokeResult, Verdict
from provisioning.ops.usage import aggregate
from provisioning.ops.verify import Control, VerifyReport
from provisioning.ops.verify import Status as ControlStatus
from provisioning.render import FORMATS, emit

SNAPSHOTS = Path(__file__).parents[1] / "snapshots" / "render"
MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)


def _plan() -> Plan:
    changes = (
        Change(
            "inference_endpoint",
            "llm",
            Action.CREATE,
            "not in the cluster",
            (FieldChange("task_type", None, "chat_completion"),),
        ),
        Change("role_mapping", "users", Action.UPDATE, "roles differ", (FieldChange("roles", ["a"], ["a", "b|c"]),)),
        Change("inference_endpoint", "old", Action.REPLACE, "task_type cannot change in place", ()),
    )
    return Plan("https://es.example.com:9200", Diff(changes, kept=(("role_mapping", "kept"),)), cluster_version="9.1.0")


def _applied() -> Applied:
    plan = _plan()
    results = (
        ChangeResult(plan.changes[0], Status.DONE, seconds=0.5),
        ChangeResult(plan.changes[1], Status.FAILED, error="HTTP 400: bad", seconds=0.25),
        ChangeResult(plan.changes[2], Status.NOT_ATTEMPTED),
    )
    return Applied(plan, ApplyReport(plan.target, results, 1, Plan(plan.target, Diff(plan.changes[1:2]))))


def reports() -> dict[str, object]:
    plan, applied = _plan(), _applied()
    usage = aggregate(
        [MODEL, "amazon.titan-embed-text-v2:0"],
        {"m0_invocations": [(START, 3.0)], "m0_input_tokens": [(START, 1000.0)], "m0_output_tokens": [(END, 5.0)]},
        START,
        END,
        {MODEL: Price(input=3.0, output=15.0)},
        "us-east-1",
        "prices as of 2026-01-01 (test)",
    )
    live = LiveView("us-east-1", {MODEL: LiveModel(MODEL, "ACTIVE")}, {}, {})
    return {
        "Plan": plan,
        "Applied": applied,
        "Clusters": Clusters(
            (
                ClusterOutcome("a", 2, plan=plan, output="(a's output)\n"),
                ClusterOutcome("b", 1, error="HTTP 401 | denied"),
            ),
            1,
        ),
        "VerifyReport": VerifyReport(
            (
                Control("logging", "Bedrock logs metadata only", ControlStatus.PASS, "textDataDeliveryEnabled=false"),
                Control("principal", "Least privilege | invoke", ControlStatus.FAIL, "bedrock:* allowed"),
                Control("eol", "Models current", ControlStatus.WARN, "one Legacy model"),
            )
        ),
        "SmokeReport": SmokeReport(
            "managed-llm-canary-0",
            (SmokeResult("llm", "chat_completion", MODEL, Verdict.PASS, 1.2345, "OK"),),
            (LogCheck("metadata only", Verdict.PASS, "1 record, no body"),),
        ),
        "RotationReport": RotationReport(
            "Secrets Manager secret arn:aws:secretsmanager:us-east-1:1:secret:k",
            (RotationResult("llm", KeyStatus.UPDATED, Verdict.PASS, "OK", 0.5),),
            "9.1.0",
        ),
        "UsageReport": usage,
        "ModelsReport": join(load_catalog(), live, {MODEL: ["file"]}, date(2026, 1, 2)),
    }


CASES = [(name, fmt) for name, formats in FORMATS.items() for fmt in formats]
SUFFIX = {"text": "txt", "json": "json", "markdown": "md", "csv": "csv"}


@pytest.mark.parametrize(("name", "fmt"), CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_report_renders_as_its_snapshot(name: str, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The tool's version is in the plan document; a release must not change the snapshots.
    monkeypatch.setattr("provisioning.render.json.__version__", "0.0.0-snapshot")
    out = io.StringIO()
    emit(reports()[name], fmt, out)
    path = SNAPSHOTS / f"{name}.{SUFFIX[fmt]}"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(out.getvalue())
    assert out.getvalue() == path.read_text(), f"{path.name} changed; review and rerun with UPDATE_SNAPSHOTS=1"


def test_every_report_type_has_a_snapshot_case() -> None:
    assert set(reports()) == set(FORMATS)
