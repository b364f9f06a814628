"""A monthly cost budget per deployment that sets one, filtered to its tag, notifying the alarm topic."""

from __future__ import annotations

import pulumi
import pytest

from infra.components.budgets import MAX_NOTIFICATIONS_PER_BUDGET, Budgets, BudgetsArgs
from infra.components.monitoring import DeploymentMonitoring
from tests.infra.conftest import ACCOUNT, Engine, scoped_to

TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:managed-llm-alarms"
BUDGET = "aws:budgets/budget:Budget"
SONNET = "us.anthropic.claude-sonnet-4-6"


def deployment(name: str, budget: float | None, tags: dict[str, str] | None = None) -> DeploymentMonitoring:
    return DeploymentMonitoring(name, (SONNET,), {SONNET: pulumi.Output.from_input(f"{name}aip")}, budget, tags or {})


def build(engine: Engine, deployments: list[DeploymentMonitoring], *, activate: bool = False) -> None:
    engine.run(
        lambda: Budgets(
            "managed-llm",
            BudgetsArgs("managed-llm-test", TOPIC, deployments, activate_cost_allocation_tag=activate),
            scoped_to("us-east-1"),
        )
    )


def test_only_deployments_with_a_monthly_budget_get_a_budget(engine: Engine) -> None:
    build(engine, [deployment("team-a", 100.0), deployment("team-b", None), deployment("team-c", 2500.5)])
    budgets = {b.inputs["name"]: b for b in engine.mocks.of_type(BUDGET)}
    assert set(budgets) == {"managed-llm-test-team-a", "managed-llm-test-team-c"}
    team_a = budgets["managed-llm-test-team-a"]
    assert (team_a.inputs["budgetType"], team_a.inputs["timeUnit"]) == ("COST", "MONTHLY"), team_a.urn
    assert (team_a.inputs["limitAmount"], team_a.inputs["limitUnit"]) == ("100.00", "USD"), team_a.urn
    assert budgets["managed-llm-test-team-c"].inputs["limitAmount"] == "2500.50"


def test_no_deployment_with_a_budget_means_no_budget(engine: Engine) -> None:
    build(engine, [deployment("default", None)])
    assert engine.mocks.of_type(BUDGET) == []


def test_a_budget_counts_only_its_deployments_tagged_spend(engine: Engine) -> None:
    build(engine, [deployment("team-a", 100.0, {"cost-center": "42"})])
    budget = engine.mocks.one(BUDGET)
    # `user:` marks a user-defined tag; without it the budget silently shows $0.
    assert budget.inputs["costFilters"] == [{"name": "TagKeyValue", "values": ["user:managed-llm:deployment$team-a"]}]
    assert "filterExpression" not in budget.inputs, budget.urn
    assert budget.inputs["tags"] == {"managed-llm:deployment": "team-a", "cost-center": "42"}, budget.urn


def test_a_budget_notifies_the_topic_on_actual_and_forecasted_spend_at_80_and_100_percent(engine: Engine) -> None:
    build(engine, [deployment("team-a", 100.0)])
    notifications = engine.mocks.one(BUDGET).inputs["notifications"]
    assert len(notifications) <= MAX_NOTIFICATIONS_PER_BUDGET
    assert sorted((n["notificationType"], n["threshold"]) for n in notifications) == [
        ("ACTUAL", 80.0),
        ("ACTUAL", 100.0),
        ("FORECASTED", 80.0),
        ("FORECASTED", 100.0),
    ]
    for notification in notifications:
        assert notification["thresholdType"] == "PERCENTAGE"
        assert notification["comparisonOperator"] == "GREATER_THAN"
        assert notification["subscriberSnsTopicArns"] == [TOPIC]


@pytest.mark.parametrize("activate", [False, True])
def test_the_cost_allocation_tag_is_declared_only_on_request(engine: Engine, activate: bool) -> None:
    build(engine, [deployment("team-a", 100.0)], activate=activate)
    tags = engine.mocks.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag")
    assert [(t.inputs["tagKey"], t.inputs["status"]) for t in tags] == (
        [("managed-llm:deployment", "Active")] if activate else []
    )


def test_budgets_wait_for_the_topic_policy_that_lets_them_publish(engine: Engine) -> None:
    from infra.components.monitoring import Monitoring, MonitoringArgs

    def program() -> None:
        opts = scoped_to("us-east-1")
        monitoring = Monitoring("managed-llm", MonitoringArgs("us-east-1", (SONNET,), {}, "key", "dash"), opts)
        args = BudgetsArgs("managed-llm-test", monitoring.budget_topic_arn, [deployment("team-a", 100.0)])
        Budgets("managed-llm", args, opts)

    engine.run(program)
    policy = engine.mocks.one("aws:sns/topicPolicy:TopicPolicy")
    assert any(urn.endswith(f"::{policy.name}") for urn in engine.dependencies("managed-llm-team-a-budget"))
    topic = engine.mocks.one("aws:sns/topic:Topic")
    assert engine.mocks.one(BUDGET).inputs["notifications"][0]["subscriberSnsTopicArns"] == [topic.outputs["arn"]]
