"""`--output text`: every report as the user reads it in a terminal or a CI log (rich), and apply progress.

Nothing else formats output. Specs hold no secrets by construction, so nothing rendered here can show
one; credentials appear only as their source ("environment", "Secrets Manager secret <arn>").
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from provisioning.adapters.redact import redact
from provisioning.core.apply import ApplyReport, ChangeResult, Status
from provisioning.core.diff import Action, Change, FieldChange
from provisioning.core.outcome import Clusters
from provisioning.core.plan import Plan
from provisioning.ops.models_report import Access, ModelsReport
from provisioning.ops.rotate import RotationReport
from provisioning.ops.smoke import SmokeReport
from provisioning.ops.usage import FIELDS, UsageReport
from provisioning.ops.verify import VerifyReport

SYMBOLS = {
    Action.CREATE: ("+", "green"),
    Action.UPDATE: ("~", "yellow"),
    Action.REPLACE: ("-/+", "magenta"),
    Action.DELETE: ("-", "red"),
    Action.CONFLICT: ("!", "bold red"),
}
STATUS_STYLE = {Status.DONE: "green", Status.FAILED: "bold red", Status.NOT_ATTEMPTED: "yellow"}
# Fields worth a line on create/delete rows; the JSON output carries every field.
HEADLINE_FIELDS = (
    "task_type",
    "service_settings.model",
    "service_settings.provider",
    "service_settings.region",
    "service_settings.rate_limit.requests_per_minute",
    "roles",
    "rules",
    "enabled",
)
# Above this many changes a plan is summarised per kind and action instead of drawn row by row: rich's
# table layout measures every cell (about 1 ms per change, so 10 s for 10,000 creates) and a plan that
# long is not read line by line anyway; `--output json` carries every change.
LARGE_PLAN = 500
# Ids named per group in a summarised plan, so a reviewer can spot-check what a group holds.
SUMMARY_IDS = 5


class RedactingConsole(Console):
    """Redacts every string and Text before rich lays it out.

    On a terminal rich wraps long lines and folds table cells (`overflow="fold"`), which can cut a secret
    across two lines that the line-based RedactingStream then sees separately; redacting here, before
    layout, masks it whole.
    """

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(redact(text), **kwargs)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        if isinstance(renderable, Text) and (clean := redact(renderable.plain)) != renderable.plain:
            renderable = Text(clean, style=renderable.style, overflow=renderable.overflow, no_wrap=renderable.no_wrap)
        return super().render(renderable, options)


def console(stream: IO[str]) -> Console:
    """A console that wraps nothing when the output is a log file (CI) and colours only real terminals."""
    terminal = stream.isatty()
    return RedactingConsole(
        file=stream,
        width=None if terminal else 200,
        soft_wrap=not terminal,
        highlight=False,
        markup=False,
        emoji=False,
    )


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _field_lines(change: Change) -> list[str]:
    fields: list[FieldChange] = list(change.fields)
    if change.action in (Action.CREATE, Action.DELETE):
        shown = [f for f in fields if f.path in HEADLINE_FIELDS]
        return [f"{f.path} = {_value(f.after if change.action is Action.CREATE else f.before)}" for f in shown]
    return [f"{f.path}: {_value(f.before)} -> {_value(f.after)}" for f in fields]


def _change_table(changes: Iterable[Change]) -> Table:
    """One row per change with its headline fields: what a reviewer reads in a plan of ordinary size."""
    table = Table(show_edge=False, box=None, pad_edge=False, header_style="bold")
    for column in ("", "action", "kind", "id", "details"):
        table.add_column(column, overflow="fold")
    for change in changes:
        symbol, style = SYMBOLS[change.action]
        details = _field_lines(change) or [change.reason]
        if change.action in (Action.REPLACE, Action.CONFLICT):
            details.insert(0, change.reason)
        if change.references is not None and change.references.in_use:
            details.append(
                f"used by pipelines {list(change.references.pipelines)}, indexes {list(change.references.indexes)}"
            )
        elif change.references is not None and not change.references.known:
            details.append("references unknown (checking needs manage_inference)")
        if change.blocked:
            details.append(f"BLOCKED: {change.blocked}")
        table.add_row(
            Text(symbol, style=style),
            Text(change.action.value, style=style),
            change.kind,
            change.id,
            "\n".join(details),
        )
    return table


def _summarise(out: Console, changes: Sequence[Change]) -> None:
    """A large plan: one line per kind and action with its count and first ids, then in full every change
    that stops plan and apply (conflicts, blocked changes), since those are what the reviewer must act on."""
    groups: dict[tuple[str, Action], list[str]] = {}
    for change in changes:
        groups.setdefault((change.kind, change.action), []).append(change.id)
    order = list(Action)
    out.print(f"{len(changes)} changes (more than {LARGE_PLAN}): summarised; --output json lists every change.")
    for (kind, action), ids in sorted(groups.items(), key=lambda item: (item[0][0], order.index(item[0][1]))):
        symbol, style = SYMBOLS[action]
        more = f", ... and {len(ids) - SUMMARY_IDS} more" if len(ids) > SUMMARY_IDS else ""
        out.print(Text(f"{symbol} {action.value} {kind}: {len(ids)} ({', '.join(ids[:SUMMARY_IDS])}{more})", style))
    attention = [c for c in changes if c.action is Action.CONFLICT or c.blocked]
    if attention:
        out.print(_change_table(attention[:LARGE_PLAN]))
        if len(attention) > LARGE_PLAN:
            out.print(f"... and {len(attention) - LARGE_PLAN} more conflicting or blocked changes (--output json).")


def _per_endpoint_lines(plan: Plan) -> list[str]:
    """What presets resolve to, the model -> ARN of each endpoint, and lifecycle findings: one line per
    endpoint, or, in a plan with more than LARGE_PLAN of them, one line per distinct statement with the
    count and the first ids of its endpoints (10,000 endpoints on one Legacy model say it once)."""
    # (the line as printed for one endpoint, the same statement without the endpoint, the endpoint)
    notes: list[tuple[str, str, str]] = [(p.line, p.line.rsplit("; endpoint ", 1)[0], p.endpoint) for p in plan.presets]
    if plan.resolution is not None:
        deployment = plan.resolution.deployment
        notes += [
            (line, f"deployment {deployment}: model {m.model} -> {m.profile_arn}", m.endpoint_id)
            for line, m in zip(plan.model_lines(), plan.resolution.models, strict=True)
        ]
    for f in plan.lifecycle_warnings:
        label = "warning" if f.level == "warn" else "note"
        generic = f.message.replace(f"inference endpoint {f.endpoint}", "inference endpoint", 1)
        notes.append((f"{label}: {f.message}", f"{label}: {generic}", f.endpoint))
    if len(notes) <= LARGE_PLAN:
        return [line for line, _, _ in notes]
    grouped: dict[str, list[str]] = {}
    for _, statement, endpoint in notes:
        grouped.setdefault(statement, []).append(endpoint)
    return [f"{statement} [{_some(ids)}]" for statement, ids in grouped.items()]


def _some(ids: Sequence[str]) -> str:
    more = f", ... and {len(ids) - SUMMARY_IDS} more" if len(ids) > SUMMARY_IDS else ""
    return f"{len(ids)} endpoint{'s' if len(ids) != 1 else ''}: {', '.join(ids[:SUMMARY_IDS])}{more}"


def plan_text(plan: Plan, stream: IO[str], *, credentials_source: str | None = None) -> None:
    out = console(stream)
    version = (
        f"Elasticsearch {plan.cluster_version}"
        if plan.cluster_version
        else "version unknown (GET / needs the monitor privilege; version checks skipped)"
    )
    out.print(f"managed-llm plan for {plan.target} ({version})")
    for refusal in plan.refusals:
        out.print(f"refused: {refusal}")
    for line in _per_endpoint_lines(plan):
        out.print(line)
    if not plan.has_changes and not plan.conflicts:
        out.print("No changes. The cluster matches the file.")
    else:
        if len(plan.changes) > LARGE_PLAN:
            _summarise(out, plan.changes)
        else:
            out.print(_change_table(plan.changes))
    for connector in plan.kibana:
        out.print(
            f"kibana connector {connector.spec.id} ({connector.spec.name} -> {connector.spec.inference_id}): "
            f"{connector.state.value}, {connector.detail}"
        )
    for kind, name in plan.diff.kept:
        out.print(f"kept: {kind} {name} is managed by managed-llm and not in the file (apply --prune deletes it)")
    if plan.forgotten:
        out.print(f"ownership ledger: forget {', '.join(plan.forgotten)} (no longer in the cluster)")
    for note in plan.ledger_notes:
        out.print(note)
    lock = plan.lock_warning(datetime.now(UTC))
    if lock is not None:
        out.print(lock)
    if credentials_source is not None and any(
        c.kind == "inference_endpoint" and c.action in (Action.CREATE, Action.REPLACE) for c in plan.changes
    ):
        out.print(
            f"credentials: write-only, sent on create/replace from {credentials_source}; "
            "never read back or compared (rotate with a new key, not a diff)"
        )
    out.print(f"Plan: {plan.summary()}.")


def apply_text(report: ApplyReport, stream: IO[str]) -> None:
    out = console(stream)
    if len(report.results) > LARGE_PLAN:
        _summarise_results(out, report.results)
    elif report.results:
        table = Table(show_edge=False, box=None, pad_edge=False, header_style="bold")
        for column in ("status", "action", "kind", "id", "seconds"):
            table.add_column(column, overflow="fold")
        for result in report.results:
            style = STATUS_STYLE[result.status]
            table.add_row(
                Text(result.status.value, style=style),
                result.change.action.value,
                result.change.kind,
                result.change.id,
                f"{result.seconds:.1f}",
            )
        out.print(table)
    # Whole lines, never wrapped in a table cell, so a CI log can be grepped for them.
    for result in report.failed:
        out.print(f"failed: {result.change.action.value} {result.change.kind} {result.change.id}: {result.error}")
    if report.final_plan is not None:
        for connector in report.final_plan.kibana_actions:
            out.print(f"kibana connector {connector.spec.id}: {connector.state.value}, {connector.detail}")
    verdict = "Apply complete" if report.exit_code == 0 else "Apply failed"
    out.print(f"{verdict}: {report.summary()}.")


def _summarise_results(out: Console, results: Sequence[ChangeResult]) -> None:
    """A large apply (its progress lines already named every change): one line per status, kind and action,
    with the count and first ids; failures follow in full, as in a small apply."""
    groups: dict[tuple[Status, str, Action], list[str]] = {}
    for result in results:
        groups.setdefault((result.status, result.change.kind, result.change.action), []).append(result.change.id)
    statuses, actions = list(Status), list(Action)
    out.print(f"{len(results)} changes (more than {LARGE_PLAN}): summarised; --output json lists every result.")
    for (status, kind, action), ids in sorted(
        groups.items(), key=lambda item: (statuses.index(item[0][0]), item[0][1], actions.index(item[0][2]))
    ):
        more = f", ... and {len(ids) - SUMMARY_IDS} more" if len(ids) > SUMMARY_IDS else ""
        line = f"{status.value}: {action.value} {kind}: {len(ids)} ({', '.join(ids[:SUMMARY_IDS])}{more})"
        out.print(Text(line, style=STATUS_STYLE[status]))


class LineProgress:
    """One line per finished change: readable in CI logs, where a bar would be noise."""

    def __init__(self, stream: IO[str], total: int, prefix: str = "") -> None:
        self.stream, self.total, self.done, self.prefix = stream, total, 0, prefix
        self._lock = threading.Lock()

    def started(self, change: Change) -> None:
        pass

    def finished(self, result: ChangeResult) -> None:
        with self._lock:
            self.done += 1
            error = f": {result.error}" if result.error else ""
            change = result.change
            self.stream.write(
                f"{self.prefix}[{self.done}/{self.total}] {change.action.value} {change.kind} {change.id}"
                f" ... {result.status.value} ({result.seconds:.1f}s){error}\n"
            )
            self.stream.flush()


class BarProgress:
    """A progress bar for terminals."""

    def __init__(self, stream: IO[str], total: int) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=RedactingConsole(file=stream, markup=False, emoji=False),
            transient=True,
        )
        self._task = self._progress.add_task("applying", total=total)
        self._progress.start()

    def started(self, change: Change) -> None:
        self._progress.update(self._task, description=f"{change.action.value} {change.id}")

    def finished(self, result: ChangeResult) -> None:
        self._progress.advance(self._task)

    def stop(self) -> None:
        self._progress.stop()


def progress_for(stream: IO[str], total: int, prefix: str = "") -> LineProgress | BarProgress:
    """A bar on a terminal (one apply at a time), plain lines otherwise or when several clusters share stderr."""
    return BarProgress(stream, total) if stream.isatty() and not prefix else LineProgress(stream, total, prefix)


# ---------------------------------------------------------------------------- operations reports

VERDICT_STYLE = {"PASS": "green", "FAIL": "bold red", "WARN": "yellow", "INFO": "cyan"}
SPARK = "▁▂▃▄▅▆▇█"


def _table(*columns: str) -> Table:
    table = Table(show_edge=False, box=None, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _verdict(value: str) -> Text:
    return Text(value, style=VERDICT_STYLE.get(value, ""))


def verify_text(report: VerifyReport, stream: IO[str]) -> None:
    out = console(stream)
    table = _table("status", "control", "evidence")
    for control in report.controls:
        table.add_row(_verdict(control.status.value), control.title, control.evidence)
    out.print(table)
    verdict = "all controls pass" if report.exit_code == 0 else "FAILED"
    out.print(f"Verify: {report.summary()}; {verdict}.")


def smoke_text(report: SmokeReport, stream: IO[str]) -> None:
    out = console(stream)
    out.print(f"canary: {report.canary}")
    table = _table("status", "endpoint", "task", "model", "seconds", "detail")
    for result in report.results:
        table.add_row(
            _verdict(result.verdict.value),
            result.endpoint_id,
            result.task_type,
            result.model,
            f"{result.seconds:.2f}",
            result.detail,
        )
    out.print(table)
    if report.log_checks:
        checks = _table("status", "log check", "evidence")
        for check in report.log_checks:
            checks.add_row(_verdict(check.verdict.value), check.name, check.evidence)
        out.print(checks)
    out.print(f"Smoke: {'passed' if report.exit_code == 0 else 'FAILED'}.")


def rotation_text(report: RotationReport, stream: IO[str]) -> None:
    out = console(stream)
    out.print(f"credentials: {report.source} (not shown)")
    if report.cluster_version is None:
        out.print("Elasticsearch version unknown (GET / needs the monitor privilege): _update used without a check")
    table = _table("endpoint", "key", "smoke", "seconds", "detail")
    for result in report.results:
        table.add_row(
            result.endpoint_id,
            result.key.value,
            _verdict(result.smoke.value) if result.smoke else "-",
            f"{result.seconds:.2f}",
            result.detail,
        )
    out.print(table)
    if not report.results:
        out.print("No Bedrock endpoint is owned by managed-llm in this cluster.")
    out.print(f"Rotation: {'complete' if report.exit_code == 0 and report.results else 'FAILED'}.")


def sparkline(values: list[int]) -> str:
    top = max(values, default=0)
    if top == 0:
        return " " * len(values)
    return "".join(" " if v == 0 else SPARK[min(len(SPARK) - 1, v * len(SPARK) // (top + 1))] for v in values)


def _money(value: float | None) -> str:
    return "n/a (no price)" if value is None else f"{value:,.4f}"


def usage_text(report: UsageReport, stream: IO[str]) -> None:
    out = console(stream)
    out.print(
        f"Bedrock usage in {report.region}, {report.start:%Y-%m-%d} to {report.end:%Y-%m-%d %H:%M} UTC "
        f"(estimated cost in USD at {report.price_source})"
    )
    # A daily sparkline says nothing once each row is one day.
    daily = "day" not in report.by
    width = len(report.by)
    columns = ("invocations", "errors", "throttles", "input tokens", "output tokens", "est. cost")
    table = _table(*report.by, *columns, *(("daily",) if daily else ()))
    for column in range(width, width + 6):
        table.columns[column].justify = "right"
    for group in report.groups():
        table.add_row(
            *group.key,
            *(f"{group.total(f):,}" for f in FIELDS),
            _money(group.cost),
            *((sparkline(list(group.daily)),) if daily else ()),
        )
    table.add_row(
        Text("total", style="bold"),
        *([""] * (width - 1)),
        *(f"{report.total(f):,}" for f in FIELDS),
        f"{report.total_cost():,.4f}",
        *(("",) if daily else ()),
    )
    out.print(table)
    for note in report.notes:
        out.print(f"note: {note}")


ACCESS_STYLE = {Access.GRANTED: "green", Access.NOT_GRANTED: "bold red", Access.UNKNOWN: "yellow"}
STATE_STYLE = {"ACTIVE": "green", "LEGACY": "yellow", "EOL": "bold red"}


def models_text(report: ModelsReport, stream: IO[str]) -> None:
    """One row per model: what Bedrock says beside what the catalog ships, and where the model is used."""
    out = console(stream)
    if not stream.isatty():
        out.width = 1000  # CI logs: one line per model, whatever its length; terminals keep their width
    out.print(
        f"Bedrock models in {report.region} on {report.today} (live from Bedrock; catalog facts where it is silent)"
    )
    table = _table("model", "task types", "US profile", "lifecycle", "dates", "access", "USD/M in/out", "used by")
    table.columns[0].no_wrap = True
    for row in report.rows:
        table.add_row(
            row.model,
            ", ".join(row.task_types) or "-",
            row.profile_label(),
            Text(row.lifecycle_label(), style=STATE_STYLE.get(row.state, "")),
            row.dates_label(),
            Text(row.access_label(), style=ACCESS_STYLE[row.access]),
            "n/a" if row.price is None else f"{row.price.input:g} / {row.price.output:g}",
            ", ".join(row.used_by) or "-",
        )
    out.print(table)
    for note in report.notes:
        out.print(f"note: {note}")
    for failure in report.failures:
        out.print(Text(f"FAIL {failure}", style="bold red"))
    out.print(f"Models: {report.summary()}{'; FAILED' if report.exit_code else ''}.")


def clusters_text(clusters: Clusters, stream: IO[str]) -> None:
    """Each cluster's output under its name, in file order, then the combined verdict."""
    for outcome in clusters.outcomes:
        stream.write(f"== cluster {outcome.name} ==\n")
        stream.write(outcome.output)
        if outcome.error is not None:
            stream.write(f"error: {outcome.error}\n")
    stream.write(clusters_verdict(clusters))


def clusters_verdict(clusters: Clusters) -> str:
    verdicts = ", ".join(f"{o.name} exit {o.exit_code}" + (" (error)" if o.error else "") for o in clusters.outcomes)
    return f"Clusters: {verdicts}; exit {clusters.exit_code}.\n"


class LogWait:
    """Progress while waiting for invocation logs: a status line on terminals, a line per poll in CI."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.terminal = stream.isatty()

    def __call__(self, found: int, expected: int, waited: float) -> None:
        end = "\r" if self.terminal else "\n"
        self.stream.write(f"waiting for invocation log records: {found}/{expected} after {waited:.0f}s{end}")
        self.stream.flush()
