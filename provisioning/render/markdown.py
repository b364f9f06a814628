"""`--output markdown`: plan, verify, usage, models and several clusters as a compact pull-request comment.

A summary line first, one table per kind, replaces and deletes in bold with a warning line, and the whole
text cut to fit a comment (GitHub refuses bodies over 65,536 characters) with a note saying what was left
out. Values are escaped for tables and any known secret is masked (provisioning/adapters/redact.py), although
nothing rendered here carries one by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from provisioning.adapters.redact import redact
from provisioning.core.diff import Action, Change
from provisioning.core.outcome import Clusters
from provisioning.core.plan import Plan
from provisioning.ops.models_report import Access, ModelsReport
from provisioning.ops.usage import UsageReport
from provisioning.ops.verify import VerifyReport
from provisioning.render.text import clusters_verdict

# GitHub's limit for an issue or pull-request comment is 65,536 characters; keep room for a wrapper.
COMMENT_LIMIT = 60_000
ICONS = {
    Action.CREATE: ":heavy_plus_sign:",
    Action.UPDATE: ":pencil2:",
    Action.REPLACE: ":recycle:",
    Action.DELETE: ":wastebasket:",
    Action.CONFLICT: ":no_entry:",
}
STATUS_ICONS = {"PASS": ":white_check_mark:", "FAIL": ":x:", "WARN": ":warning:", "INFO": ":information_source:"}
KIND_TITLES = {"inference_endpoint": "Inference endpoints", "role_mapping": "Role mappings"}


def cell(value: object) -> str:
    """A value safe inside a markdown table cell (emoji are written as shortcodes: GitHub and GitLab render both)."""
    if isinstance(value, list):
        value = "[" + ", ".join(str(v) for v in value) + "]"
    text = "(none)" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>").replace("`", "'")


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` through the shared redaction, with `secrets` known besides those registered process-wide."""
    return redact(text, secrets)


