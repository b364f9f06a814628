"""managed-llm's guard rails as Pulumi CrossGuard rules: pure checks of one resource's inputs.

Each rule is a `ResourceValidationPolicy` whose `validate` receives the resource's engine-level inputs
(camelCase) and reports every violation. The pack is self-contained (a policy pack is installed on its
own), so the US region set is repeated here; tests/policy/test_rules.py holds it equal to the catalog.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

US_REGIONS = frozenset({"us-east-1", "us-east-2", "us-west-2"})
LOGGING_CONFIGURATION = "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
AWS_PROVIDER = "pulumi:providers:aws"
DELIVERY_FLAGS = (
    "textDataDeliveryEnabled",
    "imageDataDeliveryEnabled",
    "embeddingDataDeliveryEnabled",
    "videoDataDeliveryEnabled",
)
# Identity policies, by resource type and the input holding the document.
IAM_DOCUMENTS = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}


def metadata_only_logging(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Bedrock invocation logging must deliver no text, image, embedding or video, and to CloudWatch only."""
    if args.resource_type != LOGGING_CONFIGURATION:
        return
    config: Mapping[str, Any] = args.props.get("loggingConfig") or {}
    for flag in DELIVERY_FLAGS:
        if config.get(flag) is not False:
            state = "unset (the provider defaults it to true)" if config.get(flag) is None else "true"
            report_violation(f"{flag} is {state}: zero data retention needs it explicitly false", None)
    if config.get("s3Config"):
        report_violation("s3Config delivers invocation logs to S3: CloudWatch must be the only destination", None)
    if (config.get("cloudwatchConfig") or {}).get("largeDataDeliveryS3Config"):
        report_violation("largeDataDeliveryS3Config would send payloads to S3", None)


def us_regions_only(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """AWS providers and per-resource region overrides must stay in the US regions Bedrock serves."""
    region = args.props.get("region")
    if isinstance(region, str) and region not in US_REGIONS:
        what = "the AWS provider" if args.resource_type == AWS_PROVIDER else args.resource_type
        report_violation(f"{what} uses region {region}; allowed: {', '.join(sorted(US_REGIONS))}", None)


def no_broad_bedrock_grants(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """No identity policy may allow bedrock:* (or *) or any action on resource *."""
    key = IAM_DOCUMENTS.get(args.resource_type)
    document = args.props.get(key) if key else None
    if not isinstance(document, str):
        return  # not an identity policy, or not known yet during a preview
    try:
        parsed = json.loads(document)
    except ValueError:
        report_violation("the policy document is not JSON", None)
        return
    statements = parsed.get("Statement") or []
    for index, statement in enumerate([statements] if isinstance(statements, dict) else statements):
        if statement.get("Effect") != "Allow":
            continue
        where = f"statement {statement.get('Sid') or index}"
        actions = statement.get("Action") or []
        for action in [actions] if isinstance(actions, str) else actions:
            if action in ("*", "bedrock:*") or (action.startswith("bedrock:") and "*" in action):
                report_violation(f"{where} allows {action}", None)
        resources = statement.get("Resource") or []
        if "*" in ([resources] if isinstance(resources, str) else resources):
            report_violation(f"{where} allows resource *", None)
        if "NotAction" in statement or "NotResource" in statement:
            report_violation(f"{where} uses NotAction/NotResource", None)


def encrypted_log_group_with_retention(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Log groups must be KMS-encrypted and expire their events."""
    if args.resource_type != LOG_GROUP:
        return
    if not args.props.get("kmsKeyId"):
        report_violation("the log group has no KMS key (kmsKeyId)", None)
    if not args.props.get("retentionInDays"):
        report_violation("the log group never expires its events (retentionInDays)", None)


POLICIES = [
    ResourceValidationPolicy(
        name="bedrock-logging-metadata-only",
        description="Bedrock invocation logging delivers metadata only, to CloudWatch only.",
        validate=metadata_only_logging,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="us-regions-only",
        description="AWS resources stay in the US regions that serve the managed LLM.",
        validate=us_regions_only,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="no-broad-bedrock-iam",
        description="No IAM document grants bedrock:*, * or a * resource.",
        validate=no_broad_bedrock_grants,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="log-group-kms-and-retention",
        description="CloudWatch log groups are KMS-encrypted and have a retention period.",
        validate=encrypted_log_group_with_retention,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
]
