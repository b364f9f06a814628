"""Alarms and the dashboard: an encrypted SNS topic, per-model `AWS/Bedrock` alarms, a log-delivery alarm,
and per deployment the same alarms on each of its application inference profiles.

Calls through an application profile are published in `AWS/Bedrock` with `ModelId` = the profile's id (the
last segment of its ARN; PARTIAL: two independent codebases query it so, no AWS reference page says it,
and whether the error and throttle metrics are published per profile is UNVERIFIED). The account-level
alarms on the `us.` model ids stay, under their old logical names, so an upgrade replaces nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from catalog.models import Price
from infra.config import DEPLOYMENT_TAG
from infra.constants import BEDROCK_NAMESPACE, COMPONENT_PREFIX, LOG_DELIVERY_ALARM, MODEL_ALARMS, AlarmSpec
from infra.dashboard import DeploymentProfiles, dashboard_body, model_slug
from infra.policies import alarm_topic_policy


@dataclass(frozen=True)
class DeploymentMonitoring:
    """What monitoring and budgets need of one deployment; `profile_ids` maps each of its models to the id
    of its application inference profile (`aws.bedrock.InferenceProfile.id`, an Output)."""

    name: str
    models: Sequence[str]
    profile_ids: Mapping[str, pulumi.Input[str]]
    monthly_budget_usd: float | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


def deployment_tags(deployment: DeploymentMonitoring) -> dict[str, str]:
    """The contract's tags of a per-deployment resource: the deployment tag plus the deployment's own."""
    return {**deployment.tags, DEPLOYMENT_TAG: deployment.name}


def deployment_alarm_name(component: str, deployment: str, model: str, slug: str) -> str:
    """`<component>-<deployment>--<model slug>-<alarm>`. The `--` never occurs in a model slug, so no
    deployment's name can collide with an account-level alarm's `<component>-<model slug>-<alarm>` or
    with another deployment's."""
    return f"{component}-{deployment}--{model_slug(model)}-{slug}"


@dataclass(frozen=True)
class MonitoringArgs:
    region: str
    models: Sequence[str]
    prices: Mapping[str, Price]
    kms_key_arn: pulumi.Input[str]
    dashboard_name: str
    alarm_email: str | None = None
    # Empty: only the account-level alarms and widgets (as before deployments existed).
    deployments: Sequence[DeploymentMonitoring] = ()


class Monitoring(pulumi.ComponentResource):
    topic: aws.sns.Topic
    topic_policy: aws.sns.TopicPolicy
    budget_topic_arn: pulumi.Output[str]
    alarms: dict[tuple[str, str], aws.cloudwatch.MetricAlarm]
    deployment_alarms: dict[tuple[str, str, str], aws.cloudwatch.MetricAlarm]
    log_delivery_alarm: aws.cloudwatch.MetricAlarm
    dashboard: aws.cloudwatch.Dashboard

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.topic = aws.sns.Topic(f"{name}-alarms", kms_master_key_id=args.kms_key_arn, opts=child)
        # The topic's ARN names its account (arn:aws:sns:<region>:<account>:<name>): no extra argument needed.
        policy = self.topic.arn.apply(lambda arn: json.dumps(alarm_topic_policy(arn.split(":")[4], args.region, arn)))
        self.topic_policy = aws.sns.TopicPolicy(f"{name}-alarms-policy", arn=self.topic.arn, policy=policy, opts=child)
        # Budgets refuses a notification topic it may not publish to: this ARN resolves after the policy.
        self.budget_topic_arn = pulumi.Output.all(self.topic.arn, self.topic_policy.id).apply(lambda v: str(v[0]))
        if args.alarm_email is not None:
            # Email subscriptions stay "pending confirmation" until the address owner confirms.
            aws.sns.TopicSubscription(
                f"{name}-alarms-email", topic=self.topic.arn, protocol="email", endpoint=args.alarm_email, opts=child
            )
        actions = [self.topic.arn]

        self.alarms = {
            (model, spec.slug): _alarm(
                f"{name}-{model_slug(model)}-{spec.slug}",
                spec,
                f"{spec.description} ({model})",
                actions,
                child,
                dimensions={"ModelId": model},
            )
            for model in args.models
            for spec in MODEL_ALARMS
        }
        self.deployment_alarms = {
            (d.name, model, spec.slug): _alarm(
                deployment_alarm_name(name, d.name, model, spec.slug),
                spec,
                f"{spec.description} (deployment {d.name}, {model})",
                actions,
                child,
                dimensions={"ModelId": d.profile_ids[model]},
                tags=deployment_tags(d),
            )
            for d in args.deployments
            for model in d.models
            for spec in MODEL_ALARMS
        }
        self.log_delivery_alarm = _alarm(
            f"{name}-{LOG_DELIVERY_ALARM.slug}", LOG_DELIVERY_ALARM, LOG_DELIVERY_ALARM.description, actions, child
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=_dashboard_json(args),
            opts=child,
        )
        self.register_outputs({"alarmTopicArn": self.topic.arn, "dashboardName": self.dashboard.dashboard_name})


def _alarm(
    name: str,
    spec: AlarmSpec,
    description: str,
    actions: Sequence[pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
    dimensions: Mapping[str, pulumi.Input[str]] | None = None,
    tags: Mapping[str, str] | None = None,
) -> aws.cloudwatch.MetricAlarm:
    """One `AWS/Bedrock` alarm from its spec: fires at or above the threshold, quiet when no data comes."""
    return aws.cloudwatch.MetricAlarm(
        name,
        alarm_description=description,
        namespace=BEDROCK_NAMESPACE,
        metric_name=spec.metric,
        dimensions=dimensions,
        statistic=spec.statistic,
        period=spec.period_seconds,
        evaluation_periods=spec.evaluation_periods,
        threshold=spec.threshold,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=actions,
        ok_actions=actions,
        tags=tags,
        opts=opts,
    )


def _dashboard_json(args: MonitoringArgs) -> pulumi.Output[str]:
    """The dashboard body once every profile id is known (they are outputs of the access component)."""
    names = [(d.name, model) for d in args.deployments for model in d.models]
    ids = [d.profile_ids[model] for d in args.deployments for model in d.models]

    def render(resolved: list[str]) -> str:
        profiles: dict[str, dict[str, str]] = {}
        for (deployment, model), profile_id in zip(names, resolved, strict=True):
            profiles.setdefault(deployment, {})[model] = profile_id
        rows = [DeploymentProfiles(d.name, profiles.get(d.name, {})) for d in args.deployments]
        return json.dumps(dashboard_body(args.region, args.models, args.prices, rows))

    return pulumi.Output.all(*ids).apply(render)
