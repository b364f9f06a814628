"""Alarms and the dashboard: an encrypted SNS topic, per-model `AWS/Bedrock` alarms, a log-delivery alarm."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog.models import Price
from infra.constants import BEDROCK_NAMESPACE, COMPONENT_PREFIX, LOG_DELIVERY_FAILURE_METRIC, MODEL_ALARMS
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

        self.alarms = {}
        for model in args.models:
            for spec in MODEL_ALARMS:
                self.alarms[(model, spec.slug)] = aws.cloudwatch.MetricAlarm(
                    f"{name}-{model_slug(model)}-{spec.slug}",
                    alarm_description=f"{spec.description} ({model})",
                    namespace=BEDROCK_NAMESPACE,
                    metric_name=spec.metric,
                    dimensions={"ModelId": model},
                    statistic=spec.statistic,
                    period=spec.period_seconds,
                    evaluation_periods=spec.evaluation_periods,
                    threshold=spec.threshold,
                    comparison_operator="GreaterThanOrEqualToThreshold",
                    treat_missing_data="notBreaching",
                    alarm_actions=actions,
                    ok_actions=actions,
                    opts=child,
                )
        self.log_delivery_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-log-delivery-failures",
            alarm_description="Bedrock could not deliver invocation metadata to CloudWatch Logs (role or key policy)",
            namespace=BEDROCK_NAMESPACE,
            metric_name=LOG_DELIVERY_FAILURE_METRIC,
            statistic="Sum",
            period=300,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            opts=child,
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=json.dumps(dashboard_body(args.region, args.models, args.prices)),
            opts=child,
        )
        self.register_outputs({"alarmTopicArn": self.topic.arn, "dashboardName": self.dashboard.dashboard_name})
