"""`usage`: invocations, errors, throttles and tokens per model per day, and the estimated cost.

Figures come from CloudWatch (`AWS/Bedrock`, dimension `ModelId`, daily sums over UTC days); cost =
tokens x USD per million (the shipped price table, overridable by the file's `prices`). Windows are
whole UTC days from the start of `--since`'s day to `--until`; a model with no data shows zeros.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from catalog.models import Price, load_catalog
from provisioning.core.errors import ConfigError
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


def days_in(start: datetime, end: datetime) -> list[date]:
    days, day = [], start.date()
    while datetime.combine(day, time(0), tzinfo=UTC) < end:
        days.append(day)
        day += timedelta(days=1)
    return days


def query_id(model_index: int, field: str) -> str:
    return f"m{model_index}_{field}"


def build_queries(models: Sequence[str]) -> list[dict[str, Any]]:
    """One daily-sum query per (model, metric); ids start with a lowercase letter as GetMetricData wants."""
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
        for index, model in enumerate(models)
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
    model: str
    days: tuple[Day, ...]
    price: Price | None

    def total(self, name: str) -> int:
        return sum(int(getattr(d, name)) for d in self.days)

    def cost(self, day: Day | None = None) -> float | None:
        if self.price is None:
            return None
        days = (day,) if day is not None else self.days
        tokens_in = sum(d.input_tokens for d in days)
        tokens_out = sum(d.output_tokens for d in days)
        return (tokens_in * self.price.input + tokens_out * self.price.output) / 1_000_000


@dataclass(frozen=True)
class UsageReport:
    region: str
    start: datetime
    end: datetime
    models: tuple[ModelUsage, ...]
    price_source: str

    def total(self, name: str) -> int:
        return sum(m.total(name) for m in self.models)

    def total_cost(self) -> float:
        return sum(m.cost() or 0.0 for m in self.models)


# The per-day figures every output shows, in column order.
FIELDS = ("invocations", "errors", "throttles", "input_tokens", "output_tokens")


def aggregate(
    models: Sequence[str],
    results: Mapping[str, Sequence[tuple[datetime, float]]],
    start: datetime,
    end: datetime,
    prices: Mapping[str, Price],
    region: str,
    price_source: str,
) -> UsageReport:
    """Fold GetMetricData results into one row per model per UTC day (zeros where there is no data)."""
    days = days_in(start, end)
    usage = []
    for index, model in enumerate(models):
        per_day: dict[date, dict[str, float]] = {d: {} for d in days}
        for field, _ in METRICS:
            for stamp, value in results.get(query_id(index, field), ()):
                day = stamp.astimezone(UTC).date()
                if day in per_day:
                    per_day[day][field] = per_day[day].get(field, 0.0) + value
        usage.append(
            ModelUsage(
                model,
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
                prices.get(model),
            )
        )
    return UsageReport(region, start, end, tuple(usage), price_source)


def read_usage(
    desired: DesiredState | None,
    stack: StackOutputs | None,
    region: str | None,
    since: str,
    until: str,
    now: datetime,
    file_label: str | None = None,
) -> UsageReport:
    """The usage report: region (given, else the stack's, else the catalog's default), models (the stack's
    allow-list, else the file's and whatever CloudWatch has metrics for), prices (shipped, then the file's)."""
    from provisioning.adapters import aws

    catalog = load_catalog()
    region = region or (stack.region if stack is not None else catalog.regions.default)
    start, end = window(since, until, now)
    if stack is not None and stack.models:
        models = list(stack.models)
    else:
        declared = {e.model for e in desired.inference_endpoints} if desired is not None else set()
        models = sorted(declared | set(aws.bedrock_metric_models(region)))
    overrides = desired.prices if desired is not None else {}
    prices = {**catalog.default_prices(), **overrides}
    source = f"prices as of {catalog.prices.as_of} ({catalog.prices.source})" + (
        f", overridden by {file_label}" if overrides else ""
    )
    results = aws.metric_data(region, build_queries(models), start, end) if models else {}
    return aggregate(models, results, start, end, prices, region, source)
