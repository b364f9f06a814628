"""The stack's `deployments` output, part of the CLI's contract (provisioning/core/stack_outputs.py).

One JSON object keyed by deployment name: its principal, its credentials secret, model id -> its
application-profile ARN, and its budget (null without one). Only ARNs and names: never a secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from catalog.deployments import DEFAULT_DEPLOYMENT
from infra.components.bedrock_access import BedrockAccess
from infra.components.monitoring import DeploymentMonitoring
from infra.config import DeploymentConfig, StackConfig


def budget_name(resource_prefix: str, deployment: str) -> str:
    """The name of a deployment's AWS budget: account-unique, and the one the budget resource is given."""
    return f"{resource_prefix}-{deployment}"


def primary(accesses: Mapping[str, BedrockAccess]) -> BedrockAccess:
    """The deployment the pre-deployments outputs describe: `default`, or else the first one."""
    return accesses.get(DEFAULT_DEPLOYMENT) or next(iter(accesses.values()))


def deployments_output(
    deployments: Sequence[DeploymentConfig], accesses: Mapping[str, BedrockAccess], resource_prefix: str
) -> pulumi.Output[dict[str, Any]]:
    """The `deployments` output; Pulumi resolves the nested Outputs (ARNs) before exporting it."""
    value = {
        d.name: {
            "elasticsearchPrincipalArn": accesses[d.name].principal_arn,
            "credentialsSecretArn": accesses[d.name].credentials_secret_arn,
            "inferenceProfiles": {model: profile.arn for model, profile in accesses[d.name].profiles.items()},
            "monthlyBudgetUsd": d.monthly_budget_usd,
            "budgetName": budget_name(resource_prefix, d.name) if d.monthly_budget_usd is not None else None,
        }
        for d in deployments
    }
    return pulumi.Output.from_input(value)


def watched_deployments(cfg: StackConfig, accesses: Mapping[str, BedrockAccess]) -> list[DeploymentMonitoring]:
    """What monitoring and budgets need of each deployment: its models, the ids of its application profiles
    (CloudWatch's `ModelId` for calls through them), its budget and its tags. None for a stack without
    `deployments`: it is monitored as before deployments existed (the account-level alarms per model)."""
    if not cfg.deployments:
        return []
    return [
        DeploymentMonitoring(
            d.name,
            d.models or cfg.models,
            {model: profile.id for model, profile in accesses[d.name].profiles.items()},
            d.monthly_budget_usd,
            d.tags,
        )
        for d in cfg.effective_deployments
    ]
