"""IAM and KMS documents as plain data: least privilege, US-only routes, confused-deputy conditions, lint."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.constants import BEDROCK_INVOKE_ACTIONS
from infra.policies import (
    ALL_US_REGIONS,
    MAX_MANAGED_POLICY_SIZE,
    MAX_PROFILE_ID_LENGTH,
    ModelGrant,
    PolicyError,
    application_profile_arn,
    application_profile_id,
    bedrock_invoke_policy,
    deployment_invoke_policy,
    foundation_model_arn,
    in_region_grant,
    inference_profile_arn,
    key_policy,
    logging_role_policy,
    logging_trust_policy,
    policy_size,
    profile_grant,
    worst_case_policy_size,
)
from tests.infra.iam_lint import lint

ACCOUNT = "123456789012"
REGION = "us-east-1"
GROUP = "/managed-llm/dev/bedrock-invocations"
FM_SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
PROFILE = f"us.{FM_SONNET}"
PROFILE_ARN = inference_profile_arn(REGION, ACCOUNT, PROFILE)
US = ("us-east-1", "us-east-2", "us-west-2")


def sonnet_grant(regions: tuple[str, ...] = US) -> ModelGrant:
    return profile_grant(PROFILE, FM_SONNET, PROFILE_ARN, [foundation_model_arn(r, FM_SONNET) for r in regions])


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def assert_no_wildcards(policy: dict[str, Any]) -> None:
    for statement in policy["Statement"]:
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{statement['Sid']}: wildcard action {action}"
        for resource in as_list(statement["Resource"]):
            assert "*" not in resource, f"{statement['Sid']}: wildcard resource {resource}"


def test_invoke_policy_allows_only_invoke_actions_on_exact_arns() -> None:
    policy = bedrock_invoke_policy([sonnet_grant()])
    assert_no_wildcards(policy)
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    assert {a for s in policy["Statement"] for a in s["Action"]} == set(BEDROCK_INVOKE_ACTIONS)
    profile_statement, model_statement = policy["Statement"]
    assert profile_statement["Resource"] == [PROFILE_ARN]
    assert model_statement["Resource"] == [foundation_model_arn(r, FM_SONNET) for r in US]


def test_invoke_policy_reaches_foundation_models_only_through_the_profile() -> None:
    _, model_statement = bedrock_invoke_policy([sonnet_grant()])["Statement"]
    assert model_statement["Condition"] == {"ArnEquals": {"bedrock:InferenceProfileArn": PROFILE_ARN}}


def test_invoke_policy_in_region_model_is_one_unconditioned_statement() -> None:
    policy = bedrock_invoke_policy([in_region_grant("amazon.titan-embed-text-v2:0", "us-east-2")])
    (statement,) = policy["Statement"]
    assert statement["Resource"] == ["arn:aws:bedrock:us-east-2::foundation-model/amazon.titan-embed-text-v2:0"]
    assert "Condition" not in statement


def test_invoke_policy_refuses_an_empty_allow_list() -> None:
    with pytest.raises(PolicyError, match="no models"):
        bedrock_invoke_policy([])


@pytest.mark.parametrize(
    ("arns", "reason"),
    [
        ([foundation_model_arn("eu-west-1", FM_SONNET)], "outside the US"),
        ([foundation_model_arn("us-gov-west-1", FM_SONNET)], "outside the US"),
        ([foundation_model_arn("us-east-1", "anthropic.claude-opus-4-1-20250805-v1:0")], "another model"),
        ([f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abc"], "not a foundation-model ARN"),
        ([], "lists no foundation models"),
    ],
)
def test_profile_grant_refuses_routes_that_break_the_allow_list(arns: list[str], reason: str) -> None:
    with pytest.raises(PolicyError, match=reason):
        profile_grant(PROFILE, FM_SONNET, PROFILE_ARN, arns)


@given(
    routes=st.lists(st.sampled_from(US), min_size=1, unique=True).map(tuple),
    region=st.sampled_from(US),
    with_titan=st.booleans(),
)
def test_invoke_policy_property_exactly_the_granted_arns(
    routes: tuple[str, ...], region: str, with_titan: bool
) -> None:
    grants = [
        profile_grant(
            PROFILE,
            FM_SONNET,
            inference_profile_arn(region, ACCOUNT, PROFILE),
            [foundation_model_arn(r, FM_SONNET) for r in routes],
        )
    ]
    expected = {inference_profile_arn(region, ACCOUNT, PROFILE)} | {foundation_model_arn(r, FM_SONNET) for r in routes}
    if with_titan:
        grants.append(in_region_grant("amazon.titan-embed-text-v2:0", region))
        expected.add(foundation_model_arn(region, "amazon.titan-embed-text-v2:0"))
    policy = bedrock_invoke_policy(grants)
    assert_no_wildcards(policy)
    assert {r for s in policy["Statement"] for r in s["Resource"]} == expected
    assert lint(policy) == []


def test_logging_trust_policy_trusts_bedrock_for_this_account_and_region_only() -> None:
    (statement,) = logging_trust_policy(ACCOUNT, REGION)["Statement"]
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:*"},
    }


def test_logging_role_policy_writes_only_the_invocation_stream() -> None:
    policy = logging_role_policy(ACCOUNT, REGION, GROUP)
    (statement,) = policy["Statement"]
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}:log-stream:aws/bedrock/modelinvocations"
    )
    assert_no_wildcards(policy)
    assert lint(policy) == []


def test_key_policy_lets_regional_logs_use_the_key_for_our_group_only() -> None:
    statements = {s["Sid"]: s for s in key_policy(ACCOUNT, "us-west-2", GROUP)["Statement"]}
    admin = statements["AccountAdministersKey"]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    logs = statements["CloudWatchLogsEncryptsInvocationLogGroup"]
    assert logs["Principal"] == {"Service": "logs.us-west-2.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnEquals": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:{GROUP}"}
    }
    assert "kms:*" not in logs["Action"]
    alarms = statements["CloudWatchAlarmsPublishToEncryptedTopic"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_invoke_policy_stays_three_statements_whatever_the_number_of_models() -> None:
    grants = [sonnet_grant(), in_region_grant("amazon.titan-embed-text-v2:0", REGION)]
    haiku = "anthropic.claude-haiku-4-5-20251001-v1:0"
    haiku_profile = inference_profile_arn(REGION, ACCOUNT, f"us.{haiku}")
    grants.append(profile_grant(f"us.{haiku}", haiku, haiku_profile, [foundation_model_arn(r, haiku) for r in US]))
    policy = bedrock_invoke_policy(grants)
    assert [s["Sid"] for s in policy["Statement"]] == [
        "InvokeInferenceProfiles",
        "InvokeModelsThroughProfiles",
        "InvokeModelsInRegion",
    ]
    assert policy["Statement"][1]["Condition"] == {
        "ArnEquals": {"bedrock:InferenceProfileArn": [haiku_profile, PROFILE_ARN]}
    }
    assert lint(policy) == []


def test_invoke_policy_refuses_more_than_a_managed_policy_holds() -> None:
    many = [
        profile_grant(
            f"us.anthropic.model-{i}-v1:0",
            f"anthropic.model-{i}-v1:0",
            inference_profile_arn(REGION, ACCOUNT, f"us.anthropic.model-{i}-v1:0"),
            [foundation_model_arn(r, f"anthropic.model-{i}-v1:0") for r in US],
        )
        for i in range(40)
    ]
    with pytest.raises(PolicyError, match="characters; IAM allows 6144"):
        bedrock_invoke_policy(many)


def test_the_config_time_size_bound_covers_the_real_policy() -> None:
    titan = "amazon.titan-embed-text-v2:0"
    grants = [
        own_grant(PROFILE, "a" * MAX_PROFILE_ID_LENGTH),
        profile_grant(
            titan, titan, application_profile_arn(REGION, ACCOUNT, "b" * 64), [foundation_model_arn(REGION, titan)]
        ),
    ]
    assert policy_size(deployment_invoke_policy(grants)) <= worst_case_policy_size([PROFILE, titan])


# -- A deployment's policy: its own application profiles only (issue 13).


def own_grant(model: str, profile_id: str, regions: tuple[str, ...] = US) -> ModelGrant:
    foundation = model.removeprefix("us.")
    arn = application_profile_arn(REGION, ACCOUNT, profile_id)
    return profile_grant(model, foundation, arn, [foundation_model_arn(r, foundation) for r in regions])


def test_deployment_policy_grants_its_own_profiles_and_models_only_through_them() -> None:
    mine = [own_grant(PROFILE, "mine00000001"), own_grant("us.anthropic.claude-sonnet-4-6", "mine00000002")]
    theirs = own_grant(PROFILE, "theirs000001")
    policy = deployment_invoke_policy(mine)
    profiles, models = policy["Statement"]
    own = [g.profile_arn for g in sorted(mine, key=lambda g: g.model_id)]
    assert profiles["Resource"] == own
    assert "Condition" not in profiles
    assert all(":foundation-model/" in r for r in models["Resource"])
    assert models["Condition"] == {"ArnEquals": {"bedrock:InferenceProfileArn": own}}
    text = str(policy)
    assert theirs.profile_arn is not None
    assert theirs.profile_arn not in text
    assert ":inference-profile/" not in text
    assert_no_wildcards(policy)
    assert lint(policy) == []


@pytest.mark.parametrize(
    "grant",
    [
        sonnet_grant(),  # the `us.` system profile itself
        in_region_grant("amazon.titan-embed-text-v2:0", REGION),  # the model directly
        ModelGrant(PROFILE, (foundation_model_arn(REGION, FM_SONNET),), f"{PROFILE_ARN}/../x"),
    ],
    ids=["system-profile", "no-profile", "not-an-arn"],
)
def test_deployment_policy_refuses_anything_but_an_application_profile(grant: ModelGrant) -> None:
    with pytest.raises(PolicyError, match="only through its own application inference profile"):
        deployment_invoke_policy([grant])


def test_application_profile_id_is_the_arns_last_segment() -> None:
    assert application_profile_id(application_profile_arn(REGION, ACCOUNT, "abc123xyz0")) == "abc123xyz0"
    with pytest.raises(PolicyError, match="not an application inference profile ARN"):
        application_profile_id(PROFILE_ARN)


# The longest `us.` ids of the shipped catalog, each application profile id as long as Bedrock allows, and
# every US region a route: the largest policy 50 deployments x 3 models can produce.
LONGEST_MODELS = (
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
)
# IAM quotas for one account (docs/research/many-deployments-2026-12.md §6): users 5,000; customer managed
# policies 1,500 (default); managed policies attached per user 10 (default); application inference
# profiles per account and region: 1,000 is the lower of the two reported defaults.
IAM_USERS_PER_ACCOUNT = 5000
MANAGED_POLICIES_PER_ACCOUNT = 1500
MANAGED_POLICIES_PER_USER = 10
PROFILES_PER_ACCOUNT = 1000


def test_fifty_deployments_of_three_models_stay_within_iam_limits() -> None:
    policies = [
        deployment_invoke_policy(
            [
                own_grant(model, f"{d:02d}{m}".ljust(MAX_PROFILE_ID_LENGTH, "x"), ALL_US_REGIONS)
                for m, model in enumerate(LONGEST_MODELS)
            ]
        )
        for d in range(50)
    ]
    sizes = [policy_size(p) for p in policies]
    assert max(sizes) <= MAX_MANAGED_POLICY_SIZE, max(sizes)
    assert max(sizes) <= worst_case_policy_size(LONGEST_MODELS)
    assert worst_case_policy_size(LONGEST_MODELS) <= MAX_MANAGED_POLICY_SIZE
    assert lint(policies[0]) == []
    # One user and one managed policy per deployment, one attachment each, one profile per model.
    assert IAM_USERS_PER_ACCOUNT >= 50
    assert MANAGED_POLICIES_PER_ACCOUNT >= 50
    assert MANAGED_POLICIES_PER_USER >= 1
    assert 50 * len(LONGEST_MODELS) <= PROFILES_PER_ACCOUNT
    # No deployment's document names another's profile.
    for index, policy in enumerate(policies):
        named = {r.rsplit("/", 1)[1][:2] for s in policy["Statement"] for r in s["Resource"] if "application" in r}
        assert named == {f"{index:02d}"}


def test_lint_still_fails_a_broad_bedrock_policy() -> None:
    broad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"}]}
    assert [issue for issue, _ in lint(broad)] == ["RESOURCE_STAR"]


def test_lint_still_fails_a_bedrock_action_on_a_foreign_resource() -> None:
    wrong = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["bedrock:InvokeModel"], "Resource": ["arn:aws:s3:::bucket/key"]}],
    }
    assert [issue for issue, _ in lint(wrong)] == ["RESOURCE_MISMATCH"]
