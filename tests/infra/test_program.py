"""The whole program as `pulumi up` runs it (runpy on `infra/`), against the recording mock engine."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from infra.policies import MAX_MANAGED_POLICY_SIZE, foundation_model_arn
from provisioning.core.stack_outputs import STACK_OUTPUT_NAMES, StackOutputs
from tests.infra.conftest import ACCOUNT, FAKE_SECRET_PREFIX, Engine, policy_of, set_config
from tests.infra.iam_lint import lint

UserPolicyAttachment = "aws:iam/userPolicyAttachment:UserPolicyAttachment"

ROOT = Path(__file__).resolve().parents[2]
# The CLI reads these names (provisioning/core/stack_outputs.py): both sides change together or not at all.
# `deployments` (issue 13) is added here until the CLI's list names it too; the union is then a no-op.
CONTRACT = set(STACK_OUTPUT_NAMES)


def run_stack(engine: Engine, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run infra/ like the Pulumi language host does and return the resolved stack outputs."""
    set_config(config or {})
    resolved: dict[str, Any] = {}

    def program() -> pulumi.Output[None]:
        runpy.run_path(str(ROOT / "infra"), run_name="__main__")
        stack = pulumi.runtime.get_root_resource()
        assert stack is not None
        exported = {k: pulumi.Output.from_input(v) for k, v in stack.outputs.items()}  # type: ignore[attr-defined]
        return pulumi.Output.all(**exported).apply(resolved.update)

    engine.run(program)
    return resolved


def test_program_runs_with_no_configuration(engine: Engine) -> None:
    outputs = run_stack(engine)
    assert set(outputs) == CONTRACT
    assert outputs["region"] == "us-east-1"
    assert outputs["models"] == ["us.anthropic.claude-sonnet-4-6"]


def test_the_cli_reads_every_output_the_program_exports(engine: Engine) -> None:
    outputs = run_stack(engine)
    parsed = StackOutputs.model_validate(outputs)
    assert parsed.region == outputs["region"]
    assert parsed.models == tuple(outputs["models"])
    assert parsed.credentials_secret_arn == outputs["credentialsSecretArn"]
    assert parsed.elasticsearch_principal_arn == outputs["elasticsearchPrincipalArn"]
    assert parsed.log_group_name == outputs["logGroupName"]
    assert parsed.kms_key_arn == outputs["kmsKeyArn"]


def test_outputs_point_at_the_declared_resources(engine: Engine) -> None:
    outputs = run_stack(engine)
    mocks = engine.mocks
    assert outputs["credentialsSecretArn"] == mocks.one("aws:secretsmanager/secret:Secret").outputs["arn"]
    assert outputs["elasticsearchPrincipalArn"] == mocks.one("aws:iam/user:User").outputs["arn"]
    group = mocks.one("aws:cloudwatch/logGroup:LogGroup")
    assert (outputs["logGroupName"], outputs["logGroupArn"]) == (group.outputs["name"], group.outputs["arn"])
    assert outputs["logGroupName"] == "/managed-llm/test/bedrock-invocations"
    assert outputs["kmsKeyArn"] == mocks.one("aws:kms/key:Key").outputs["arn"]
    assert outputs["alarmTopicArn"] == mocks.one("aws:sns/topic:Topic").outputs["arn"]
    assert outputs["dashboardName"] == "managed-llm-test"


def test_no_output_and_no_other_resource_carries_the_access_key_secret(engine: Engine) -> None:
    outputs = run_stack(engine)
    assert FAKE_SECRET_PREFIX not in json.dumps(outputs)
    holders = [r.urn for r in engine.mocks.resources if FAKE_SECRET_PREFIX in json.dumps(r.inputs, default=str)]
    assert holders == [engine.mocks.one("aws:secretsmanager/secretVersion:SecretVersion").urn]


@pytest.mark.parametrize("region", ["us-east-1", "us-east-2", "us-west-2"])
def test_every_resource_and_lookup_goes_through_one_provider_in_the_region(engine: Engine, region: str) -> None:
    run_stack(engine, {"region": region})
    providers = engine.mocks.of_type("pulumi:providers:aws")
    assert [(p.name, p.inputs["region"]) for p in providers] == [(f"aws-{region}", region)]
    for resource in engine.mocks.resources:
        if resource.type.startswith("aws:"):
            assert resource.provider is not None, f"{resource.urn} uses the default provider"
            assert resource.provider.split("::")[-2] == f"aws-{region}", resource.urn
    for call in engine.mocks.calls:
        assert call.provider.split("::")[-2] == f"aws-{region}", call.token
    profile_arns = {
        r
        for s in json.loads(engine.mocks.one("aws:iam/policy:Policy").inputs["policy"])["Statement"]
        for r in s["Resource"]
        if ":inference-profile/" in r
    }
    assert all(arn.startswith(f"arn:aws:bedrock:{region}:{ACCOUNT}:") for arn in profile_arns)


