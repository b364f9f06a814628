"""The Elasticsearch principal: invoke-only IAM, the key in a KMS-encrypted secret, overlapping rotation."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.components.bedrock_access import BedrockAccess, BedrockAccessArgs, key_slots, model_slug, profile_name
from infra.policies import foundation_model_arn
from tests.infra.conftest import ACCOUNT, FAKE_SECRET_PREFIX, Engine, policy_of, scoped_to, secret_wrapped
from tests.infra.iam_lint import lint

V1 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
V2 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/abc"
PROFILE_TYPE = "aws:bedrock/inferenceProfile:InferenceProfile"
# CreateInferenceProfile's name pattern (botocore bedrock service-2.json, InferenceProfileName).
PROFILE_NAME = re.compile(r"(?:[0-9a-zA-Z][ _-]?)+")


def build(
    engine: Engine,
    models: tuple[str, ...] = (V1, V2),
    generation: int = 1,
    region: str = "us-east-1",
    deployment: str = "default",
    tags: dict[str, str] | None = None,
) -> None:
    args = BedrockAccessArgs(region, models, KEY_ARN, generation, deployment, tags or {}, "managed-llm-test")
    engine.run(lambda: BedrockAccess("access", args, scoped_to(region)))


def test_principal_policy_is_invoke_only_on_its_own_profiles(engine: Engine) -> None:
    build(engine, models=(V1, V2, TITAN), region="us-east-2")
    user_policy = engine.mocks.one("aws:iam/policy:Policy")
    policy = policy_of(user_policy)
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    resources = [r for s in policy["Statement"] for r in s["Resource"]]
    assert actions == {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}, user_policy.urn
    assert not any("*" in r for r in resources), user_policy.urn
    own = {r.outputs["arn"] for r in engine.mocks.of_type(PROFILE_TYPE)}
    assert len(own) == 3
    assert {r for r in resources if ":application-inference-profile/" in r} == own, user_policy.urn
    # Never the `us.` system profiles themselves: only the deployment's copies.
    assert [r for r in resources if ":inference-profile/" in r] == [], user_policy.urn
    models = {r.split("foundation-model/")[1] for r in resources if ":foundation-model/" in r}
    assert models == {V1.removeprefix("us."), V2.removeprefix("us."), TITAN}
    regions = {r.split(":")[3] for r in resources}
    assert regions <= {"us-east-1", "us-east-2", "us-west-2"}
    assert lint(policy) == []


def test_foundation_models_are_granted_only_through_the_deployments_own_profiles(engine: Engine) -> None:
    build(engine, models=(V1, TITAN))
    policy = policy_of(engine.mocks.one("aws:iam/policy:Policy"))
    own = sorted(r.outputs["arn"] for r in engine.mocks.of_type(PROFILE_TYPE))
    for statement in policy["Statement"]:
        if any(":foundation-model/" in r for r in statement["Resource"]):
            assert statement["Condition"] == {"ArnEquals": {"bedrock:InferenceProfileArn": own}}, statement["Sid"]
        else:
            assert "Condition" not in statement
    titan = foundation_model_arn("us-east-1", TITAN)
    assert titan in {r for s in policy["Statement"] if "Condition" in s for r in s["Resource"]}


def test_each_model_gets_an_application_profile_copied_from_its_source(engine: Engine) -> None:
    build(engine, models=(V1, V2, TITAN), region="us-west-2", deployment="team-a", tags={"team": "search"})
    profiles = engine.mocks.of_type(PROFILE_TYPE)
    copied = sorted(p.inputs["modelSource"]["copyFrom"] for p in profiles)
    assert copied == sorted(
        [
            f"arn:aws:bedrock:us-west-2:{ACCOUNT}:inference-profile/{V1}",
            f"arn:aws:bedrock:us-west-2:{ACCOUNT}:inference-profile/{V2}",
            "arn:aws:bedrock:us-west-2::foundation-model/amazon.titan-embed-text-v2:0",
        ]
    )
    for profile in profiles:
        assert profile.inputs["tags"] == {"managed-llm:deployment": "team-a", "team": "search"}, profile.urn
        assert PROFILE_NAME.fullmatch(profile.inputs["name"]), profile.urn
        assert len(profile.inputs["name"]) <= 64, profile.urn
        assert profile.inputs["name"].startswith("managed-llm-test-team-a-"), profile.urn
        assert engine.request(profile.name).deleteBeforeReplace is True, profile.urn
    assert len({p.inputs["name"] for p in profiles}) == 3
    assert sorted(p.name for p in profiles) == sorted(f"access-profile-{model_slug(m)}" for m in (V1, V2, TITAN))


def test_every_taggable_resource_carries_the_deployment_tag(engine: Engine) -> None:
    build(engine, deployment="team-b", tags={"cost-center": "42"})
    expected = {"managed-llm:deployment": "team-b", "cost-center": "42"}
    taggable = ("aws:iam/user:User", "aws:iam/policy:Policy", "aws:secretsmanager/secret:Secret", PROFILE_TYPE)
    for typ in taggable:
        for resource in engine.mocks.of_type(typ):
            assert resource.inputs["tags"] == expected, resource.urn


@given(
    prefix=st.from_regex(r"managed-llm-[A-Za-z0-9_-]{1,60}", fullmatch=True),
    deployment=st.from_regex(r"[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?", fullmatch=True),
    model=st.sampled_from([V1, V2, TITAN, "us.anthropic.claude-sonnet-4-6"]),
)
def test_profile_name_property_within_bedrocks_pattern_and_length(prefix: str, deployment: str, model: str) -> None:
    name = profile_name(prefix, deployment, model)
    assert PROFILE_NAME.fullmatch(name), name
    assert 1 <= len(name) <= 64
    assert name == profile_name(prefix, deployment, model), "the name must not change between runs"
    assert name != profile_name(prefix, deployment + "x", model)
    assert name != profile_name(prefix + "x", deployment, model)


def test_profile_names_differ_even_when_truncated_alike() -> None:
    long_prefix = "managed-llm-" + "s" * 60
    names = {profile_name(long_prefix, d, m) for d in ("team-a", "team-b") for m in (V1, V2)}
    assert len(names) == 4


def test_model_ids_differing_only_in_punctuation_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="differ only in punctuation"):
        build(engine, models=("us.anthropic.claude-x-v1:0", "us.anthropic.claude.x-v1:0"))
    assert engine.mocks.of_type("aws:iam/user:User") == []


def test_the_policy_is_managed_and_attached_not_inline(engine: Engine) -> None:
    build(engine)
    policy = engine.mocks.one("aws:iam/policy:Policy")
    attachment = engine.mocks.one("aws:iam/userPolicyAttachment:UserPolicyAttachment")
    assert attachment.inputs["policyArn"] == policy.outputs["arn"]
    assert attachment.inputs["user"] == engine.mocks.one("aws:iam/user:User").outputs["name"]
    assert engine.mocks.of_type("aws:iam/userPolicy:UserPolicy") == [], "inline policies share 2,048 characters"


def test_an_engine_without_replacement_triggers_is_refused(engine: Engine) -> None:
    from pulumi.runtime.proto import resource_pb2
    from pulumi.runtime.settings import SETTINGS

    SETTINGS.monitor_features.discard(resource_pb2.RESOURCE_MONITOR_FEATURE_REPLACEMENT_TRIGGER)
    with pytest.raises(Exception, match="key rotation needs a Pulumi CLI that supports replacement triggers"):
        build(engine)
    assert engine.mocks.of_type("aws:iam/accessKey:AccessKey") == []
    assert engine.mocks.of_type("aws:iam/user:User") == []


def test_profiles_are_read_through_the_explicit_provider(engine: Engine) -> None:
    build(engine, region="us-west-2")
    lookup = "aws:bedrock/getInferenceProfile:getInferenceProfile"
    profile_calls = [c for c in engine.mocks.calls if c.token == lookup]
    assert sorted(c.args["inferenceProfileId"] for c in profile_calls) == [V1, V2]
    assert all(c.provider.split("::")[-2] == "aws-us-west-2" for c in profile_calls)


def test_a_profile_routing_outside_the_us_fails_the_deployment(engine: Engine) -> None:
    engine.mocks.profile_routes[V2] = ("us-east-1", "eu-central-1")
    # Pulumi re-raises the PolicyError from inside the apply as a ValueError naming the resource.
    with pytest.raises(ValueError, match="routes to eu-central-1, outside the US"):
        build(engine)
    assert engine.mocks.of_type("aws:iam/policy:Policy") == []
    # The routes are checked before the copy exists: no profile of the EU-routing model is made.
    copied = [p.inputs["modelSource"]["copyFrom"] for p in engine.mocks.of_type(PROFILE_TYPE)]
    assert not any(V2 in c for c in copied)


def test_credentials_secret_is_kms_encrypted_json_marked_secret(engine: Engine) -> None:
    build(engine)
    secret = engine.mocks.one("aws:secretsmanager/secret:Secret")
    assert secret.inputs["kmsKeyId"] == KEY_ARN, secret.urn
    version = engine.mocks.one("aws:secretsmanager/secretVersion:SecretVersion")
    value = version.inputs["secretString"]
    assert secret_wrapped(value), f"{version.urn}: secretString must reach the engine as a secret"
    document = json.loads(value["value"])
    assert set(document) == {"access_key_id", "secret_access_key"}
    assert document["secret_access_key"].startswith(FAKE_SECRET_PREFIX)


def test_generation_one_has_one_key_and_the_secret_holds_it(engine: Engine) -> None:
    build(engine, generation=1)
    keys = engine.mocks.of_type("aws:iam/accessKey:AccessKey")
    assert [k.name for k in keys] == ["access-access-key-1"]
    assert engine.request("access-access-key-1").replacement_trigger.number_value == 1
    version = engine.mocks.one("aws:secretsmanager/secretVersion:SecretVersion")
    assert json.loads(version.inputs["secretString"]["value"])["secret_access_key"].endswith("access-key-1")


def test_bumping_the_generation_adds_a_key_and_keeps_the_one_in_use(engine: Engine) -> None:
    build(engine, generation=2)
    keys = sorted(k.name for k in engine.mocks.of_type("aws:iam/accessKey:AccessKey"))
    assert keys == ["access-access-key-0", "access-access-key-1"]
    # The key Elasticsearch uses now (generation 1, slot 1) keeps its trigger: the engine does not replace it.
    assert engine.request("access-access-key-1").replacement_trigger.number_value == 1
    assert engine.request("access-access-key-0").replacement_trigger.number_value == 2
    version = engine.mocks.one("aws:secretsmanager/secretVersion:SecretVersion")
    assert json.loads(version.inputs["secretString"]["value"])["secret_access_key"].endswith("access-key-0")


def test_a_replaced_key_slot_is_deleted_before_it_is_recreated(engine: Engine) -> None:
    build(engine, generation=3)
    for name in ("access-access-key-0", "access-access-key-1"):
        request = engine.request(name)
        assert request.deleteBeforeReplace is True, f"{name}: IAM allows two keys per user"


@given(st.integers(min_value=1, max_value=10_000))
def test_key_slots_property_overlap_and_limit(generation: int) -> None:
    now, then = key_slots(generation), key_slots(generation + 1)
    assert len(now) <= 2
    assert len(then) <= 2
    assert generation in now.values()
    # After a bump the previous current key is still there, in the same slot: created before deleted.
    assert then[generation % 2] == generation
    assert then[(generation + 1) % 2] == generation + 1


def test_key_slots_refuse_generation_zero() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        key_slots(0)
