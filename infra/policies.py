"""IAM and KMS policy documents as pure functions of data.

No Pulumi here: components resolve account ids and ARNs, then call these functions, so each document is
unit-tested (and linted) as a plain dict. Shapes follow AWS's own examples: the S3/CloudWatch examples of
https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html, the key policy of
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html and the profile + model
statements of https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from catalog.models import is_us_region, parse_model_id
from infra.constants import (
    ALARMS_KMS_ACTIONS,
    BEDROCK_INVOKE_ACTIONS,
    BEDROCK_LOG_STREAM,
    BUDGETS_KMS_ACTIONS,
    BUDGETS_PRINCIPAL,
    CLOUDWATCH_PRINCIPAL,
    LOGGING_ROLE_ACTIONS,
    LOGS_KMS_ACTIONS,
    PARTITION,
    TOPIC_OWNER_ACTIONS,
)

PolicyDocument = dict[str, Any]
VERSION = "2012-10-17"
# A customer-managed policy may hold 6,144 characters (an IAM user's inline policies only 2,048 in all).
MAX_MANAGED_POLICY_SIZE = 6144

# Every US commercial region a `us.` profile could route to (for the worst-case size check).
ALL_US_REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2")
# An application inference profile's id is at most 64 of [a-zA-Z0-9-:.] (botocore bedrock service-2.json,
# shape InferenceProfileId); its ARN is `arn:aws:bedrock:<region>:<account>:application-inference-profile/<id>`
# (docs/research/models-and-apis-2026-12.md §6, VERIFIED: botocore InferenceProfileArn pattern).
MAX_PROFILE_ID_LENGTH = 64
_APPLICATION_PROFILE_ARN = re.compile(
    rf"^arn:{PARTITION}:bedrock:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{{12}}):"
    rf"application-inference-profile/(?P<id>[a-zA-Z0-9:.-]{{1,{MAX_PROFILE_ID_LENGTH}}})$"
)
# A US commercial region: `us-east-1`, `us-west-2`, ... (`us-gov-*` is another partition).
_FOUNDATION_MODEL_ARN = re.compile(rf"^arn:{PARTITION}:bedrock:(?P<region>[a-z0-9-]+)::foundation-model/(?P<model>.+)$")


class PolicyError(ValueError):
    """Data that would produce a document breaking an invariant (e.g. a route outside the US)."""


@dataclass(frozen=True)
class ModelGrant:
    """What the Elasticsearch principal may invoke for one allow-listed model id.

    `profile_arn` is set for an inference profile (a deployment's application profile, or a `us.` system
    profile); `foundation_model_arns` are then the models in every region the profile routes to, usable only
    through that profile. Without a profile the single foundation-model ARN is in the stack's own region.
    """

    model_id: str
    foundation_model_arns: tuple[str, ...]
    profile_arn: str | None = None


def foundation_model_arn(region: str, foundation_model_id: str) -> str:
    return f"arn:{PARTITION}:bedrock:{region}::foundation-model/{foundation_model_id}"


def inference_profile_arn(region: str, account_id: str, profile_id: str) -> str:
    """A system-defined (`us.`) inference profile: what an application profile is copied from."""
    return f"arn:{PARTITION}:bedrock:{region}:{account_id}:inference-profile/{profile_id}"


def application_profile_arn(region: str, account_id: str, profile_id: str) -> str:
    """An application inference profile (a deployment's own copy of a model or `us.` profile)."""
    return f"arn:{PARTITION}:bedrock:{region}:{account_id}:application-inference-profile/{profile_id}"


def application_profile_id(arn: str) -> str:
    """The id CloudWatch uses as `ModelId` for calls through the profile: the ARN's last segment
    (docs/research/many-deployments-2026-12.md §1, PARTIAL)."""
    match = _APPLICATION_PROFILE_ARN.match(arn)
    if match is None:
        raise PolicyError(f"{arn!r} is not an application inference profile ARN")
    return match["id"]


def log_group_arn(region: str, account_id: str, log_group_name: str) -> str:
    """The ARN without the `:*` suffix, as CloudWatch Logs puts it in the KMS encryption context."""
    return f"arn:{PARTITION}:logs:{region}:{account_id}:log-group:{log_group_name}"


def checked_routes(model_id: str, foundation_model_id: str, routed_model_arns: Sequence[str]) -> tuple[str, ...]:
    """The foundation-model ARNs a `us.` profile routes to, sorted, after refusing a route outside US
    regions or to another model: either would break the US-only promise or grant more than the allow-list."""
    if not routed_model_arns:
        raise PolicyError(f"{model_id}: the inference profile lists no foundation models")
    for arn in routed_model_arns:
        match = _FOUNDATION_MODEL_ARN.match(arn)
        if match is None:
            raise PolicyError(f"{model_id}: {arn!r} is not a foundation-model ARN")
        if not is_us_region(match["region"]):
            raise PolicyError(f"{model_id}: the inference profile routes to {match['region']}, outside the US")
        if match["model"] != foundation_model_id:
            raise PolicyError(f"{model_id}: the inference profile routes to another model, {match['model']}")
    return tuple(sorted(set(routed_model_arns)))


def profile_grant(
    model_id: str, foundation_model_id: str, profile_arn: str, routed_model_arns: Sequence[str]
) -> ModelGrant:
    """A grant for an inference profile from the model ARNs Bedrock says it routes to (checked_routes)."""
    return ModelGrant(
        model_id=model_id,
        foundation_model_arns=checked_routes(model_id, foundation_model_id, routed_model_arns),
        profile_arn=profile_arn,
    )


def in_region_grant(model_id: str, region: str) -> ModelGrant:
    return ModelGrant(model_id=model_id, foundation_model_arns=(foundation_model_arn(region, model_id),))


def bedrock_invoke_policy(grants: Sequence[ModelGrant]) -> PolicyDocument:
    """Invoke-only access to exactly the granted models: no wildcard action or resource.

    Three statements whatever the number of models, so the document stays small: the inference profiles;
    the foundation models they route to, usable only through one of those profiles (AWS "inference profile
    prerequisites": the principal cannot call the model directly in a region of its choosing); and the
    models invoked in-region. A profile routes only to its own model, so one shared condition grants no
    more than one per model would.
    """
    if not grants:
        raise PolicyError("no models to grant")
    document = {"Version": VERSION, "Statement": _statements(grants)}
    if (size := policy_size(document)) > MAX_MANAGED_POLICY_SIZE:
        raise PolicyError(
            f"the invoke policy for {len(grants)} models is {size} characters; IAM allows {MAX_MANAGED_POLICY_SIZE}"
        )
    return document


def _statements(grants: Sequence[ModelGrant]) -> list[dict[str, Any]]:
    ordered = sorted(grants, key=lambda g: g.model_id)
    actions = list(BEDROCK_INVOKE_ACTIONS)
    profiles = [g.profile_arn for g in ordered if g.profile_arn is not None]
    through_profiles = sorted({arn for g in ordered if g.profile_arn is not None for arn in g.foundation_model_arns})
    in_region = sorted({arn for g in ordered if g.profile_arn is None for arn in g.foundation_model_arns})
    statements: list[dict[str, Any]] = []
    if profiles:
        statements.append(
            {"Sid": "InvokeInferenceProfiles", "Effect": "Allow", "Action": actions, "Resource": profiles}
        )
        statements.append(
            {
                "Sid": "InvokeModelsThroughProfiles",
                "Effect": "Allow",
                "Action": actions,
                "Resource": through_profiles,
                # ArnEquals: the condition key is ARN-typed; a list means "any of these profiles".
                "Condition": {
                    "ArnEquals": {"bedrock:InferenceProfileArn": profiles[0] if len(profiles) == 1 else profiles}
                },
            }
        )
    if in_region:
        statements.append({"Sid": "InvokeModelsInRegion", "Effect": "Allow", "Action": actions, "Resource": in_region})
    return statements


def deployment_invoke_policy(grants: Sequence[ModelGrant], *, allow_system_profiles: bool = False) -> PolicyDocument:
    """One deployment's invoke policy: its own application inference profiles, and the foundation models
    they route to only through them, so its key can call neither another deployment's profiles nor the
    `us.` system profiles nor a model directly.

    Two statements (AWS "inference profile prerequisites": the profile ARN, plus the foundation model in
    every region the profile routes to, docs/research/many-deployments-2026-12.md §4). The condition key is
    `bedrock:InferenceProfileArn`: the key IAM's service metadata lists for `bedrock:InvokeModel` (as shipped
    with parliament; the AWS prose says `aws:InferenceProfileArn`, a typo per §4), ARN-typed, so `ArnEquals`.

    `allow_system_profiles` is the single-deployment stack's transition (no `deployments` configured): the
    grants may also name `us.` system profiles and in-region models, as before deployments existed.
    """
    for grant in grants:
        own = grant.profile_arn is not None and _APPLICATION_PROFILE_ARN.match(grant.profile_arn)
        if not own and not allow_system_profiles:
            raise PolicyError(
                f"{grant.model_id}: a deployment invokes only through its own application inference profile"
            )
    return bedrock_invoke_policy(grants)


def worst_case_policy_size(models: Sequence[str]) -> int:
    """A deployment's invoke policy size if it had every model in `models`, each application profile id
    were as long as Bedrock allows and every `us.` profile routed to every US region: checked at config
    time, before the real ids and routes exist, counting the system-profile grants a stack without
    `deployments` keeps besides its application profiles. A deployment's models are a subset of the stack's and the
    policy only grows with models, so this bounds every deployment's policy."""
    account, region = "123456789012", "us-west-2"
    grants = []
    for index, model in enumerate(models):
        parsed = parse_model_id(model)
        # Distinct ids of maximal length: the condition lists each profile ARN once.
        profile = application_profile_arn(region, account, f"{index:0{MAX_PROFILE_ID_LENGTH}d}")
        regions = ALL_US_REGIONS if parsed.via_us_profile else (region,)
        routes = [foundation_model_arn(r, parsed.foundation_model_id) for r in regions]
        grants.append(ModelGrant(model, tuple(routes), profile))
        # A stack without `deployments` also keeps its `us.` system-profile (or in-region) grants: count them.
        system = inference_profile_arn(region, account, model) if parsed.via_us_profile else None
        grants.append(ModelGrant(model, tuple(routes), system))
    document = {"Version": VERSION, "Statement": _statements(grants)} if grants else {}
    return policy_size(document)


def policy_size(document: PolicyDocument) -> int:
    """The size IAM counts against its limits: the JSON without whitespace."""
    return len(json.dumps(document, separators=(",", ":")))


def logging_trust_policy(account_id: str, region: str) -> PolicyDocument:
    """Only Bedrock, acting for this account in this region, may assume the logging role (confused deputy)."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "BedrockLogsForThisAccount",
                "Effect": "Allow",
                "Principal": {"Service": "bedrock.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:{PARTITION}:bedrock:{region}:{account_id}:*"},
                },
            }
        ],
    }


def logging_role_policy(account_id: str, region: str, log_group_name: str) -> PolicyDocument:
    """Create the invocation stream and put events in it; nothing else (no CreateLogGroup)."""
    stream = f"{log_group_arn(region, account_id, log_group_name)}:log-stream:{BEDROCK_LOG_STREAM}"
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "WriteInvocationMetadata",
                "Effect": "Allow",
                "Action": list(LOGGING_ROLE_ACTIONS),
                "Resource": stream,
            }
        ],
    }


def key_policy(account_id: str, region: str, log_group_name: str) -> PolicyDocument:
    """The project key: the account administers it (and grants use through IAM), CloudWatch Logs may use
    it only for our log group, CloudWatch alarms and this account's budgets may publish to the topic it
    encrypts.

    In a key policy `Resource: "*"` means "this key".
    """
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AccountAdministersKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{PARTITION}:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsEncryptsInvocationLogGroup",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": list(LOGS_KMS_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "ArnEquals": {
                        "kms:EncryptionContext:aws:logs:arn": log_group_arn(region, account_id, log_group_name)
                    }
                },
            },
            {
                # Alarms cannot publish to a topic under an AWS-managed key; a customer key must allow
                # them. AWS's own example carries no condition (kms:CallerAccount breaks delivery).
                "Sid": "CloudWatchAlarmsPublishToEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDWATCH_PRINCIPAL},
                "Action": list(ALARMS_KMS_ACTIONS),
                "Resource": "*",
            },
            {
                # Budgets notifications go to the same encrypted topic. AWS's example has no condition;
                # the source conditions keep another account's budget from using the key (confused deputy).
                "Sid": "BudgetsPublishToEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": BUDGETS_PRINCIPAL},
                "Action": list(BUDGETS_KMS_ACTIONS),
                "Resource": "*",
                "Condition": budgets_source_condition(account_id),
            },
        ],
    }


def budgets_source_condition(account_id: str) -> dict[str, dict[str, str]]:
    """Only this account's budgets: a budget ARN is `arn:aws:budgets::<account>:budget/<name>` (no region)."""
    return {
        "StringEquals": {"aws:SourceAccount": account_id},
        "ArnLike": {"aws:SourceArn": f"arn:{PARTITION}:budgets::{account_id}:*"},
    }


def alarm_topic_policy(account_id: str, region: str, topic_arn: str) -> PolicyDocument:
    """Who may use the alarm topic: the account (SNS's default grant), this account's CloudWatch alarms in
    the stack's region, and this account's budgets.

    Setting a topic policy replaces SNS's default one, so the account's own statement is kept and the alarms
    get an explicit statement (the confused-deputy form of
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html); the Budgets
    statement is AWS's own (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html).
    """
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AccountOwnsTopic",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{PARTITION}:iam::{account_id}:root"},
                "Action": list(TOPIC_OWNER_ACTIONS),
                "Resource": topic_arn,
            },
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDWATCH_PRINCIPAL},
                "Action": "SNS:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:{PARTITION}:cloudwatch:{region}:{account_id}:alarm:*"},
                },
            },
            {
                "Sid": "AWSBudgetsSNSPublishingPermissions",
                "Effect": "Allow",
                "Principal": {"Service": BUDGETS_PRINCIPAL},
                "Action": "SNS:Publish",
                "Resource": topic_arn,
                "Condition": budgets_source_condition(account_id),
            },
        ],
    }
