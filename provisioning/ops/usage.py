"""`usage`: invocations, errors, throttles, tokens and estimated cost, grouped by deployment, model and/or day.

Primary source: CloudWatch `AWS/Bedrock` metrics (daily sums over UTC days), one series per deployment and
model. With the stack's `deployments` output a series is an application inference profile: its `ModelId`
dimension is the profile id, the last segment of the profile ARN (docs/research/many-deployments-2026-12.md
§1, PARTIAL); without it, one `default` deployment whose series are the stack's (or the file's, or
CloudWatch's) model ids. Metrics are the primary source because they need no invocation logging, Bedrock
publishes them for every call on its own, and they count the same profile-tagged calls that billing (and so
each deployment's budget) sees. The invocation metadata logs attribute by principal (`identity.arn`), which
also catches calls that bypass the profiles, but they need logging on, FilterLogEvents/Logs Insights reads
that cost and scale with traffic, and their token counts are UNVERIFIED with text delivery off (§2): they
serve as a cross-check (`cross_check`), whose disagreements are notes in the report, never errors.
Cost = tokens x USD per million (the catalog's price of the profile's model, overridable by the file's
`prices`). Windows are whole UTC days from the start of `--since`'s day to `--until`; a series with no
data shows zeros.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from catalog.deployments import DEFAULT_DEPLOYMENT
from catalog.models import Price, load_catalog
from provisioning.core.errors import AwsError, ConfigError
from provisioning.core.model import DesiredState
from provisioning.core.stack_outputs import StackOutputs

DAY_SECONDS = 86400
# CloudWatch keeps 1-day datapoints for 455 days.
MAX_DAYS = 455
METRICS: tuple[tuple[str, str], ...] = (
    ("invocations", "Invocations"),
    ("client_errors", "InvocationClientErrors"),
    ("server_errors", "InvocationServerErrors"),
    ("throttles", "InvocationThrottles"),
    ("input_tokens", "InputTokenCount"),
    ("output_tokens", "OutputTokenCount"),
)
DIMENSIONS = ("deployment", "model", "day")
DEFAULT_BY = ("model",)
SOURCE = "CloudWatch AWS/Bedrock metrics"
_RELATIVE = re.compile(r"^(?P<amount>\d+)(?P<unit>[mhdw])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


class WindowError(ConfigError):
    """A --since/--until value that is not a duration, a date or a time, or an empty window."""


def parse_instant(value: str, now: datetime) -> datetime:
    """`now`, a duration before now (`7d`, `24h`, `30m`, `2w`), an ISO date or an ISO date-time (UTC if naive)."""
    text = value.strip()
    if text == "now":
        return now
    if match := _RELATIVE.fullmatch(text):
        return now - int(match["amount"]) * _UNITS[match["unit"]]
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WindowError(f"{value!r}: expected now, a duration such as 7d or 24h, or an ISO date") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def window(since: str, until: str, now: datetime) -> tuple[datetime, datetime]:
    """[start of since's UTC day, until): daily buckets align with CloudWatch's 1-day periods."""
    end = parse_instant(until, now)
    start_day = parse_instant(since, now).astimezone(UTC).date()
    start = datetime.combine(start_day, time(0), tzinfo=UTC)
    if start >= end:
        raise WindowError(f"empty window: --since {since} is not before --until {until}")
    if (end - start).days > MAX_DAYS:
        raise WindowError(f"window longer than {MAX_DAYS} days (CloudWatch keeps daily data that long)")
    return start, end


def parse_by(values: Iterable[str]) -> tuple[str, ...]:
    """`--by` values, repeated and/or comma-separated, in the order given, each once; none means by model."""
    chosen: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if name not in DIMENSIONS:
                raise ConfigError(f"--by: {part.strip()[:40]!r} is not one of {', '.join(DIMENSIONS)}")
            if name not in chosen:
                chosen.append(name)
    return tuple(chosen) or DEFAULT_BY


def days_in(start: datetime, end: datetime) -> list[date]:
    days, day = [], start.date()
    while datetime.combine(day, time(0), tzinfo=UTC) < end:
        days.append(day)
        day += timedelta(days=1)
    return days


def query_id(model_index: int, field: str) -> str:
    return f"m{model_index}_{field}"


def metric_id(model_or_arn: str) -> str:
    """The `ModelId` dimension for a model id or ARN: an ARN's last path segment (an application profile's id,
    a `us.` profile id, a foundation-model id), anything else as it is."""
    return model_or_arn.rsplit("/", 1)[-1] if model_or_arn.startswith("arn:") else model_or_arn


@dataclass(frozen=True)
class Source:
    """One metric series: a deployment's calls to one model, under one CloudWatch `ModelId`."""

    deployment: str
    model: str
    metric_id: str


