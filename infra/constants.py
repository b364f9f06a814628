"""Constants of the AWS side: what CloudWatch accepts, what Bedrock writes, what we alarm on.

Values live here (or in the shared `catalog/data/catalog.json`), never inline in components, so a
reviewer can check them against the reference in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from catalog.models import load_catalog

PROJECT = "managed-llm"
CONFIG_NAMESPACE = PROJECT
COMPONENT_PREFIX = "managedllm:infra"

# US commercial regions only, so the partition is always `aws` (GovCloud is `aws-us-gov` and not allowed).
PARTITION = "aws"
US_REGIONS: tuple[str, ...] = load_catalog().regions.allowed
DEFAULT_REGION: str = load_catalog().regions.default
DEFAULT_MODELS: tuple[str, ...] = load_catalog().stack_default_models()
DEFAULT_LOG_RETENTION_DAYS = 365

# The retention values CloudWatch Logs' PutRetentionPolicy accepts (0 = "never expire" is refused on
# purpose: metadata logs must age out).
VALID_LOG_RETENTION_DAYS: frozenset[int] = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)

# Elasticsearch calls Converse/InvokeModel (authorized by InvokeModel) and ConverseStream
# (authorized by InvokeModelWithResponseStream):
# https://docs.aws.amazon.com/bedrock/latest/userguide/inference-prereq.html
BEDROCK_INVOKE_ACTIONS: tuple[str, ...] = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")

# Bedrock writes every invocation record to this stream of the configured log group
# (https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html).
BEDROCK_LOG_STREAM = "aws/bedrock/modelinvocations"
# Logging-role permissions: no CreateLogGroup, the group is ours.
LOGGING_ROLE_ACTIONS: tuple[str, ...] = ("logs:CreateLogStream", "logs:PutLogEvents")
# What the regional CloudWatch Logs service principal may do with the key
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
LOGS_KMS_ACTIONS: tuple[str, ...] = (
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
)
# CloudWatch alarms publishing to an SNS topic encrypted with a customer key need exactly these.
ALARMS_KMS_ACTIONS: tuple[str, ...] = ("kms:Decrypt", "kms:GenerateDataKey*")
# AWS Budgets publishing to that topic needs the same two
# (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html).
BUDGETS_KMS_ACTIONS: tuple[str, ...] = ("kms:Decrypt", "kms:GenerateDataKey*")
BUDGETS_PRINCIPAL = "budgets.amazonaws.com"
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
# What the account may do with its own alarm topic: the actions of SNS's default topic policy.
TOPIC_OWNER_ACTIONS: tuple[str, ...] = (
    "SNS:AddPermission",
    "SNS:DeleteTopic",
    "SNS:GetTopicAttributes",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
    "SNS:RemovePermission",
    "SNS:SetTopicAttributes",
    "SNS:Subscribe",
)

BEDROCK_NAMESPACE = "AWS/Bedrock"


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm per model on an `AWS/Bedrock` runtime metric (monitoring-runtime-metrics.html)."""

    metric: str
    slug: str
    threshold: float
    description: str
    period_seconds: int = 300
    evaluation_periods: int = 1
    statistic: Literal["Sum"] = "Sum"


MODEL_ALARMS: tuple[AlarmSpec, ...] = (
    AlarmSpec("InvocationServerErrors", "server-errors", 1, "Bedrock returned 5xx errors for this model"),
    AlarmSpec("InvocationThrottles", "throttles", 10, "Bedrock throttled requests for this model"),
    AlarmSpec("InvocationClientErrors", "client-errors", 5, "Bedrock refused requests (4xx) for this model"),
)

# Delivery of invocation logs failed: the logging role or the key policy is broken, so the metadata trail
# has a gap. Published without a ModelId dimension
# (https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-runtime-metrics.html).
LOG_DELIVERY_FAILURE_METRIC = "ModelInvocationLogsCloudWatchDeliveryFailure"
LOG_DELIVERY_ALARM = AlarmSpec(
    LOG_DELIVERY_FAILURE_METRIC,
    "log-delivery-failures",
    1,
    "Bedrock could not deliver invocation metadata to CloudWatch Logs (role or key policy)",
)

# Dashboard rows: (title, metric, statistic).
DASHBOARD_METRICS: tuple[tuple[str, str, str], ...] = (
    ("Invocations", "Invocations", "Sum"),
    ("Latency p90 (ms)", "InvocationLatency", "p90"),
    ("Client errors", "InvocationClientErrors", "Sum"),
    ("Server errors", "InvocationServerErrors", "Sum"),
    ("Throttles", "InvocationThrottles", "Sum"),
    ("Input tokens", "InputTokenCount", "Sum"),
    ("Output tokens", "OutputTokenCount", "Sum"),
)