def test_program_wires_the_project_key_everywhere_it_encrypts(engine: Engine) -> None:
    run_stack(engine)
    key_arn = engine.mocks.one("aws:kms/key:Key").outputs["arn"]
    assert engine.mocks.one("aws:cloudwatch/logGroup:LogGroup").inputs["kmsKeyId"] == key_arn
    assert engine.mocks.one("aws:secretsmanager/secret:Secret").inputs["kmsKeyId"] == key_arn
    assert engine.mocks.one("aws:sns/topic:Topic").inputs["kmsMasterKeyId"] == key_arn


def test_program_applies_configuration(engine: Engine) -> None:
    outputs = run_stack(
        engine,
        {
            "models": ["us.anthropic.claude-haiku-4-5-20251001-v1:0"],
            "logRetentionDays": "30",
            "alarmEmail": "oncall@example.com",
            "credentialsGeneration": "2",
        },
    )
    assert outputs["models"] == ["us.anthropic.claude-haiku-4-5-20251001-v1:0"]
    assert engine.mocks.one("aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == 30
    assert engine.mocks.one("aws:sns/topicSubscription:TopicSubscription").inputs["endpoint"] == "oncall@example.com"
    assert len(engine.mocks.of_type("aws:iam/accessKey:AccessKey")) == 2
    alarmed = {
        a.inputs.get("dimensions", {}).get("ModelId")
        for a in engine.mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert alarmed == {"us.anthropic.claude-haiku-4-5-20251001-v1:0", None}


def test_pulumi_project_file_is_the_documented_contract() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "managed-llm"
    assert project["runtime"]["name"] == "python"
    assert project["main"] == "infra/"
    assert (ROOT / "infra" / "__main__.py").is_file()


def test_main_module_only_composes_and_exports() -> None:
    lines = (ROOT / "infra" / "__main__.py").read_text().splitlines()
    assert len(lines) <= 40, "resources belong in infra/components/"


HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET = "us.anthropic.claude-sonnet-4-6"
TITAN = "amazon.titan-embed-text-v2:0"
PROFILE_TYPE = "aws:bedrock/inferenceProfile:InferenceProfile"
TWO_TEAMS = {
    "models": [HAIKU, SONNET, TITAN],
    "deployments": [
        {"name": "team-a", "models": [SONNET], "monthlyBudgetUsd": 100.0, "tags": {"team": "search"}},
        {"name": "team-b"},
    ],
}
BEFORE_DEPLOYMENTS = json.loads((ROOT / "tests" / "infra" / "data" / "urns_before_deployments.json").read_text())


def profiles_of(engine: Engine, deployment: str) -> dict[str, str]:
    """Model id -> profile ARN of the recorded application profiles tagged with `deployment`."""
    found = {}
    for profile in engine.mocks.of_type(PROFILE_TYPE):
        if profile.inputs["tags"]["managed-llm:deployment"] == deployment:
            # The copied source's last segment: the `us.` profile id, or the in-region model id.
            found[profile.inputs["modelSource"]["copyFrom"].rsplit("/", 1)[1]] = profile.outputs["arn"]
    return found


def resource_of(engine: Engine, typ: str, deployment: str) -> Any:
    (found,) = [r for r in engine.mocks.of_type(typ) if r.inputs["tags"]["managed-llm:deployment"] == deployment]
    return found


def test_deployments_output_is_the_contract(engine: Engine) -> None:
    outputs = run_stack(engine, TWO_TEAMS)
    user_a = resource_of(engine, "aws:iam/user:User", "team-a")
    secret_b = resource_of(engine, "aws:secretsmanager/secret:Secret", "team-b")
    assert outputs["deployments"] == {
        "team-a": {
            "elasticsearchPrincipalArn": user_a.outputs["arn"],
            "credentialsSecretArn": resource_of(engine, "aws:secretsmanager/secret:Secret", "team-a").outputs["arn"],
            "inferenceProfiles": profiles_of(engine, "team-a"),
            "monthlyBudgetUsd": 100.0,
            "budgetName": "managed-llm-test-team-a",
        },
        "team-b": {
            "elasticsearchPrincipalArn": resource_of(engine, "aws:iam/user:User", "team-b").outputs["arn"],
            "credentialsSecretArn": secret_b.outputs["arn"],
            "inferenceProfiles": profiles_of(engine, "team-b"),
            "monthlyBudgetUsd": None,
            "budgetName": None,
        },
    }
    assert set(outputs["deployments"]["team-a"]["inferenceProfiles"]) == {SONNET}
    assert set(outputs["deployments"]["team-b"]["inferenceProfiles"]) == {HAIKU, SONNET, TITAN}
    for arn in outputs["deployments"]["team-b"]["inferenceProfiles"].values():
        assert arn.startswith(f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/"), arn
    assert "team-a" in user_a.outputs["name"]


def test_without_a_default_deployment_the_old_outputs_describe_the_first(engine: Engine) -> None:
    outputs = run_stack(engine, TWO_TEAMS)
    first = outputs["deployments"]["team-a"]
    assert outputs["elasticsearchPrincipalArn"] == first["elasticsearchPrincipalArn"]
    assert outputs["credentialsSecretArn"] == first["credentialsSecretArn"]
    assert outputs["models"] == [SONNET]


def test_with_no_deployments_the_old_outputs_describe_the_default(engine: Engine) -> None:
    outputs = run_stack(engine, {"models": [HAIKU, TITAN]})
    (default,) = outputs["deployments"].values()
    assert list(outputs["deployments"]) == ["default"]
    assert outputs["elasticsearchPrincipalArn"] == default["elasticsearchPrincipalArn"]
    assert outputs["credentialsSecretArn"] == default["credentialsSecretArn"]
    assert outputs["models"] == [HAIKU, TITAN] == list(default["inferenceProfiles"])
    assert (default["monthlyBudgetUsd"], default["budgetName"]) == (None, None)


def test_each_deployment_has_its_own_principal_key_secret_and_policy(engine: Engine) -> None:
    run_stack(engine, TWO_TEAMS)
    mocks = engine.mocks
    for typ in ("aws:iam/user:User", "aws:iam/policy:Policy", "aws:secretsmanager/secret:Secret"):
        assert len({r.outputs["arn"] for r in mocks.of_type(typ)}) == 2, typ
    assert len(mocks.of_type("aws:iam/accessKey:AccessKey")) == 2
    attachments = {(a.inputs["user"], a.inputs["policyArn"]) for a in mocks.of_type(UserPolicyAttachment)}
    for deployment in ("team-a", "team-b"):
        user = resource_of(engine, "aws:iam/user:User", deployment)
        policy = resource_of(engine, "aws:iam/policy:Policy", deployment)
        assert (user.outputs["name"], policy.outputs["arn"]) in attachments, deployment
    versions = {v.inputs["secretId"] for v in mocks.of_type("aws:secretsmanager/secretVersion:SecretVersion")}
    assert versions == {s.outputs["arn"] for s in mocks.of_type("aws:secretsmanager/secret:Secret")}


def test_a_deployments_policy_names_none_of_another_deployments_profiles(engine: Engine) -> None:
    run_stack(engine, TWO_TEAMS)
    for own, other in (("team-a", "team-b"), ("team-b", "team-a")):
        policy = resource_of(engine, "aws:iam/policy:Policy", own)
        document = policy.inputs["policy"]
        for arn in profiles_of(engine, other).values():
            assert arn not in document, f"{policy.urn} names {other}'s profile {arn}"
        for arn in profiles_of(engine, own).values():
            assert arn in document, policy.urn
        assert ":inference-profile/" not in document, f"{policy.urn} grants a system profile directly"
        assert lint(json.loads(document)) == []


def test_system_profiles_are_read_once_per_model_whatever_the_number_of_deployments(engine: Engine) -> None:
    run_stack(engine, TWO_TEAMS)
    lookup = "aws:bedrock/getInferenceProfile:getInferenceProfile"
    read = sorted(c.args["inferenceProfileId"] for c in engine.mocks.calls if c.token == lookup)
    assert read == [HAIKU, SONNET]
    assert len(engine.mocks.of_type(PROFILE_TYPE)) == 4


# -- No replacement on upgrade: the default deployment keeps every URN it had before deployments existed.


def default_access_urns(urns: set[str] | list[str]) -> set[str]:
    """The default deployment's BedrockAccess component (named `managed-llm`) and its children."""
    component = "urn:pulumi:test::managed-llm::pulumi:pulumi:Stack$managedllm:infra:BedrockAccess::managed-llm"
    return {u for u in urns if u == component or u.split("::")[2].startswith("managedllm:infra:BedrockAccess$")}


@pytest.mark.parametrize("label", ["no-config", "models-and-rotation"])
@pytest.mark.parametrize(
    "deployments",
    [None, [{"name": "default"}], [{"name": "default"}, {"name": "team-a"}]],
    ids=["no-deployments", "one-named-default", "default-and-another"],
)
def test_upgrading_replaces_none_of_the_default_deployments_resources(
    engine: Engine, label: str, deployments: list[dict[str, str]] | None
) -> None:
    before = BEFORE_DEPLOYMENTS[label]
    config = dict(before["config"]) | ({"deployments": deployments} if deployments else {})
    run_stack(engine, config)
    component = "urn:pulumi:test::managed-llm::pulumi:pulumi:Stack$managedllm:infra:BedrockAccess::managed-llm"
    now = engine.monitor.subtree(component)
    then = default_access_urns(before["urns"])
    assert then <= now, f"gone or renamed (replaced on upgrade): {sorted(then - now)}"
    added = now - then
    assert added, "the default deployment gets its application profiles"
    assert all(f"${PROFILE_TYPE}::" in u for u in added), sorted(added)


@pytest.mark.parametrize("label", ["no-config", "models-and-rotation"])
def test_upgrading_keeps_every_urn_of_the_stack(engine: Engine, label: str) -> None:
    before = BEFORE_DEPLOYMENTS[label]
    run_stack(engine, before["config"])
    missing = set(before["urns"]) - set(engine.monitor.get_registered_resources())
    assert not missing, f"gone or renamed (deleted or replaced on upgrade): {sorted(missing)}"


def test_replace_only_inputs_of_the_default_deployment_are_unchanged(engine: Engine) -> None:
    """An IAM policy's name, path and description and a user's path replace the resource when changed: they
    keep the values the stack had before deployments (only tags and the policy document change, in place)."""
    run_stack(engine)
    policy = engine.mocks.one("aws:iam/policy:Policy")
    assert (policy.inputs["path"], policy.inputs.get("name")) == ("/managed-llm/", None)
    assert policy.inputs["description"] == "managed-llm: invoke the allow-listed Bedrock models only"
    user = engine.mocks.one("aws:iam/user:User")
    assert (user.inputs["path"], user.inputs.get("name")) == ("/managed-llm/", None)
    secret = engine.mocks.one("aws:secretsmanager/secret:Secret")
    assert secret.inputs.get("name") is None
    assert secret.inputs["description"] == "managed-llm: access key Elasticsearch uses for Amazon Bedrock"


def test_fifty_deployments_of_three_models_under_mocks(engine: Engine) -> None:
    deployments = [{"name": f"team-{i:02d}"} for i in range(50)]
    outputs = run_stack(engine, {"models": [HAIKU, SONNET, TITAN], "deployments": deployments})
    assert len(outputs["deployments"]) == 50
    policies = engine.mocks.of_type("aws:iam/policy:Policy")
    assert len(policies) == 50
    assert len(engine.mocks.of_type(PROFILE_TYPE)) == 150
    for policy in policies:
        document = json.loads(policy.inputs["policy"])
        assert len(json.dumps(document, separators=(",", ":"))) <= MAX_MANAGED_POLICY_SIZE, policy.urn
        named = {r for s in document["Statement"] for r in s["Resource"] if ":application-inference-profile/" in r}
        deployment = policy.inputs["tags"]["managed-llm:deployment"]
        assert named == set(outputs["deployments"][deployment]["inferenceProfiles"].values()), policy.urn


ALARM_TYPE = "aws:cloudwatch/metricAlarm:MetricAlarm"


def test_a_stack_without_deployments_keeps_its_system_profile_grants_so_existing_endpoints_keep_working(
    engine: Engine,
) -> None:
    run_stack(engine, {"models": [HAIKU, TITAN]})
    (policy,) = engine.mocks.of_type("aws:iam/policy:Policy")
    resources = {r for s in policy_of(policy)["Statement"] for r in s["Resource"]}
    assert any(":inference-profile/" + HAIKU in r for r in resources), policy.urn  # today's `us.` grant
    assert any(":application-inference-profile/" in r for r in resources), policy.urn  # and the new profile
    assert foundation_model_arn("us-east-1", TITAN) in resources, policy.urn
    # Monitored as before deployments existed: the account-level alarms per model only.
    alarmed = {a.inputs.get("dimensions", {}).get("ModelId") for a in engine.mocks.of_type(ALARM_TYPE)}
    assert alarmed == {HAIKU, TITAN, None}


def test_configuring_deployments_limits_every_key_to_its_own_profiles(engine: Engine) -> None:
    run_stack(engine, TWO_TEAMS)
    for policy in engine.mocks.of_type("aws:iam/policy:Policy"):
        statements = policy_of(policy)["Statement"]
        resources = {r for s in statements for r in s["Resource"]}
        assert not any(":inference-profile/" in r for r in resources), policy.urn
        for statement in statements:
            if any(":foundation-model/" in r for r in statement["Resource"]):
                assert "bedrock:InferenceProfileArn" in statement["Condition"]["ArnEquals"], policy.urn
