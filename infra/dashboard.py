"""The CloudWatch dashboard body as a pure function of (region, models, prices, deployments).

Cost is CloudWatch metric math over the token metrics: tokens x USD-per-million / 1e6 per model, so the
figure is an estimate at the configured prices, not a bill.

Per deployment, the dashboard shows one line per deployment (metric math summing the metrics of its
application profiles) in four widgets: invocations, errors + throttles, tokens, estimated cost. Lines are
grouped at most `DEPLOYMENTS_PER_WIDGET` to a widget, so 20 deployments make two readable groups of four
widgets, not 20 rows; the widget count grows by 4 per group (CloudWatch allows 500 widgets per dashboard)
and each widget holds at most `MAX_METRICS_PER_WIDGET` series, hidden ones included (metric math's limit).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from catalog.models import Price
from infra.constants import BEDROCK_NAMESPACE, DASHBOARD_METRICS

WIDTH = 12
HEIGHT = 6
COST_PERIOD_SECONDS = 86400
METRIC_PERIOD_SECONDS = 300
# Readability: more lines than this on one chart cannot be told apart.
DEPLOYMENTS_PER_WIDGET = 10
# CloudWatch: a widget's metric math may reference at most 500 metrics; a dashboard has at most 500 widgets.
MAX_METRICS_PER_WIDGET = 500
MAX_WIDGETS = 500
# Per-deployment widgets: (title, metrics summed per deployment). Cost is built from the token metrics.
DEPLOYMENT_SUMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Invocations", ("Invocations",)),
    ("Errors and throttles", ("InvocationClientErrors", "InvocationServerErrors", "InvocationThrottles")),
    ("Tokens (input + output)", ("InputTokenCount", "OutputTokenCount")),
)
COST_TITLE = "Estimated cost per day (USD, at configured prices)"


@dataclass(frozen=True)
class DeploymentProfiles:
    """One deployment's application profile id (the `ModelId` dimension of its calls) per model."""

    name: str
    profile_ids: Mapping[str, str]


def model_slug(model_id: str) -> str:
    """A name fragment for a model id: `us.anthropic.claude-3-7-...-v1:0` -> `us-anthropic-claude-3-7-...-v1-0`."""
    return re.sub(r"[^a-z0-9]+", "-", model_id.lower()).strip("-")


def _time_series(
    index: int, region: str, title: str, stat: str, period: int, metrics: list[list[Any]]
) -> dict[str, Any]:
    """A time-series widget in the `index`th cell of a two-column grid."""
    return {
        "type": "metric",
        "x": (index % 2) * WIDTH,
        "y": (index // 2) * HEIGHT,
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "stat": stat,
            "period": period,
            "metrics": metrics,
        },
    }


def _metric_widget(
    region: str, title: str, metric: str, stat: str, models: Sequence[str], index: int
) -> dict[str, Any]:
    metrics: list[list[Any]] = [[BEDROCK_NAMESPACE, metric, "ModelId", model] for model in models]
    return _time_series(index, region, title, stat, METRIC_PERIOD_SECONDS, metrics)


def cost_expression(input_id: str, output_id: str, price: Price) -> str:
    """Metric math for the estimated USD cost of one model in one period.

    FILL(..., 0): an embedding model publishes no OutputTokenCount, and metric math over a missing series
    would leave the whole line empty.
    """
    return f"(FILL({input_id},0)*{_decimal(price.input)}+FILL({output_id},0)*{_decimal(price.output)})/1000000"


def _decimal(value: float) -> str:
    """A price as plain decimal digits: `repr` writes 0.00001 as `1e-05`, and CloudWatch's metric-math
    grammar documents numbers only as decimals, so exponent notation is never sent."""
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _cost_widget(region: str, models: Sequence[str], prices: Mapping[str, Price], index: int) -> dict[str, Any]:
    metrics: list[list[Any]] = []
    for n, model in enumerate(m for m in models if m in prices):
        input_id, output_id = f"in{n}", f"out{n}"
        metrics.append(
            [
                {
                    "expression": cost_expression(input_id, output_id, prices[model]),
                    "label": f"{model} (USD)",
                    "id": f"cost{n}",
                }
            ]
        )
        metrics.append([BEDROCK_NAMESPACE, "InputTokenCount", "ModelId", model, {"id": input_id, "visible": False}])
        metrics.append([BEDROCK_NAMESPACE, "OutputTokenCount", "ModelId", model, {"id": output_id, "visible": False}])
    title = "Estimated cost per day (USD, at configured prices)"
    return _time_series(index, region, title, "Sum", COST_PERIOD_SECONDS, metrics)


