"""The whole program as `pulumi up` runs it (runpy on `infra/`), against the recording mock engine."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from provisioning.core.stack_outputs import STACK_OUTPUT_NAMES, StackOutputs
from tests.infra.conftest import ACCOUNT, FAKE_SECRET_PREFIX, Engine, set_config

ROOT = Path(__file__).resolve().parents[2]
# The CLI reads these names (provisioning/core/stack_outputs.py): both sides change together or not at all.
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
