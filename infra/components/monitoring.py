"""Alarms and the dashboard: an encrypted SNS topic, per-model `AWS/Bedrock` alarms, a log-delivery alarm."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog.models import Price
from infra.constants import BEDROCK_NAMESPACE, COMPONENT_PREFIX, LOG_DELIVERY_ALARM, MODEL_ALARMS, AlarmSpec
from infra.dashboard import dashboard_body, model_slug


@dataclass(frozen=True)
class MonitoringArgs:
    region: str
    models: Sequence[str]
    prices: Mapping[str, Price]
    kms_key_arn: pulumi.Input[str]
    dashboard_name: str
    alarm_email: str | None = None


class Monitoring(pulumi.ComponentResource):
    topic: aws.sns.Topic
    alarms: dict[tuple[str, str], aws.cloudwatch.MetricAlarm]
    log_delivery_alarm: aws.cloudwatch.MetricAlarm
    dashboard: aws.cloudwatch.Dashboard

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.topic = aws.sns.Topic(f"{name}-alarms", kms_master_key_id=args.kms_key_arn, opts=child)
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
        self.log_delivery_alarm = _alarm(
            f"{name}-{LOG_DELIVERY_ALARM.slug}", LOG_DELIVERY_ALARM, LOG_DELIVERY_ALARM.description, actions, child
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=json.dumps(dashboard_body(args.region, args.models, args.prices)),
            opts=child,
        )
        self.register_outputs({"alarmTopicArn": self.topic.arn, "dashboardName": self.dashboard.dashboard_name})


def _alarm(
    name: str,
    spec: AlarmSpec,
    description: str,
    actions: Sequence[pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
    dimensions: Mapping[str, str] | None = None,
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
        opts=opts,
    )