def sources(stack: StackOutputs | None, models: Sequence[str]) -> list[Source]:
    """Per deployment, one series per application profile (the stack's `deployments`); else `default`'s models."""
    if stack is not None and stack.deployments:
        found = []
        for name, deployment in sorted(stack.deployments.items()):
            for model, arn in sorted(deployment.inference_profiles.items()):
                if not arn.startswith("arn:") or not metric_id(arn) or "/" not in arn:
                    raise ConfigError(f"{stack.source}: deployments.{name}.inferenceProfiles: not a profile ARN")
                found.append(Source(name, model, metric_id(arn)))
        return found
    return [Source(DEFAULT_DEPLOYMENT, model, model) for model in models]


def build_queries(metric_ids: Sequence[str]) -> list[dict[str, Any]]:
    """One daily-sum query per (series, metric); ids start with a lowercase letter as GetMetricData wants."""
    return [
        {
            "Id": query_id(index, field),
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Bedrock",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "ModelId", "Value": model}],
                },
                "Period": DAY_SECONDS,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for index, model in enumerate(metric_ids)
        for field, metric in METRICS
    ]


@dataclass(frozen=True)
class Day:
    day: date
    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class ModelUsage:
    """One series per UTC day: a model's usage, of one deployment (or merged over all, in `by_model`)."""

    model: str
    days: tuple[Day, ...]
    price: Price | None
    deployment: str = DEFAULT_DEPLOYMENT
    metric_id: str = ""

    def total(self, name: str) -> int:
        return sum(int(getattr(d, name)) for d in self.days)

    def cost(self, day: Day | None = None) -> float | None:
        if self.price is None:
            return None
        days = (day,) if day is not None else self.days
        tokens_in = sum(d.input_tokens for d in days)
        tokens_out = sum(d.output_tokens for d in days)
        return (tokens_in * self.price.input + tokens_out * self.price.output) / 1_000_000


# The per-day figures every output shows, in column order.
FIELDS = ("invocations", "errors", "throttles", "input_tokens", "output_tokens")


@dataclass(frozen=True)
class Group:
    """The totals of one group (`key` holds the value of each `--by` dimension, in order) and its daily
    invocations (for the text sparkline); `cost` is None when a model in it has no price."""

    key: tuple[str, ...]
    totals: Mapping[str, int]
    cost: float | None
    daily: tuple[int, ...]

    def total(self, name: str) -> int:
        return self.totals[name]


@dataclass(frozen=True)
class UsageReport:
    region: str
    start: datetime
    end: datetime
    models: tuple[ModelUsage, ...]
    price_source: str
    by: tuple[str, ...] = DEFAULT_BY
    notes: tuple[str, ...] = ()
    source: str = SOURCE

    def total(self, name: str) -> int:
        return sum(m.total(name) for m in self.models)

    def total_cost(self) -> float:
        return sum(m.cost() or 0.0 for m in self.models)

    def by_model(self) -> tuple[ModelUsage, ...]:
        """One series per model, summed over deployments (the `models` of the JSON document)."""
        merged: dict[str, ModelUsage] = {}
        for series in self.models:
            seen = merged.get(series.model)
            if seen is None:
                merged[series.model] = ModelUsage(series.model, series.days, series.price, "", series.model)
                continue
            days = tuple(
                Day(a.day, *(getattr(a, f) + getattr(b, f) for f in FIELDS))
                for a, b in zip(seen.days, series.days, strict=True)
            )
            merged[series.model] = replace(seen, days=days)
        return tuple(merged.values())

    def groups(self, by: Sequence[str] | None = None) -> list[Group]:
        """Totals per group of `by` (default: the report's), in first-seen order of the series and days."""
        dimensions = tuple(by) if by is not None else self.by
        index = {d.day: i for i, d in enumerate(self.models[0].days)} if self.models else {}
        sums: dict[tuple[str, ...], dict[str, int]] = {}
        costs: dict[tuple[str, ...], float | None] = {}
        daily: dict[tuple[str, ...], list[int]] = {}
        for series in self.models:
            for day in series.days:
                values = {"deployment": series.deployment, "model": series.model, "day": day.day.isoformat()}
                key = tuple(values[d] for d in dimensions)
                bucket = sums.setdefault(key, dict.fromkeys(FIELDS, 0))
                for name in FIELDS:
                    bucket[name] += int(getattr(day, name))
                cost, before = series.cost(day), costs.get(key, 0.0)
                costs[key] = None if cost is None or before is None else before + cost
                daily.setdefault(key, [0] * len(index))[index[day.day]] += day.invocations
        return [Group(key, sums[key], costs[key], tuple(daily[key])) for key in sums]


