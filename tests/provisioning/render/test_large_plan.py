"""A plan or apply too long to read row by row is summarised (issue 14); small ones keep the table."""

from __future__ import annotations

import io

from provisioning.core.apply import ApplyReport, ChangeResult, Status
from provisioning.core.diff import Action, Change, Diff, FieldChange
from provisioning.core.plan import Plan
from provisioning.render.text import LARGE_PLAN, SUMMARY_IDS, apply_text, plan_text


def _creates(n: int) -> list[Change]:
    return [
        Change(
            "inference_endpoint",
            f"llm-{i:05d}",
            Action.CREATE,
            "not in the cluster",
            (FieldChange("task_type", None, "chat_completion"),),
        )
        for i in range(n)
    ]


def _render(changes: list[Change]) -> str:
    stream = io.StringIO()
    plan_text(Plan("https://es.example.com:9200", Diff(tuple(sorted(changes, key=lambda c: c.key)))), stream)
    return stream.getvalue()


def test_plan_text_summarises_a_large_plan_per_kind_and_action() -> None:
    changes = _creates(10_000) + [
        Change("role_mapping", f"team-{i}", Action.DELETE, "not in the file") for i in range(3)
    ]
    text = _render(changes)
    assert "10003 changes (more than 500): summarised; --output json lists every change." in text
    assert (
        "+ create inference_endpoint: 10000 (llm-00000, llm-00001, llm-00002, llm-00003, llm-00004, ... and 9995 more)"
        in text
    )
    assert "- delete role_mapping: 3 (team-0, team-1, team-2)\n" in text
    # No row per change: the ids past the first few of each group are not drawn.
    assert "llm-00005" not in text
    assert "task_type = chat_completion" not in text
    assert text.endswith("Plan: 10000 to create, 0 to update, 0 to replace, 3 to delete.\n")


def test_plan_text_summary_still_shows_every_conflict_and_blocked_change() -> None:
    changes = [
        *_creates(LARGE_PLAN),
        Change("inference_endpoint", "taken", Action.CONFLICT, "exists and is not managed by managed-llm"),
        Change("inference_endpoint", "used", Action.REPLACE, "task_type cannot change", blocked="in use by pipeline p"),
    ]
    text = _render(changes)
    assert "summarised" in text
    assert "exists and is not managed by managed-llm" in text
    assert "BLOCKED: in use by pipeline p" in text


def test_plan_text_draws_every_row_up_to_the_threshold() -> None:
    text = _render(_creates(LARGE_PLAN))
    assert "summarised" not in text
    assert all(f"llm-{i:05d}" in text for i in range(SUMMARY_IDS + 1, LARGE_PLAN, 97))


def test_per_endpoint_notes_of_a_large_plan_are_said_once_per_statement() -> None:
    """10,000 endpoints on one Legacy model: one warning naming the count and a few ids, not 10,000 lines."""

    from catalog.lifecycle import endpoint_findings
    from catalog.models import load_catalog

    legacy = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    changes = _creates(LARGE_PLAN + 1)
    on = load_catalog().model(legacy).lifecycle.legacy_date  # type: ignore[union-attr]
    findings = endpoint_findings(((c.id, legacy, True) for c in changes), load_catalog(), on)
    plan = Plan("https://es.example.com:9200", Diff(tuple(changes)), lifecycle=findings)
    stream = io.StringIO()
    plan_text(plan, stream)
    text = stream.getvalue()
    warnings = [line for line in text.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, warnings[:3]
    assert f"[{LARGE_PLAN + 1} endpoints: llm-00000, llm-00001" in warnings[0]
    assert "Legacy" in warnings[0]
    # A small plan keeps one line per endpoint.
    small = Plan("https://es.example.com:9200", Diff(tuple(changes[:2])), lifecycle=findings[:2])
    stream = io.StringIO()
    plan_text(small, stream)
    assert [line for line in stream.getvalue().splitlines() if line.startswith("warning:")] == [
        f"warning: {f.message}" for f in findings[:2]
    ]


def _report(statuses: list[Status]) -> ApplyReport:
    results = tuple(
        ChangeResult(
            Change("inference_endpoint", f"llm-{i:05d}", Action.CREATE, "not in the cluster"),
            status,
            "HTTP 400: bad model" if status is Status.FAILED else None,
            0.1,
        )
        for i, status in enumerate(statuses)
    )
    return ApplyReport("https://es.example.com:9200", results, 1, None)


def test_apply_text_summarises_a_large_apply_and_still_lists_every_failure() -> None:
    statuses = [Status.DONE] * 9_990 + [Status.FAILED] * 3 + [Status.NOT_ATTEMPTED] * 7
    stream = io.StringIO()
    apply_text(_report(statuses), stream)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "10000 changes (more than 500): summarised; --output json lists every result."
    assert lines[1] == (
        "done: create inference_endpoint: 9990 "
        "(llm-00000, llm-00001, llm-00002, llm-00003, llm-00004, ... and 9985 more)"
    )
    assert lines[2] == "failed: create inference_endpoint: 3 (llm-09990, llm-09991, llm-09992)"
    assert lines[3].startswith("not attempted: create inference_endpoint: 7 (llm-09993, ")
    failures = [line for line in lines if line.startswith("failed: create inference_endpoint llm-")]
    assert failures == [f"failed: create inference_endpoint llm-0999{i}: HTTP 400: bad model" for i in range(3)]
    assert len(lines) == 4 + 3 + 1  # summary, failures, verdict


def test_apply_text_keeps_the_table_for_a_small_apply() -> None:
    stream = io.StringIO()
    apply_text(_report([Status.DONE] * LARGE_PLAN), stream)
    text = stream.getvalue()
    assert "summarised" not in text
    assert text.count("llm-") == LARGE_PLAN
