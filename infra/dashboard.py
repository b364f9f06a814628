"""The CloudWatch dashboard body as a pure function of (region, models, prices).

Cost is CloudWatch metric math over the token metrics: tokens x USD-per-million / 1e6 per model, so the
figure is an estimate at the configured prices, not a bill.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from catalog.models import Price
from infra.constants import BEDROCK_NAMESPACE, DASHBOARD_METRICS

WIDTH = 12
HEIGHT = 6
COST_PERIOD_SECONDS = 86400
METRIC_PERIOD_SECONDS = 300


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


def dashboard_body(region: str, models: Sequence[str], prices: Mapping[str, Price]) -> dict[str, Any]:
    """Invocations, latency, errors, throttles, tokens per model, and the estimated cost widget."""
    widgets = [
        _metric_widget(region, title, metric, stat, models, index)
        for index, (title, metric, stat) in enumerate(DASHBOARD_METRICS)
    ]
    if any(m in prices for m in models):
        widgets.append(_cost_widget(region, models, prices, len(widgets)))
    return {"widgets": widgets}