def aggregate(
    series: Sequence[str | Source],
    results: Mapping[str, Sequence[tuple[datetime, float]]],
    start: datetime,
    end: datetime,
    prices: Mapping[str, Price],
    region: str,
    price_source: str,
    by: tuple[str, ...] = DEFAULT_BY,
) -> UsageReport:
    """Fold GetMetricData results into one row per series per UTC day (zeros where there is no data).

    A plain model id is a series of the `default` deployment; a `Source` names its deployment and profile id.
    """
    days = days_in(start, end)
    usage = []
    for index, item in enumerate(series):
        source = item if isinstance(item, Source) else Source(DEFAULT_DEPLOYMENT, item, item)
        per_day: dict[date, dict[str, float]] = {d: {} for d in days}
        for name, _ in METRICS:
            for stamp, value in results.get(query_id(index, name), ()):
                day = stamp.astimezone(UTC).date()
                if day in per_day:
                    per_day[day][name] = per_day[day].get(name, 0.0) + value
        usage.append(
            ModelUsage(
                source.model,
                tuple(
                    Day(
                        day=d,
                        invocations=int(v.get("invocations", 0)),
                        errors=int(v.get("client_errors", 0) + v.get("server_errors", 0)),
                        throttles=int(v.get("throttles", 0)),
                        input_tokens=int(v.get("input_tokens", 0)),
                        output_tokens=int(v.get("output_tokens", 0)),
                    )
                    for d, v in per_day.items()
                ),
                prices.get(source.model),
                source.deployment,
                source.metric_id,
            )
        )
    return UsageReport(region, start, end, tuple(usage), price_source, by)


# ------------------------------------------------------------------ cross-check with the invocation logs


@dataclass
class LogCounts:
    invocations: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    without_tokens: int = 0


@dataclass(frozen=True)
class LogUsage:
    """Invocation-log records folded per (deployment, model) of the report's series, plus what did not fit."""

    counts: Mapping[tuple[str, str], LogCounts]
    bypassed: Mapping[str, int] = field(default_factory=dict)
    records: int = 0