def fit(lines: Sequence[str], limit: int = COMMENT_LIMIT, what: str = "lines") -> str:
    """Join `lines`, dropping from the end until the text fits, and say how many were dropped."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text + "\n"
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > limit - 200:
            break
        kept.append(line)
        size += len(line) + 1
    dropped = len(lines) - len(kept)
    kept.append(
        f"\n> :scissors: {dropped} more {what} not shown (comment size limit): see the job log or `--output json`."
    )
    return "\n".join(kept) + "\n"


def _details(change: Change) -> str:
    if change.action in (Action.CREATE, Action.DELETE):
        interesting = ("service_settings.model", "task_type", "roles", "rules")
        shown = [f for f in change.fields if f.path in interesting]
        return "<br>".join(
            f"{f.path} = `{cell(f.after if change.action is Action.CREATE else f.before)}`" for f in shown
        )
    lines = [f"{f.path}: `{cell(f.before)}` -> `{cell(f.after)}`" for f in change.fields]
    if change.action in (Action.REPLACE, Action.CONFLICT) or not lines:
        lines.insert(0, cell(change.reason))
    if change.blocked:
        lines.append(f"**blocked:** {cell(change.blocked)}")
    return "<br>".join(lines)


def plan_markdown(plan: Plan, title: str | None = None, secrets: Iterable[str] = ()) -> str:
    version = f"Elasticsearch {plan.cluster_version}" if plan.cluster_version else "version unknown"
    lines = [f"### {title or 'managed-llm plan'}: `{plan.target}` ({version})", ""]
    lines.append(f"**Plan: {plan.summary()}** (exit code {plan.exit_code})")
    risky = [c for c in plan.changes if c.action in (Action.REPLACE, Action.DELETE)]
    if risky:
        names = ", ".join(f"`{c.id}` ({c.action.value})" for c in risky)
        lines += [
            "",
            f"> :warning: **Replaces and deletes:** {names}. A replace deletes the endpoint before re-creating it.",
        ]
    for refusal in plan.refusals:
        lines += ["", f"> :no_entry: {cell(refusal)}"]
    for finding in plan.lifecycle_warnings:
        icon = ":warning:" if finding.level == "warn" else ":information_source:"
        lines += ["", f"> {icon} {cell(finding.message)}"]
    for preset in plan.presets:
        lines += ["", f"> :information_source: {cell(preset.line)}"]
    for line in plan.model_lines():
        lines += ["", f"> :link: {cell(line)}"]
    if not plan.changes:
        lines += ["", "No changes to inference endpoints or role mappings."]
    for kind in ("inference_endpoint", "role_mapping"):
        changes = [c for c in plan.changes if c.kind == kind]
        if not changes:
            continue
        lines += ["", f"#### {KIND_TITLES[kind]}", "", "| | action | id | details |", "|---|---|---|---|"]
        for change in changes:
            action = change.action.value
            if change.action in (Action.REPLACE, Action.DELETE, Action.CONFLICT):
                action = f"**{action}**"
            lines.append(f"| {ICONS[change.action]} | {action} | `{cell(change.id)}` | {_details(change)} |")
    if plan.kibana:
        lines += ["", "#### Kibana AI connectors", "", "| connector | endpoint | state | detail |", "|---|---|---|---|"]
        for status in plan.kibana:
            endpoint = f"`{cell(status.spec.inference_id)}`"
            lines.append(f"| {cell(status.spec.name)} | {endpoint} | {status.state.value} | {cell(status.detail)} |")
    if plan.diff.kept:
        kept = ", ".join(f"`{name}`" for _, name in plan.diff.kept)
        lines += ["", f"Kept (managed by managed-llm, no longer in the file; `--prune` deletes them): {kept}"]
    notes = [*plan.ledger_notes, plan.lock_warning(datetime.now(UTC)) or ""]
    lines += [f"> {cell(n)}" for n in notes if n]
    return mask(fit(lines, what="lines of the plan"), secrets)


def verify_markdown(report: VerifyReport, secrets: Iterable[str] = ()) -> str:
    verdict = "all controls pass" if report.exit_code == 0 else "**FAILED**"
    lines = [f"### managed-llm verify: {report.summary()}; {verdict}", "", "| | control | evidence |", "|---|---|---|"]
    for control in report.controls:
        icon = STATUS_ICONS[control.status.value]
        lines.append(f"| {icon} {control.status.value} | {cell(control.title)} | {cell(control.evidence)} |")
    return mask(fit(lines, what="controls"), secrets)


def usage_markdown(report: UsageReport) -> str:
    heads = " | ".join(report.by)
    lines = [
        f"### Bedrock usage in {report.region}, {report.start:%Y-%m-%d} to {report.end:%Y-%m-%d} (UTC)",
        "",
        f"| {heads} | invocations | errors | throttles | input tokens | output tokens | est. cost (USD) |",
        f"|{'---|' * len(report.by)}---:|---:|---:|---:|---:|---:|",
    ]
    for group in report.groups():
        keys = " | ".join(
            f"`{cell(value)}`" if name == "model" else cell(value)
            for name, value in zip(report.by, group.key, strict=True)
        )
        lines.append(
            f"| {keys} | {group.total('invocations'):,} | {group.total('errors'):,} | "
            f"{group.total('throttles'):,} | {group.total('input_tokens'):,} | {group.total('output_tokens'):,} | "
            f"{'n/a' if group.cost is None else f'{group.cost:,.4f}'} |"
        )
    blanks = " |" * (len(report.by) - 1)
    lines.append(
        f"| **total** |{blanks} {report.total('invocations'):,} | {report.total('errors'):,} | "
        f"{report.total('throttles'):,} | {report.total('input_tokens'):,} | {report.total('output_tokens'):,} | "
        f"{report.total_cost():,.4f} |"
    )
    lines += ["", f"Estimated at {cell(report.price_source)}."]
    lines += [f"Note: {cell(note)}" for note in report.notes]
    return fit(lines, what="groups")


ACCESS_ICONS = {Access.GRANTED: ":white_check_mark:", Access.NOT_GRANTED: ":x:", Access.UNKNOWN: ":grey_question:"}


def models_markdown(report: ModelsReport) -> str:
    verdict = "**FAILED**" if report.exit_code else "ok"
    lines = [
        f"### Bedrock models in {report.region} on {report.today}: {cell(report.summary())}; {verdict}",
        "",
        "| model | task types | US profile | lifecycle | dates | access | USD/M in/out | used by |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        lifecycle = cell(row.lifecycle_label())
        if row.state != "ACTIVE":
            lifecycle = f"**{lifecycle}**"
        price = "n/a" if row.price is None else f"{row.price.input:g} / {row.price.output:g}"
        lines.append(
            f"| `{cell(row.model)}` | {cell(', '.join(row.task_types) or '-')} | {cell(row.profile_label())} | "
            f"{lifecycle} | {cell(row.dates_label())} | {ACCESS_ICONS[row.access]} {cell(row.access_label())} | "
            f"{price} | {cell(', '.join(row.used_by) or '-')} |"
        )
    if report.notes or report.failures:
        lines.append("")
    lines += [f"> :information_source: {cell(note)}" for note in report.notes]
    lines += [f"> :x: {cell(failure)}" for failure in report.failures]
    return fit(lines, what="models")


def clusters_markdown(clusters: Clusters) -> str:
    """Each cluster's comment in file order, a line for each that failed, then the combined verdict."""
    parts = []
    for outcome in clusters.outcomes:
        parts.append(outcome.output)
        if outcome.error is not None:
            parts.append(f"> :x: cluster `{outcome.name}`: {cell(f'error: {outcome.error}')}\n\n")
    parts.append(clusters_verdict(clusters))
    return "".join(parts)
