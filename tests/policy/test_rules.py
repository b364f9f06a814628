"""The CrossGuard policy pack: each rule fails a violating resource and passes a clean one.

No Pulumi CLI runs here, so the validators are called directly with the inputs a preview would give
them; the shipped stack's own resources (recorded by the mock engine) must pass every rule.
"""

from __future__ import annotations

import importlib.util
import json
import runpy
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pulumi_policy import ResourceValidationArgs

from catalog.models import load_catalog

POLICY = Path(__file__).resolve().parents[2] / "policy"


def load_rules() -> ModuleType:
    spec = importlib.util.spec_from_file_location("managed_llm_policy_rules", POLICY / "rules.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rules = load_rules()


def violations(resource_type: str, props: dict[str, Any], level: str = "mandatory") -> list[str]:
    """Every message the pack's rules of one enforcement level report for one resource."""
    found: list[str] = []
    args = ResourceValidationArgs(resource_type, props, f"urn:pulumi:s::p::{resource_type}::r", "r", None, None)  # type: ignore[arg-type]
    for policy in rules.POLICIES:
        if policy.enforcement_level.value == level:
            policy.validate(args, lambda message, urn=None, name=policy.name: found.append(f"{name}: {message}"))
    return found


METADATA_ONLY = {
    "cloudwatchConfig": {"logGroupName": "/g", "roleArn": "arn:aws:iam::1:role/r"},
    "textDataDeliveryEnabled": False,
    "imageDataDeliveryEnabled": False,
    "embeddingDataDeliveryEnabled": False,
    "videoDataDeliveryEnabled": False,
}
INVOKE_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["bedrock:InvokeModel"],
            "Resource": "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
        }
    ],
}


@pytest.mark.parametrize(
    ("resource_type", "clean", "violating", "message"),
    [
        (
            rules.LOGGING_CONFIGURATION,
            {"loggingConfig": METADATA_ONLY},
            {"loggingConfig": {**METADATA_ONLY, "textDataDeliveryEnabled": True}},
            "bedrock-logging-metadata-only: textDataDeliveryEnabled is true",
        ),
        (
            rules.LOGGING_CONFIGURATION,
            {"loggingConfig": METADATA_ONLY},
            {"loggingConfig": {k: v for k, v in METADATA_ONLY.items() if k != "videoDataDeliveryEnabled"}},
            "bedrock-logging-metadata-only: videoDataDeliveryEnabled is unset (the provider defaults it to true)",
        ),
        (
            rules.LOGGING_CONFIGURATION,
            {"loggingConfig": {**METADATA_ONLY, "audioDataDeliveryEnabled": False}},
            {"loggingConfig": {**METADATA_ONLY, "audioDataDeliveryEnabled": True}},
            "bedrock-logging-metadata-only: audioDataDeliveryEnabled is true",
        ),
        (
            rules.LOGGING_CONFIGURATION,
            {"loggingConfig": {**METADATA_ONLY, "fooDataDeliveryEnabled": False}},
            {"loggingConfig": {**METADATA_ONLY, "fooDataDeliveryEnabled": True}},
            "bedrock-logging-metadata-only: fooDataDeliveryEnabled is true (an unknown flag)",
        ),
        (
            rules.LOGGING_CONFIGURATION,
            {"loggingConfig": {**METADATA_ONLY, "audio_data_delivery_enabled": False}},
            {"loggingConfig": {**METADATA_ONLY, "audio_data_delivery_enabled": True}},
            "bedrock-logging-metadata-only: audio_data_delivery_enabled is true",
        ),
        (
            rules.LOGGING_CONFIGURATION,
            {"loggingConfig": METADATA_ONLY},
            {"loggingConfig": {**METADATA_ONLY, "s3Config": {"bucketName": "prompts"}}},
            "bedrock-logging-metadata-only: s3Config delivers invocation logs to S3",
        ),
        (
            rules.AWS_PROVIDER,
            {"region": "us-east-2"},
            {"region": "eu-west-1"},
            "us-regions-only: the AWS provider uses region eu-west-1",
        ),
        (
            "aws:cloudwatch/logGroup:LogGroup",
            {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/k", "retentionInDays": 365, "region": "us-west-2"},
            {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/k", "retentionInDays": 365, "region": "ap-south-1"},
            "us-regions-only: aws:cloudwatch/logGroup:LogGroup uses region ap-south-1",
        ),
        (
            "aws:iam/userPolicy:UserPolicy",
            {"policy": json.dumps(INVOKE_ONLY)},
            {
                "policy": json.dumps(
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "bedrock:*",
                                "Resource": "arn:aws:bedrock:us-east-1::foundation-model/x",
                            }
                        ]
                    }
                )
            },
            "no-broad-bedrock-iam: statement 0 allows bedrock:*",
        ),
        (
            "aws:iam/rolePolicy:RolePolicy",
            {"policy": json.dumps(INVOKE_ONLY)},
            {
                "policy": json.dumps(
                    {
                        "Statement": [
                            {"Sid": "Wide", "Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"}
                        ]
                    }
                )
            },
            "no-broad-bedrock-iam: statement Wide allows resource *",
        ),
        (
            "aws:iam/policy:Policy",
            {"policy": json.dumps(INVOKE_ONLY)},
            {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"}]})},
            "no-broad-bedrock-iam: statement 0 allows *",
        ),
        (
            rules.LOG_GROUP,
            {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/k", "retentionInDays": 365},
            {"retentionInDays": 365},
            "log-group-kms-and-retention: the log group has no KMS key (kmsKeyId)",
        ),
        (
            rules.LOG_GROUP,
            {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/k", "retentionInDays": 365},
            {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/k"},
            "log-group-kms-and-retention: the log group never expires its events (retentionInDays)",
        ),
    ],
)
def test_each_rule_fails_a_violating_resource_and_passes_a_clean_one(
    resource_type: str, clean: dict[str, Any], violating: dict[str, Any], message: str
) -> None:
    assert violations(resource_type, clean) == []
    found = violations(resource_type, violating)
    assert any(v.startswith(message) for v in found), found


@pytest.mark.parametrize(
    ("resource_type", "props", "message"),
    [
        (
            "aws:iam/userPolicy:UserPolicy",
            {
                "policy": json.dumps(
                    {"Statement": [{"Effect": "Allow", "Action": "Bedrock:*", "Resource": "arn:aws:s3:::b"}]}
                )
            },
            "allows Bedrock:*",
        ),
        (
            "aws:iam/role:Role",
            {
                "inlinePolicies": [
                    {
                        "name": "x",
                        "policy": json.dumps(
                            {"Statement": [{"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"}]}
                        ),
                    }
                ]
            },
            "inline policy x: statement 0 allows bedrock:*",
        ),
        (
            "aws:iam/userPolicyAttachment:UserPolicyAttachment",
            {"policyArn": "arn:aws:iam::aws:policy/AmazonBedrockFullAccess"},
            "attaches the AWS-managed policy arn:aws:iam::aws:policy/AmazonBedrockFullAccess",
        ),
        (
            "aws:iam/role:Role",
            {"managedPolicyArns": ["arn:aws:iam::aws:policy/AmazonBedrockFullAccess"]},
            "attaches the AWS-managed policy",
        ),
        (
            "aws:iam/policy:Policy",
            {
                "policy": json.dumps(
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "bedrock:InvokeModel",
                                "Resource": "arn:aws:bedrock:*::foundation-model/*",
                            }
                        ]
                    }
                )
            },
            "allows the wildcard Bedrock resource arn:aws:bedrock:*::foundation-model/*",
        ),
        (rules.AWS_PROVIDER, {}, "the AWS provider sets no region"),
    ],
)
def test_broad_grants_are_caught_however_they_are_written(
    resource_type: str, props: dict[str, Any], message: str
) -> None:
    found = violations(resource_type, props)
    assert any(message in v for v in found), found