def dashboard_body(
    region: str,
    models: Sequence[str],
    prices: Mapping[str, Price],
    deployments: Sequence[DeploymentProfiles] = (),
) -> dict[str, Any]:
    """Invocations, latency, errors, throttles, tokens per model, the estimated cost widget, then the
    per-deployment groups (see the module docstring)."""
    widgets = [
        _metric_widget(region, title, metric, stat, models, index)
        for index, (title, metric, stat) in enumerate(DASHBOARD_METRICS)
    ]
    if any(m in prices for m in models):
        widgets.append(_cost_widget(region, models, prices, len(widgets)))
    groups = deployment_groups(deployments)
    for number, group in enumerate(groups, start=1):
        suffix = f" ({number} of {len(groups)}: {group[0].name} to {group[-1].name})" if len(groups) > 1 else ""
        for title, metrics in DEPLOYMENT_SUMS:
            lines = _sum_lines(group, metrics)
            widgets.append(
                _time_series(
                    len(widgets), region, f"{title} per deployment{suffix}", "Sum", METRIC_PERIOD_SECONDS, lines
                )
            )
        cost = _deployment_cost_lines(group, prices)
        if cost:
            widgets.append(
                _time_series(
                    len(widgets), region, f"{COST_TITLE} per deployment{suffix}", "Sum", COST_PERIOD_SECONDS, cost
                )
            )
    if len(widgets) > MAX_WIDGETS:
        raise ValueError(f"the dashboard would have {len(widgets)} widgets; CloudWatch allows {MAX_WIDGETS}")
    return {"widgets": widgets}


def _series_per_deployment(deployment: DeploymentProfiles) -> int:
    """The most series one deployment adds to any of its widgets: its expression and hidden metrics."""
    models = len(deployment.profile_ids)
    return 1 + models * max(2, *(len(metrics) for _, metrics in DEPLOYMENT_SUMS))


def deployment_groups(deployments: Sequence[DeploymentProfiles]) -> list[list[DeploymentProfiles]]:
    """Consecutive groups of at most `DEPLOYMENTS_PER_WIDGET` deployments whose series fit one widget."""
    groups: list[list[DeploymentProfiles]] = []
    size = 0
    for deployment in deployments:
        series = _series_per_deployment(deployment)
        if series > MAX_METRICS_PER_WIDGET:
            raise ValueError(f"deployment {deployment.name} has too many models for one dashboard widget")
        if not groups or len(groups[-1]) == DEPLOYMENTS_PER_WIDGET or size + series > MAX_METRICS_PER_WIDGET:
            groups.append([])
            size = 0
        groups[-1].append(deployment)
        size += series
    return groups


def _sum_lines(group: Sequence[DeploymentProfiles], metrics: Sequence[str]) -> list[list[Any]]:
    """One visible line per deployment: the sum of `metrics` over its profiles (hidden series)."""
    lines: list[list[Any]] = []
    for n, deployment in enumerate(group):
        hidden: list[list[Any]] = []
        for k, (metric, profile_id) in enumerate(
            (metric, profile_id) for profile_id in deployment.profile_ids.values() for metric in metrics
        ):
            hidden.append([BEDROCK_NAMESPACE, metric, "ModelId", profile_id, {"id": f"d{n}s{k}", "visible": False}])
        # FILL(..., 0): a profile with no traffic publishes nothing, and would blank the whole sum.
        expression = "+".join(f"FILL({h[4]['id']},0)" for h in hidden)
        lines.append([{"expression": expression, "label": deployment.name, "id": f"d{n}"}])
        lines.extend(hidden)
    return lines


def _deployment_cost_lines(group: Sequence[DeploymentProfiles], prices: Mapping[str, Price]) -> list[list[Any]]:
    """One line per deployment with a priced model: the sum of its profiles' estimated cost."""
    lines: list[list[Any]] = []
    for n, deployment in enumerate(group):
        priced = [(model, pid) for model, pid in deployment.profile_ids.items() if model in prices]
        if not priced:
            continue
        hidden: list[list[Any]] = []
        terms = []
        for k, (model, profile_id) in enumerate(priced):
            input_id, output_id = f"d{n}in{k}", f"d{n}out{k}"
            hidden.append(
                [BEDROCK_NAMESPACE, "InputTokenCount", "ModelId", profile_id, {"id": input_id, "visible": False}]
            )
            hidden.append(
                [BEDROCK_NAMESPACE, "OutputTokenCount", "ModelId", profile_id, {"id": output_id, "visible": False}]
            )
            terms.append(cost_expression(input_id, output_id, prices[model]))
        lines.append([{"expression": "+".join(terms), "label": f"{deployment.name} (USD)", "id": f"d{n}"}])
        lines.extend(hidden)
    return lines