def _token_count(part: object, name: str) -> int | None:
    value = part.get(name) if isinstance(part, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def log_usage(report: UsageReport, records: Sequence[Mapping[str, Any]], principals: Mapping[str, str]) -> LogUsage:
    """Attribute each record (docs/research/many-deployments-2026-12.md §2) to a series of the report by its
    `modelId` (the profile ARN or id a caller sent); a record of a deployment's principal (`identity.arn`) that
    names no series bypassed the profiles and is counted apart, other principals' calls are not ours."""
    series = {s.metric_id or s.model: (s.deployment, s.model) for s in report.models}
    counts: dict[tuple[str, str], LogCounts] = {}
    bypassed: dict[str, int] = {}
    for record in records:
        model_id = record.get("modelId")
        identity = record.get("identity")
        caller = identity.get("arn") if isinstance(identity, Mapping) else None
        key = series.get(metric_id(model_id)) if isinstance(model_id, str) else None
        if key is None:
            if isinstance(caller, str) and caller in principals:
                bypassed[principals[caller]] = bypassed.get(principals[caller], 0) + 1
            continue
        tally = counts.setdefault(key, LogCounts())
        tally.invocations += 1
        tokens_in = _token_count(record.get("input"), "inputTokenCount")
        tokens_out = _token_count(record.get("output"), "outputTokenCount")
        if tokens_in is None or tokens_out is None:
            tally.without_tokens += 1
        tally.input_tokens += tokens_in or 0
        tally.output_tokens += tokens_out or 0
    return LogUsage(counts, bypassed, len(records))


def cross_check(report: UsageReport, logs: LogUsage) -> list[str]:
    """Compare the metrics (the report) with the logs over the same window: one note per disagreement, or one
    saying they agree. Token counts are compared only where every record carries them."""
    notes: list[str] = []
    compared = 0
    metrics: dict[tuple[str, str], dict[str, int]] = {}
    for series in report.models:
        metrics[(series.deployment, series.model)] = {f: series.total(f) for f in FIELDS}
    for (deployment, model), figures in metrics.items():
        counted = logs.counts.get((deployment, model), LogCounts())
        names = ["invocations"]
        if counted.without_tokens:
            notes.append(
                f"cross-check: {deployment}/{model}: {counted.without_tokens} of {counted.invocations} log records "
                "carry no token counts; tokens not compared"
            )
        else:
            names += ["input_tokens", "output_tokens"]
        compared += 1
        for name in names:
            in_logs = getattr(counted, name)
            if figures[name] != in_logs:
                label = name.replace("_", " ")
                notes.append(
                    f"cross-check: {deployment}/{model}: {label} {figures[name]:,} in metrics, {in_logs:,} in logs"
                )
    for deployment, calls in sorted(logs.bypassed.items()):
        notes.append(
            f"cross-check: {calls:,} calls by deployment {deployment}'s principal did not go through its "
            "application profiles (in the logs, not in its metrics)"
        )
    if not notes:
        notes.append(f"cross-check: metrics and invocation logs agree ({compared} series, {logs.records:,} records)")
    return notes


def principals_of(stack: StackOutputs | None) -> dict[str, str]:
    """Principal ARN -> deployment, from the stack's `deployments` (else the one principal, as `default`)."""
    if stack is None:
        return {}
    if stack.deployments:
        return {d.principal_arn: name for name, d in stack.deployments.items() if d.principal_arn}
    arn = stack.elasticsearch_principal_arn
    return {arn: DEFAULT_DEPLOYMENT} if arn else {}


def _read_and_cross_check(report: UsageReport, stack: StackOutputs | None) -> list[str]:
    """Read the window's invocation records and compare; a source that cannot be read is a note, not an error."""
    from provisioning.adapters import aws
    from provisioning.ops.invocation_logs import MAX_LOG_EVENTS, invocation_records

    group = stack.log_group_name if stack is not None else None
    if not group:
        return ["cross-check skipped: no invocation log group known (pass --stack-outputs)"]
    try:
        events = aws.log_events(group, report.region, report.start, report.end, limit=MAX_LOG_EVENTS + 1)
    except AwsError as exc:
        return [f"cross-check skipped: {exc}"]
    if len(events) > MAX_LOG_EVENTS:
        return [f"cross-check skipped: more than {MAX_LOG_EVENTS:,} log events in the window (use a shorter one)"]
    return cross_check(report, log_usage(report, invocation_records(events), principals_of(stack)))


def read_usage(
    desired: DesiredState | None,
    stack: StackOutputs | None,
    region: str | None,
    since: str,
    until: str,
    now: datetime,
    file_label: str | None = None,
    by: tuple[str, ...] = DEFAULT_BY,
    check_logs: bool = False,
) -> UsageReport:
    """The usage report: region (given, else the stack's, else the catalog's default), series (the stack's
    application profiles per deployment, else its allow-list, else the file's models and whatever CloudWatch
    has metrics for), prices (the catalog's for each profile's model, then the file's)."""
    from provisioning.adapters import aws

    catalog = load_catalog()
    region = region or (stack.region if stack is not None else catalog.regions.default)
    start, end = window(since, until, now)
    notes: list[str] = []
    if stack is not None and (stack.deployments or stack.models):
        models = list(stack.models or ())
    else:
        declared = {e.model for e in desired.inference_endpoints} if desired is not None else set()
        models = sorted(declared | set(aws.bedrock_metric_models(region)))
    found = sources(stack, models)
    if "deployment" in by and not (stack is not None and stack.deployments):
        notes.append("no `deployments` in the stack outputs: all usage is grouped under `default`")
    overrides = desired.prices if desired is not None else {}
    prices = {**catalog.default_prices(), **overrides}
    for source in found:
        entry = catalog.model(source.model)
        if source.model not in prices and entry is not None:
            prices[source.model] = entry.price.plain()
    price_source = f"prices as of {catalog.prices.as_of} ({catalog.prices.source})" + (
        f", overridden by {file_label}" if overrides else ""
    )
    queries = build_queries([s.metric_id for s in found])
    results = aws.metric_data(region, queries, start, end) if found else {}
    report = aggregate(found, results, start, end, prices, region, price_source, by)
    if check_logs:
        notes += _read_and_cross_check(report, stack)
    return replace(report, notes=tuple(notes))
