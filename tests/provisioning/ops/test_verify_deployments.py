"""verify's per-deployment controls against moto (IAM, Budgets) and the Elasticsearch double: each
control passes on a correct stack and fails on the one defect it exists for."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import V2, endpoint, write_file
from tests.provisioning.ops.test_operations import Deployment, deployed, moto_url  # noqa: F401

pytestmark = pytest.mark.double_only

ACCOUNT = "123456789012"


def arn(profile_id: str) -> str:
    return f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/{profile_id}"


KEYS = json.dumps({"access_key_id": "AKIADEPLOYMENT000001", "secret_access_key": "deployment-secret-value"})
PROFILES = {"team-a": arn("teama0000001"), "team-b": arn("teamb0000001")}


def invoke_policy(profile: str) -> dict[str, Any]:
    """What infra/ grants a deployment: its profile, and the `us.` profile and models only through it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Own", "Effect": "Allow", "Action": ["bedrock:InvokeModel"], "Resource": [profile]},
            {
                "Sid": "Through",
                "Effect": "Allow",
                "Action": ["bedrock:InvokeModel"],
                "Resource": [f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/{V2}"],
                "Condition": {"ArnEquals": {"bedrock:InferenceProfileArn": [profile]}},
            },
        ],
    }


def setup(d: Deployment, tmp_path: Path, policy: Callable[[str, str], dict[str, Any]] = lambda _n, p: invoke_policy(p),
          budget: bool = True) -> tuple[Path, Path]:  # fmt: skip
    iam, secrets = boto3.client("iam"), boto3.client("secretsmanager", region_name="us-east-1")
    deployments = {}
    for name, profile in PROFILES.items():
        user = iam.create_user(UserName=f"managed-llm-{name}")["User"]["Arn"]
        iam.put_user_policy(
            UserName=f"managed-llm-{name}", PolicyName="invoke", PolicyDocument=json.dumps(policy(name, profile))
        )
        secret = secrets.create_secret(Name=f"managed-llm-{name}", SecretString=KEYS)["ARN"]
        deployments[name] = {
            "elasticsearchPrincipalArn": user,
            "credentialsSecretArn": secret,
            "inferenceProfiles": {V2: profile},
            "monthlyBudgetUsd": 100.0,
            "budgetName": f"managed-llm-dev-{name}",
        }
    if budget:
        boto3.client("budgets", region_name="us-east-1").create_budget(
            AccountId=ACCOUNT,
            Budget={"BudgetName": "managed-llm-dev-team-a", "BudgetLimit": {"Amount": "100", "Unit": "USD"},
                    "TimeUnit": "MONTHLY", "BudgetType": "COST"},
        )  # fmt: skip
        boto3.client("budgets", region_name="us-east-1").create_budget(
            AccountId=ACCOUNT,
            Budget={"BudgetName": "managed-llm-dev-team-b", "BudgetLimit": {"Amount": "100", "Unit": "USD"},
                    "TimeUnit": "MONTHLY", "BudgetType": "COST"},
        )  # fmt: skip
    outputs = json.loads(d.outputs.read_text()) | {"deployments": deployments}
    path = tmp_path / "outputs-deployments.json"
    path.write_text(json.dumps(outputs))
    file = write_file(
        tmp_path,
        [endpoint("llm")],
        [],
        deployment="team-a",
        bedrock={"region": "us-east-1", "credentials": {"secret_arn": d.stack.secret_arn}},
    )
    return file, path


OWN, ENDPOINTS, BUDGETS = "aws.deployments.own_profiles", "es.endpoints.deployment", "aws.deployments.budgets"


def verify(d: Deployment, file: Path, outputs: Path) -> dict[str, str]:
    applied = d.run("apply", "-f", str(file), "--stack-outputs", str(outputs))
    assert applied.exit_code == 0, applied.output
    return controls(d, file, outputs)


def controls(d: Deployment, file: Path, outputs: Path) -> dict[str, str]:
    result = d.run("verify", "-f", str(file), "--stack-outputs", str(outputs), "-o", "json")
    return {c["id"]: c["status"] for c in json.loads(result.stdout)["controls"]}


def test_deployment_controls_pass_on_a_correct_stack(deployed: Deployment, tmp_path: Path) -> None:  # noqa: F811
    found = verify(deployed, *setup(deployed, tmp_path))
    assert (found[OWN], found[ENDPOINTS], found[BUDGETS]) == ("PASS", "PASS", "PASS")


def test_a_principal_allowed_another_deployments_profile_fails(deployed: Deployment, tmp_path: Path) -> None:  # noqa: F811
    def leaky(name: str, profile: str) -> dict[str, Any]:
        policy = invoke_policy(profile)
        if name == "team-a":
            policy["Statement"][0]["Resource"].append(PROFILES["team-b"])
        return policy

    assert verify(deployed, *setup(deployed, tmp_path, leaky))[OWN] == "FAIL"


def test_a_system_profile_without_the_condition_fails(deployed: Deployment, tmp_path: Path) -> None:  # noqa: F811
    def open_profile(_name: str, profile: str) -> dict[str, Any]:
        policy = invoke_policy(profile)
        del policy["Statement"][1]["Condition"]
        return policy

    assert verify(deployed, *setup(deployed, tmp_path, open_profile))[OWN] == "FAIL"


def test_an_endpoint_on_another_deployments_profile_fails(deployed: Deployment, tmp_path: Path) -> None:  # noqa: F811
    file, outputs = setup(deployed, tmp_path)
    assert deployed.run("apply", "-f", str(file), "--stack-outputs", str(outputs)).exit_code == 0
    deployed.double.cluster.endpoints["llm"].service_settings["model"] = PROFILES["team-b"]
    assert controls(deployed, file, outputs)[ENDPOINTS] == "FAIL"


def test_a_missing_budget_fails(deployed: Deployment, tmp_path: Path) -> None:  # noqa: F811
    assert verify(deployed, *setup(deployed, tmp_path, budget=False))[BUDGETS] == "FAIL"
