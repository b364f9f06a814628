"""Budgets may publish to the encrypted alarm topic: topic and key policy statements with source conditions."""

from __future__ import annotations

from typing import Any

from infra.components.encryption import EncryptionKey, EncryptionKeyArgs
from infra.components.monitoring import Monitoring, MonitoringArgs
from infra.policies import alarm_topic_policy, key_policy
from tests.infra.conftest import ACCOUNT, Engine, policy_of, scoped_to
from tests.infra.iam_lint import lint

REGION = "us-east-1"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:managed-llm-alarms"
GROUP = "/managed-llm/test/bedrock-invocations"
BUDGETS_CONDITION = {
    "StringEquals": {"aws:SourceAccount": ACCOUNT},
    "ArnLike": {"aws:SourceArn": f"arn:aws:budgets::{ACCOUNT}:*"},
}


def by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_topic_policy_lets_this_accounts_budgets_publish() -> None:
    budgets = by_sid(alarm_topic_policy(ACCOUNT, REGION, TOPIC))["AWSBudgetsSNSPublishingPermissions"]
    assert budgets["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert budgets["Action"] == "SNS:Publish"
    assert budgets["Resource"] == TOPIC
    assert budgets["Condition"] == BUDGETS_CONDITION


def test_topic_policy_keeps_the_alarms_and_the_accounts_own_access() -> None:
    statements = by_sid(alarm_topic_policy(ACCOUNT, REGION, TOPIC))
    alarms = statements["CloudWatchAlarmsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Action"] == "SNS:Publish"
    assert alarms["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"},
    }
    owner = statements["AccountOwnsTopic"]
    assert owner["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert {"SNS:Subscribe", "SNS:Publish", "SNS:GetTopicAttributes"} <= set(owner["Action"])
    assert all(s["Resource"] == TOPIC for s in statements.values())
    # No service may publish without a source condition, and nobody gets a wildcard principal.
    for sid, statement in statements.items():
        assert statement["Principal"] not in ("*", {"AWS": "*"}), sid
        if "Service" in statement["Principal"]:
            assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}, sid


def test_topic_policy_lints_clean() -> None:
    assert lint(alarm_topic_policy(ACCOUNT, REGION, TOPIC)) == []


def test_key_policy_lets_this_accounts_budgets_use_the_key_for_the_topic() -> None:
    statements = by_sid(key_policy(ACCOUNT, REGION, GROUP))
    budgets = statements["BudgetsPublishToEncryptedTopic"]
    assert budgets["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert sorted(budgets["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert budgets["Resource"] == "*"  # in a key policy: this key
    assert budgets["Condition"] == BUDGETS_CONDITION
    # The alarms' statement is unchanged.
    alarms = statements["CloudWatchAlarmsPublishToEncryptedTopic"]
    assert (alarms["Principal"], alarms["Action"]) == (
        {"Service": "cloudwatch.amazonaws.com"},
        ["kms:Decrypt", "kms:GenerateDataKey*"],
    )


def test_the_deployed_key_policy_carries_the_budgets_statement(engine: Engine) -> None:
    engine.run(
        lambda: EncryptionKey("enc", EncryptionKeyArgs(ACCOUNT, REGION, GROUP, "managed-llm-test"), scoped_to(REGION))
    )
    key = engine.mocks.one("aws:kms/key:Key")
    assert by_sid(policy_of(key))["BudgetsPublishToEncryptedTopic"]["Condition"] == BUDGETS_CONDITION, key.urn


def test_the_alarm_topic_gets_its_policy_with_its_own_arn_and_account(engine: Engine) -> None:
    engine.run(
        lambda: Monitoring(
            "mon",
            MonitoringArgs(REGION, ("us.anthropic.claude-sonnet-4-6",), {}, "key", "managed-llm-test"),
            scoped_to(REGION),
        )
    )
    topic = engine.mocks.one("aws:sns/topic:Topic")
    topic_policy = engine.mocks.one("aws:sns/topicPolicy:TopicPolicy")
    assert topic_policy.inputs["arn"] == topic.outputs["arn"], topic_policy.urn
    assert policy_of(topic_policy) == alarm_topic_policy(ACCOUNT, REGION, topic.outputs["arn"]), topic_policy.urn
