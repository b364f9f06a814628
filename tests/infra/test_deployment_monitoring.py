"""Alarms on each deployment's application profiles, and a dashboard that stays readable at 20 deployments."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pytest

from catalog.models import Price
from infra.components.monitoring import DeploymentMonitoring, Monitoring, MonitoringArgs
from infra.constants import MODEL_ALARMS
from infra.dashboard import (
    DEPLOYMENTS_PER_WIDGET,
    MAX_METRICS_PER_WIDGET,
    DeploymentProfiles,
    dashboard_body,
)
from tests.infra.conftest import Engine, scoped_to

REGION = "us-east-1"
SONNET = "us.anthropic.claude-sonnet-4-6"
HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
MODELS = (SONNET, HAIKU)
PRICES = {SONNET: Price(input=3.0, output=15.0), HAIKU: Price(input=1.0, output=5.0)}
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def profile_id(deployment: str, model: str) -> str:
    return f"{deployment}{MODELS.index(model)}aip"


def deployment(name: str, models: tuple[str, ...] = MODELS, **kwargs: Any) -> DeploymentMonitoring:
    # Profile ids arrive as outputs of the access component: pass them as Outputs here too.
    ids = {m: pulumi.Output.from_input(profile_id(name, m)) for m in models}
    return DeploymentMonitoring(name, models, ids, **kwargs)


def build(engine: Engine, deployments: list[DeploymentMonitoring]) -> None:
    engine.run(
        lambda: Monitoring(
            "managed-llm",
            MonitoringArgs(REGION, MODELS, PRICES, "key", "managed-llm-test", None, deployments),
            scoped_to(REGION),
        )
    )


def test_each_deployment_gets_the_model_alarms_on_each_of_its_profiles(engine: Engine) -> None:
    build(engine, [deployment("team-a", tags={"cost-center": "42"}), deployment("team-b", (HAIKU,))])
    alarms = engine.mocks.of_type(ALARM)
    on_profiles = {
        (a.inputs["dimensions"]["ModelId"], a.inputs["metricName"]): a for a in alarms if "dimensions" in a.inputs
    }
    expected = [("team-a", SONNET), ("team-a", HAIKU), ("team-b", HAIKU)]
    for name, model in expected:
        for spec in MODEL_ALARMS:
            alarm = on_profiles[(profile_id(name, model), spec.metric)]
            assert alarm.inputs["threshold"] == spec.threshold, alarm.urn
            assert alarm.inputs["tags"]["managed-llm:deployment"] == name, alarm.urn
            assert name in alarm.inputs["alarmDescription"], alarm.urn
            assert model in alarm.inputs["alarmDescription"], alarm.urn
    assert (profile_id("team-b", SONNET), "InvocationThrottles") not in on_profiles  # team-b has no Sonnet
    team_a = on_profiles[(profile_id("team-a", SONNET), "InvocationThrottles")]
    assert team_a.inputs["tags"] == {"managed-llm:deployment": "team-a", "cost-center": "42"}, team_a.urn
    account_level = len(MODELS) * len(MODEL_ALARMS) + 1
    assert len(alarms) == account_level + len(expected) * len(MODEL_ALARMS)


def test_the_account_level_alarms_keep_their_names_beside_a_default_deployment(engine: Engine) -> None:
    build(engine, [])
    before = {a.name for a in engine.mocks.of_type(ALARM)}
    engine.mocks.resources.clear()
    build(engine, [deployment("default")])
    after = {a.name for a in engine.mocks.of_type(ALARM)}
    assert before < after
    assert all("--" in name for name in after - before), sorted(after - before)


def test_a_deployment_name_cannot_collide_with_an_account_level_alarm(engine: Engine) -> None:
    # Without a separator, deployment "us" + in-region model "anthropic.x" reads like account-level "us.anthropic.x".
    in_region = SONNET.removeprefix("us.")
    us = DeploymentMonitoring("us", (in_region,), {in_region: pulumi.Output.from_input("aip")})
    engine.run(
        lambda: Monitoring(
            "managed-llm",
            MonitoringArgs(REGION, (SONNET,), {}, "key", "managed-llm-test", None, [us]),
            scoped_to(REGION),
        )
    )
    names = [a.name for a in engine.mocks.of_type(ALARM)]
    assert len(names) == len(set(names)), sorted(names)


def dashboard(engine: Engine) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(engine.mocks.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    return body


def visible_lines(widget: dict[str, Any]) -> list[dict[str, Any]]:
    return [m[0] for m in widget["properties"]["metrics"] if isinstance(m[0], dict)]


def per_deployment(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in body["widgets"] if "per deployment" in w["properties"]["title"]]


def test_the_dashboard_without_deployments_is_unchanged(engine: Engine) -> None:
    build(engine, [])
    assert dashboard(engine) == dashboard_body(REGION, MODELS, PRICES)


def test_one_deployment_gets_one_group_of_four_widgets_over_its_profiles(engine: Engine) -> None:
    build(engine, [deployment("team-a")])
    widgets = per_deployment(dashboard(engine))
    assert [w["properties"]["title"].split(" per deployment")[0] for w in widgets] == [
        "Invocations",
        "Errors and throttles",
        "Tokens (input + output)",
        "Estimated cost per day (USD, at configured prices)",
    ]
    for widget in widgets:
        hidden = [m for m in widget["properties"]["metrics"] if isinstance(m[0], str)]
        assert {m[3] for m in hidden} == {profile_id("team-a", m) for m in MODELS}, widget["properties"]["title"]
        assert [line["label"].removesuffix(" (USD)") for line in visible_lines(widget)] == ["team-a"]


def _evaluate(expression: str, values: dict[str, float]) -> float:
    """CloudWatch metric math of the form we emit: FILL(id,0), numbers, + * / and parentheses."""
    assert re.fullmatch(r"[A-Za-z0-9_.,+*/() ]+", expression), expression
    filled = re.sub(r"FILL\(([a-z][a-z0-9]*),0\)", lambda m: repr(values.get(m.group(1), 0.0)), expression)
    assert re.fullmatch(r"[0-9.+*/() e-]+", filled), filled
    return float(eval(filled))  # noqa: S307 (checked above: digits and arithmetic only)


def test_each_deployment_line_sums_its_own_profiles_only() -> None:
    rows = [DeploymentProfiles(n, {m: profile_id(n, m) for m in MODELS}) for n in ("team-a", "team-b")]
    body = dashboard_body(REGION, MODELS, PRICES, rows)
    invocations, errors, _, cost = per_deployment(body)
    for widget in (invocations, errors, cost):
        # Metric ids are unique within one widget (CloudWatch's scope for metric math).
        series = {m[4]["id"]: m[3] for m in widget["properties"]["metrics"] if isinstance(m[0], str)}
        for line in visible_lines(widget):
            ids = re.findall(r"FILL\(([a-z0-9]+),0\)", line["expression"])
            name = line["label"].removesuffix(" (USD)")
            assert {series[i] for i in ids} == {profile_id(name, m) for m in MODELS}
    # Cost: 1M input + 1M output tokens on each profile costs the sum of the models' prices.
    for line in visible_lines(cost):
        ids = re.findall(r"FILL\(([a-z0-9]+),0\)", line["expression"])
        assert _evaluate(line["expression"], dict.fromkeys(ids, 1e6)) == sum(
            p.input + p.output for p in PRICES.values()
        )


@pytest.mark.parametrize("count", [1, 20, 100])
def test_the_dashboard_stays_bounded_and_shows_every_deployment(count: int) -> None:
    names = [f"team-{i:03d}" for i in range(count)]
    rows = [DeploymentProfiles(n, {m: profile_id(n, m) for m in MODELS}) for n in names]
    body = dashboard_body(REGION, MODELS, PRICES, rows)
    widgets = per_deployment(body)
    groups = -(-count // DEPLOYMENTS_PER_WIDGET)
    assert len(widgets) == 4 * groups
    assert len(body["widgets"]) == len(dashboard_body(REGION, MODELS, PRICES)["widgets"]) + 4 * groups
    for kind in ("Invocations", "Errors and throttles", "Tokens", "Estimated cost"):
        of_kind = [w for w in widgets if w["properties"]["title"].startswith(kind)]
        labels = [line["label"].removesuffix(" (USD)") for w in of_kind for line in visible_lines(w)]
        assert labels == names, kind
    for widget in widgets:
        assert len(visible_lines(widget)) <= DEPLOYMENTS_PER_WIDGET
        assert len(widget["properties"]["metrics"]) <= MAX_METRICS_PER_WIDGET
        ids = [m[-1]["id"] if isinstance(m[0], str) else m[0]["id"] for m in widget["properties"]["metrics"]]
        assert len(ids) == len(set(ids)), widget["properties"]["title"]
    # Widgets tile the two-column grid without overlapping.
    cells = [(w["x"], w["y"]) for w in body["widgets"]]
    assert len(cells) == len(set(cells))


def test_many_models_split_groups_to_stay_under_the_metric_limit() -> None:
    models = [f"us.anthropic.model-{i}-v1:0" for i in range(40)]
    rows = [DeploymentProfiles(f"team-{i}", {m: f"p{i}x{j}" for j, m in enumerate(models)}) for i in range(10)]
    body = dashboard_body(REGION, models, {}, rows)
    widgets = per_deployment(body)
    assert len(widgets) > 3  # 10 deployments x 121 series do not fit one widget
    assert all(len(w["properties"]["metrics"]) <= MAX_METRICS_PER_WIDGET for w in widgets)
