"""AWS Budgets per deployment: a monthly cost budget filtered to the deployment's cost-allocation tag.

Spend reaches a budget only through the tag `managed-llm:deployment=<name>` that the deployment's
application inference profiles carry: Bedrock attaches a profile's tags to the billing record of every
request made with the profile's ARN. The tag must be activated as a cost-allocation tag once, in the
Billing console of the management (or standalone) account; until then every budget shows $0. After a
tag first appears in billing data (up to 24 h) its activation takes up to 24 h more, and Budgets
refreshes up to three times a day: expect one to two days before a new deployment's budget shows spend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.monitoring import DeploymentMonitoring, deployment_tags
from infra.config import DEPLOYMENT_TAG
from infra.constants import COMPONENT_PREFIX
from infra.outputs import budget_name

# (notification type, percent of the limit): four of the five notifications a budget may have.
BUDGET_NOTIFICATIONS: tuple[tuple[str, float], ...] = (
    ("ACTUAL", 80.0),
    ("ACTUAL", 100.0),
    ("FORECASTED", 80.0),
    ("FORECASTED", 100.0),
)
MAX_NOTIFICATIONS_PER_BUDGET = 5


def tag_filter_value(deployment: str) -> str:
    """The `TagKeyValue` filter value for a deployment's tag: `user:<key>$<value>`.

    The `user:` prefix is required for a user-defined tag (without it a budget silently shows $0). Our key
    itself contains ':' (`managed-llm:deployment`); tag keys allow it, but that Budgets' `<key>$<value>`
    form parses such a key as intended is UNVERIFIED (no AWS document or test shows it).
    """
    return f"user:{DEPLOYMENT_TAG}${deployment}"


@dataclass(frozen=True)
class BudgetsArgs:
    resource_prefix: str
    # The alarm topic; pass `Monitoring.budget_topic_arn` so budgets wait for the topic policy (Budgets
    # refuses a topic it may not publish to).
    topic_arn: pulumi.Input[str]
    deployments: Sequence[DeploymentMonitoring]
    # Declares `aws.costexplorer.CostAllocationTag` for the deployment tag key. Off by default: it works only
    # from the management or a standalone account and only after the tag has appeared in billing data, so
    # on a first `pulumi up` (or from a member account) it fails the whole update.
    activate_cost_allocation_tag: bool = False


class Budgets(pulumi.ComponentResource):
    """One `aws.budgets.Budget` per deployment that sets `monthlyBudgetUsd`; none for the others."""

    budgets: dict[str, aws.budgets.Budget]
    cost_allocation_tag: aws.costexplorer.CostAllocationTag | None

    def __init__(self, name: str, args: BudgetsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:Budgets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        notifications = [
            aws.budgets.BudgetNotificationArgs(
                notification_type=kind,
                threshold=percent,
                threshold_type="PERCENTAGE",
                comparison_operator="GREATER_THAN",
                subscriber_sns_topic_arns=[args.topic_arn],
            )
            for kind, percent in BUDGET_NOTIFICATIONS
        ]
        self.budgets = {
            d.name: aws.budgets.Budget(
                f"{name}-{d.name}-budget",
                name=budget_name(args.resource_prefix, d.name),
                budget_type="COST",
                time_unit="MONTHLY",
                limit_amount=_usd(d.monthly_budget_usd),
                limit_unit="USD",
                # No `Service` filter: Anthropic models bill as their own "(Amazon Bedrock Edition)" services.
                cost_filters=[aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[tag_filter_value(d.name)])],
                notifications=notifications,
                tags=deployment_tags(d),
                opts=child,
            )
            for d in args.deployments
            if d.monthly_budget_usd is not None
        }
        self.cost_allocation_tag = None
        if args.activate_cost_allocation_tag:
            # The bare key, without `user:`: UpdateCostAllocationTagsStatus takes the key as tagged.
            self.cost_allocation_tag = aws.costexplorer.CostAllocationTag(
                f"{name}-deployment-tag", tag_key=DEPLOYMENT_TAG, status="Active", opts=child
            )
        self.register_outputs({"budgetNames": {n: b.name for n, b in self.budgets.items()}})


def _usd(amount: float) -> str:
    """Budgets takes the limit as a decimal string; two decimals are what a USD amount has."""
    return f"{amount:.2f}"