def test_kms_key_policies_are_not_identity_policies() -> None:
    key_policy = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "kms:*", "Resource": "*"}
        ]
    }
    assert violations("aws:kms/key:Key", {"policy": json.dumps(key_policy)}) == []


def test_unknown_documents_during_preview_are_not_judged() -> None:
    assert violations("aws:iam/userPolicy:UserPolicy", {"policy": None}) == []


def test_the_pack_reports_the_delivery_flags_it_cannot_see() -> None:
    """pulumi-aws does not model audioDataDeliveryEnabled, so the inputs never carry it: say so, don't block."""
    advisories = violations(rules.LOGGING_CONFIGURATION, {"loggingConfig": METADATA_ONLY}, level="advisory")
    assert advisories == [
        "bedrock-logging-unseen-flags: audioDataDeliveryEnabled is not in the inputs (the provider does not model "
        "it), so this pack cannot see it: make sure it is off with `aws bedrock "
        "put-model-invocation-logging-configuration` and `managed-llm verify`"
    ]
    carried = {"loggingConfig": {**METADATA_ONLY, "audioDataDeliveryEnabled": False}}
    assert violations(rules.LOGGING_CONFIGURATION, carried, level="advisory") == []


def test_the_pack_and_the_project_agree_on_delivery_flags() -> None:
    """The pack's copies: every flag Bedrock has, and the ones the installed provider can set."""
    from catalog.data_delivery import DELIVERY_FLAGS
    from infra.components.invocation_logging import SETTABLE_FLAGS

    assert rules.DELIVERY_FLAGS == DELIVERY_FLAGS
    assert rules.PROVIDER_FLAGS == SETTABLE_FLAGS


def test_the_pack_enforces_its_rules_at_their_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi_policy

    made: list[dict[str, Any]] = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: made.append(kwargs))
    monkeypatch.syspath_prepend(str(POLICY))
    sys.modules.pop("rules", None)
    runpy.run_path(str(POLICY / "__main__.py"), run_name="__main__")
    (pack,) = made
    assert pack["enforcement_level"] == pulumi_policy.EnforcementLevel.MANDATORY
    assert [(p.name, p.enforcement_level.value) for p in pack["policies"]] == [
        ("bedrock-logging-metadata-only", "mandatory"),
        ("bedrock-logging-unseen-flags", "advisory"),
        ("us-regions-only", "mandatory"),
        ("no-broad-bedrock-iam", "mandatory"),
        ("log-group-kms-and-retention", "mandatory"),
    ]


def test_the_pack_and_the_catalog_agree_on_us_regions() -> None:
    assert set(load_catalog().regions.allowed) == rules.US_REGIONS


def test_the_shipped_stack_passes_its_own_guard_rails(engine: Any) -> None:
    from tests.infra.test_program import run_stack

    run_stack(engine)
    checked = 0
    for resource in engine.mocks.resources:
        if resource.type.startswith(("aws:", "pulumi:providers:")):
            assert violations(resource.type, resource.inputs) == [], resource.urn
            checked += 1
    assert checked > 15  # the default stack (one allowed model) declares 19
    (logging,) = [r for r in engine.mocks.resources if r.type == rules.LOGGING_CONFIGURATION]
    advisories = violations(logging.type, logging.inputs, level="advisory")
    assert [a.split(" is not in the inputs")[0] for a in advisories] == [
        "bedrock-logging-unseen-flags: audioDataDeliveryEnabled"
    ], logging.urn
