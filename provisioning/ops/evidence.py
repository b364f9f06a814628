"""Gather what `verify` judges: AWS reads (boto3, via `aws`) and one read of the cluster.

A read that fails is kept as evidence (the error), so one refused permission fails its own controls
and the rest of the report still runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from provisioning.adapters import aws
from provisioning.adapters.settings import ConnectionSettings
from provisioning.core.deployments import Resolution
from provisioning.core.errors import ManagedLlmError
from provisioning.core.model import DesiredState
from provisioning.core.planning import ClusterReader
from provisioning.core.stack_outputs import StackOutputs
from provisioning.ops.invocation_logs import MAX_LOG_EVENTS
from provisioning.ops.verify import Evidence, VerifyReport, evaluate, log_group_name

RECENT = timedelta(hours=24)
T = TypeVar("T")


def _kept(read: Callable[[], T]) -> T | ManagedLlmError:
    try:
        return read()
    except ManagedLlmError as exc:
        return exc


def _per_deployment(
    stack: StackOutputs,
) -> tuple[dict[str, Any], dict[str, Mapping[str, Any] | ManagedLlmError | None]]:
    """Each deployment's principal policies, and its budget where it has one (the account is the principal's)."""
    documents: dict[str, Any] = {}
    budgets: dict[str, Mapping[str, Any] | ManagedLlmError | None] = {}
    for name, outputs in (stack.deployments or {}).items():
        arn = outputs.principal_arn
        documents[name] = _kept(lambda arn=arn: aws.principal_policy_documents(arn))  # type: ignore[misc]
        if outputs.budget_name is not None:
            account, budget = arn.split(":")[4], outputs.budget_name
            budgets[name] = _kept(lambda a=account, b=budget: aws.budget(a, b))  # type: ignore[misc]
    return documents, budgets


def gather(
    desired: DesiredState,
    stack: StackOutputs,
    cluster: ClusterReader,
    settings: ConnectionSettings,
    resolution: Resolution | None = None,
) -> Evidence:
    region = stack.region
    config = _kept(lambda: aws.logging_configuration(region))
    partial = Evidence(
        desired=desired,
        stack=stack,
        logging_config=config,
        log_group=None,
        recent_events=(),
        principal_documents=None,
        cluster=_kept(cluster.read_all),
        es_url=settings.url,
        ca_certs=str(settings.ca_certs) if settings.ca_certs else None,
    )
    group = log_group_name(partial)
    now = datetime.now(UTC)
    principal = stack.elasticsearch_principal_arn
    documents, budgets = _per_deployment(stack)
    return Evidence(
        desired=desired,
        stack=stack,
        logging_config=config,
        log_group=None if group is None else _kept(lambda: aws.log_group(group, region)),
        recent_events=()
        if group is None
        else _kept(lambda: aws.log_events(group, region, now - RECENT, now, limit=MAX_LOG_EVENTS)),
        principal_documents=None if principal is None else _kept(lambda: aws.principal_policy_documents(principal)),
        cluster=partial.cluster,
        es_url=partial.es_url,
        ca_certs=partial.ca_certs,
        resolution=resolution,
        deployment_documents=documents,
        budgets=budgets,
    )


def verify(
    desired: DesiredState,
    stack: StackOutputs,
    cluster: ClusterReader,
    settings: ConnectionSettings,
    resolution: Resolution | None = None,
) -> VerifyReport:
    """The `verify` report: gather the evidence, then judge it."""
    return evaluate(gather(desired, stack, cluster, settings, resolution))
