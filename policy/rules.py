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
# A copy of catalog/data_delivery.py: the pack runs in its own virtualenv and cannot import the
# project (tests/policy/test_rules.py holds the copies equal). Bedrock's LoggingConfig flags (botocore
# bedrock service-2.json; audio since botocore 1.42.1), and the ones pulumi-aws models (7.51.1: not audio),
# each defaulting to true when unset.
DELIVERY_FLAGS = (
    "textDataDeliveryEnabled",
    "imageDataDeliveryEnabled",
    "embeddingDataDeliveryEnabled",
    "videoDataDeliveryEnabled",
    "audioDataDeliveryEnabled",
)
PROVIDER_FLAGS = (
    "textDataDeliveryEnabled",
    "imageDataDeliveryEnabled",
    "embeddingDataDeliveryEnabled",
    "videoDataDeliveryEnabled",
)
_DELIVERY_SUFFIX = "datadeliveryenabled"
ROLE = "aws:iam/role:Role"
POLICY_ATTACHMENTS = frozenset(
    {
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
    }
)
# AWS-managed policies granting Bedrock far beyond invoke (AmazonBedrockFullAccess, ...).
AWS_MANAGED_BEDROCK_POLICIES = ("arn:aws:iam::aws:policy/amazonbedrock",)
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
    flags = _delivery_flags(config)
    # Deny by default: any flag-like key, known or not, must be exactly false.
    for key, value in flags.items():
        if value is not False:
            state = "unset (the provider defaults it to true)" if value is None else json.dumps(value)
            known = "" if _canonical(key) in {_canonical(f) for f in DELIVERY_FLAGS} else " (an unknown flag)"
            report_violation(f"{key} is {state}{known}: zero data retention needs it explicitly false", None)
    seen = {_canonical(k) for k in flags}
    for flag in PROVIDER_FLAGS:
        if _canonical(flag) not in seen:
            state = "unset (the provider defaults it to true)"
            report_violation(f"{flag} is {state}: zero data retention needs it explicitly false", None)
    if config.get("s3Config"):
        report_violation("s3Config delivers invocation logs to S3: CloudWatch must be the only destination", None)
    if (config.get("cloudwatchConfig") or {}).get("largeDataDeliveryS3Config"):
        report_violation("largeDataDeliveryS3Config would send payloads to S3", None)


def unseen_logging_flags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Say which Bedrock delivery flags the resource's inputs do not carry: the pack cannot see them."""
    if args.resource_type != LOGGING_CONFIGURATION:
        return
    seen = {_canonical(k) for k in _delivery_flags(args.props.get("loggingConfig") or {})}
    for flag in DELIVERY_FLAGS:
        if _canonical(flag) not in seen:
            report_violation(
                f"{flag} is not in the inputs (the provider does not model it), so this pack cannot see it: "
                "make sure it is off with `aws bedrock put-model-invocation-logging-configuration` and "
                "`managed-llm verify`",
                None,
            )


def _canonical(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def _delivery_flags(config: Mapping[str, Any]) -> dict[str, Any]:
    """Every key of a logging config that names a data-delivery flag, in any spelling."""
    return {str(k): v for k, v in config.items() if _canonical(str(k)).endswith(_DELIVERY_SUFFIX)}


def us_regions_only(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """AWS providers and per-resource region overrides must stay in the US regions Bedrock serves."""
    region = args.props.get("region")
    if args.resource_type == AWS_PROVIDER and region is None:
        report_violation("the AWS provider sets no region (it would come from the environment): set one", None)
        return
    if isinstance(region, str) and region not in US_REGIONS:
        what = "the AWS provider" if args.resource_type == AWS_PROVIDER else args.resource_type
        report_violation(f"{what} uses region {region}; allowed: {', '.join(sorted(US_REGIONS))}", None)


def no_broad_bedrock_grants(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """No identity policy may allow bedrock:* (or *), any action on resource *, or a wildcard Bedrock ARN;
    no principal may get an AWS-managed Bedrock policy."""
    for arn in _managed_policy_arns(args):
        if arn.lower().startswith(AWS_MANAGED_BEDROCK_POLICIES):
            report_violation(f"attaches the AWS-managed policy {arn}, which grants far more than invoke", None)
    for source, document in _documents(args):
        try:
            parsed = json.loads(document)
        except ValueError:
            report_violation(f"{source}: the policy document is not JSON", None)
            continue
        statements = parsed.get("Statement") or []
        for index, statement in enumerate([statements] if isinstance(statements, dict) else statements):
            if statement.get("Effect") == "Allow":
                for problem in _statement_problems(statement):
                    report_violation(f"{source}statement {statement.get('Sid') or index} {problem}", None)


def _statement_problems(statement: Mapping[str, Any]) -> list[str]:
    problems = []
    actions = statement.get("Action") or []
    for action in [actions] if isinstance(actions, str) else actions:
        # IAM compares service prefixes and action names case-insensitively.
        lowered = str(action).lower()
        if lowered in ("*", "bedrock:*") or (lowered.startswith("bedrock:") and "*" in lowered):
            problems.append(f"allows {action}")
    resources = statement.get("Resource") or []
    for resource in [resources] if isinstance(resources, str) else resources:
        if resource == "*":
            problems.append("allows resource *")
        elif str(resource).lower().startswith("arn:aws:bedrock:") and "*" in str(resource):
            problems.append(f"allows the wildcard Bedrock resource {resource}")
    if "NotAction" in statement or "NotResource" in statement:
        problems.append("uses NotAction/NotResource")
    return problems


def _documents(args: ResourceValidationArgs) -> list[tuple[str, str]]:
    """(where, JSON document) of every identity policy a resource carries; unknown values are skipped."""
    found = []
    key = IAM_DOCUMENTS.get(args.resource_type)
    if key and isinstance(args.props.get(key), str):
        found.append(("", args.props[key]))
    if args.resource_type == ROLE:
        for inline in args.props.get("inlinePolicies") or []:
            if isinstance(inline, Mapping) and isinstance(inline.get("policy"), str):
                found.append((f"inline policy {inline.get('name', '')}: ", inline["policy"]))
    return found


def _managed_policy_arns(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type in POLICY_ATTACHMENTS and isinstance(args.props.get("policyArn"), str):
        return [args.props["policyArn"]]
    if args.resource_type in (ROLE, "aws:iam/user:User", "aws:iam/group:Group"):
        return [a for a in args.props.get("managedPolicyArns") or [] if isinstance(a, str)]
    return []


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
        name="bedrock-logging-unseen-flags",
        description="Bedrock data-delivery flags the provider cannot set are reported (the pack cannot see them).",
        validate=unseen_logging_flags,
        enforcement_level=EnforcementLevel.ADVISORY,
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
