"""Alarms per model on the real AWS/Bedrock metric names, the log-delivery alarm, topic and dashboard."""

from __future__ import annotations

import json
import re

import pytest

from catalog.models import Price
from infra.components.monitoring import Monitoring, MonitoringArgs
from infra.constants import LOG_DELIVERY_ALARM, MODEL_ALARMS, AlarmSpec
from infra.dashboard import cost_expression, dashboard_body
from tests.infra.conftest import ACCOUNT, Engine, scoped_to

V1 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
V2 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/abc"
PRICES = {V1: Price(input=3.0, output=15.0), V2: Price(input=3.3, output=16.5)}


def build(engine: Engine, email: str | None = None) -> None:
    engine.run(
        lambda: Monitoring(
            "mon",
            MonitoringArgs("us-east-1", (V1, V2), PRICES, KEY_ARN, "managed-llm-test", email),
            scoped_to("us-east-1"),
        )
    )


def test_alarms_cover_every_model_and_error_metric(engine: Engine) -> None:
    build(engine)
    alarms = engine.mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    per_model = {(a.inputs.get("dimensions", {}).get("ModelId"), a.inputs["metricName"]) for a in alarms}
    for model in (V1, V2):
        for metric in ("InvocationServerErrors", "InvocationThrottles", "InvocationClientErrors"):
            assert (model, metric) in per_model, f"missing {metric} alarm for {model}"
    topic_arn = engine.mocks.one("aws:sns/topic:Topic").outputs["arn"]
    for alarm in alarms:
        assert alarm.inputs["namespace"] == "AWS/Bedrock", alarm.urn
        assert alarm.inputs["alarmActions"] == [topic_arn], alarm.urn
        assert alarm.inputs["treatMissingData"] == "notBreaching", alarm.urn
    assert len(alarms) == 2 * len(MODEL_ALARMS) + 1


def test_log_delivery_failure_has_an_alarm(engine: Engine) -> None:
    build(engine)
    (delivery,) = [
        a
        for a in engine.mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["metricName"] == "ModelInvocationLogsCloudWatchDeliveryFailure"
    ]
    assert "dimensions" not in delivery.inputs, delivery.urn
    assert delivery.urn.endswith("::mon-log-delivery-failures"), delivery.urn  # renaming it would replace it


def _spec_inputs(spec: AlarmSpec) -> dict[str, object]:
    return {
        "metricName": spec.metric,
        "statistic": spec.statistic,
        "period": spec.period_seconds,
        "evaluationPeriods": spec.evaluation_periods,
        "threshold": spec.threshold,
        "comparisonOperator": "GreaterThanOrEqualToThreshold",
    }


def test_every_alarm_is_declared_from_its_alarm_spec(engine: Engine) -> None:
    build(engine)
    specs = {spec.metric: spec for spec in (*MODEL_ALARMS, LOG_DELIVERY_ALARM)}
    alarms = engine.mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    for alarm in alarms:
        expected = _spec_inputs(specs[alarm.inputs["metricName"]])
        assert {k: alarm.inputs.get(k) for k in expected} == expected, alarm.urn


def test_alarm_topic_is_encrypted_with_the_project_key(engine: Engine) -> None:
    build(engine)
    topic = engine.mocks.one("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == KEY_ARN, topic.urn


def test_alarm_email_subscribes_only_when_configured(engine: Engine) -> None:
    build(engine)
    assert engine.mocks.of_type("aws:sns/topicSubscription:TopicSubscription") == []


def test_alarm_email_subscription(engine: Engine) -> None:
    build(engine, email="oncall@example.com")
    subscription = engine.mocks.one("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["protocol"] == "email"
    assert subscription.inputs["endpoint"] == "oncall@example.com"


def test_dashboard_shows_each_metric_per_model_and_cost(engine: Engine) -> None:
    build(engine)
    dashboard = engine.mocks.one("aws:cloudwatch/dashboard:Dashboard")
    assert dashboard.inputs["dashboardName"] == "managed-llm-test"
    body = json.loads(dashboard.inputs["dashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    for metric in ("Invocations", "InvocationLatency", "InputTokenCount", "OutputTokenCount", "InvocationServerErrors"):
        widget = next(w for w in body["widgets"] if w["properties"]["metrics"][0][1] == metric)
        assert {m[3] for m in widget["properties"]["metrics"]} == {V1, V2}
    assert any("cost" in t.lower() for t in titles)


def _evaluate(expression: str, values: dict[str, float]) -> float:
    """Evaluate CloudWatch metric math of the form we emit (FILL(id,0), numbers, + * / and parentheses);
    an id missing from `values` is a series with no data, which FILL turns into 0."""
    assert re.fullmatch(r"[A-Za-z0-9_.,+*/() ]+", expression), expression
    filled = re.sub(r"FILL\(([a-z]+\d+),0\)", lambda m: repr(values.get(m.group(1), 0.0)), expression)
    substituted = re.sub(r"[a-z]+\d+", lambda m: repr(values[m.group(0)]), filled)
    assert re.fullmatch(r"[0-9.+*/() e-]+", substituted), substituted
    return float(eval(substituted))  # noqa: S307 (checked above: digits and arithmetic only)


def test_cost_expression_is_tokens_times_price_per_million() -> None:
    expression = cost_expression("in0", "out0", Price(input=3.0, output=15.0))
    assert _evaluate(expression, {"in0": 2_000_000, "out0": 100_000}) == 6.0 + 1.5


@pytest.mark.parametrize("price", [0.00001, 1e-7, 0.02, 3.0, 16.5, 10000.0])
def test_cost_expression_writes_prices_as_plain_decimals(price: float) -> None:
    expression = cost_expression("in0", "out0", Price(input=price, output=price))
    assert "e" not in expression.replace("FILL", ""), expression
    assert _evaluate(expression, {"in0": 1_000_000, "out0": 0}) == pytest.approx(price)


def test_cost_of_a_model_without_output_tokens_is_not_empty() -> None:
    expression = cost_expression("in0", "out0", Price(input=0.02, output=0.0))
    assert _evaluate(expression, {"in0": 1_000_000}) == 0.02


def test_cost_widget_wires_each_models_tokens_to_its_price() -> None:
    body = dashboard_body("us-east-1", (V1, V2), PRICES)
    cost = body["widgets"][-1]["properties"]["metrics"]
    expressions = [m[0] for m in cost if isinstance(m[0], dict)]
    token_series = {m[4]["id"]: (m[1], m[3]) for m in cost if isinstance(m[0], str)}
    for n, model in enumerate((V1, V2)):
        assert token_series[f"in{n}"] == ("InputTokenCount", model)
        assert token_series[f"out{n}"] == ("OutputTokenCount", model)
        price = PRICES[model]
        assert _evaluate(expressions[n]["expression"], {f"in{n}": 1e6, f"out{n}": 1e6}) == price.input + price.output


def test_dashboard_without_prices_has_no_cost_widget() -> None:
    body = dashboard_body("us-east-1", (V1,), {})
    assert not any("cost" in w["properties"]["title"].lower() for w in body["widgets"])
