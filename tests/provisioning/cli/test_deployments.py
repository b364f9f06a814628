"""Per-deployment access on the Elasticsearch side: `deployment:` in the file, the stack outputs'
`deployments` map, models written as the deployment's application-profile ARNs, credentials from the
deployment's secret, the refusals, and many clusters planned with one GET per kind each.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import BEDROCK_ENV, V1, V2, Cli, endpoint, write_file
from tests.doubles.aws import moto_server, point_boto3_at, reset
from tests.doubles.es_double import EsDouble, encoded_api_key

pytestmark = pytest.mark.double_only

ACCOUNT = "123456789012"
REGION = "us-east-1"


def profile_arn(profile_id: str, region: str = REGION) -> str:
    return f"arn:aws:bedrock:{region}:{ACCOUNT}:application-inference-profile/{profile_id}"


def secret_arn(name: str) -> str:
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:managed-llm-{name}-AbCdEf"


def deployment_outputs(name: str, profiles: dict[str, str], secret: str | None = None) -> dict[str, Any]:
    return {
        "elasticsearchPrincipalArn": f"arn:aws:iam::{ACCOUNT}:user/managed-llm-{name}",
        "credentialsSecretArn": secret or secret_arn(name),
        "inferenceProfiles": profiles,
        "monthlyBudgetUsd": None,
        "budgetName": None,
    }


TEAM_A = profile_arn("teamav2abc123")
TEAM_A_V1 = profile_arn("teamav1abc123")
TEAM_B = profile_arn("teambv2abc123")


def write_outputs(directory: Path, deployments: dict[str, Any] | None = None) -> Path:
    document = {
        "region": REGION,
        "deployments": deployments
        if deployments is not None
        else {
            "team-a": deployment_outputs("team-a", {V2: TEAM_A, V1: TEAM_A_V1}),
            "team-b": deployment_outputs("team-b", {V2: TEAM_B}),
        },
    }
    path = directory / "stack-outputs.json"
    path.write_text(json.dumps(document))
    return path


def cluster_one(double: EsDouble, deployment: str | None = None) -> tuple[list[dict[str, str]], dict[str, str]]:
    """A `clusters:` entry named `one` (with its own deployment, if given) and the environment that serves it."""
    entry = {
        "name": "one",
        "url_env": "MANAGED_LLM_ONE_URL",
        "api_key_env": "MANAGED_LLM_ONE_API_KEY",
        "ca_certs_env": "MANAGED_LLM_ONE_CA_CERTS",
    }
    env = {
        "MANAGED_LLM_ONE_URL": double.url,
        "MANAGED_LLM_ONE_API_KEY": encoded_api_key("admin"),
        "MANAGED_LLM_ONE_CA_CERTS": str(double.ca_path),
        **BEDROCK_ENV,
    }
    return [entry | ({"deployment": deployment} if deployment else {})], env


@pytest.fixture
def team_a(tmp_path: Path) -> Path:
    return write_file(
        tmp_path, [endpoint("llm"), endpoint("fast", model=V1, task_type="completion")], [], deployment="team-a"
    )


def test_plan_shows_the_model_and_the_deployments_profile(run: Cli, team_a: Path, tmp_path: Path) -> None:
    outputs = str(write_outputs(tmp_path))
    text = run("plan", "-f", str(team_a), "--stack-outputs", outputs)
    assert text.exit_code == 2, text.output
    assert f"deployment team-a, endpoint llm: model {V2} -> {TEAM_A}" in text.stdout
    assert f"deployment team-a, endpoint fast: model {V1} -> {TEAM_A_V1}" in text.stdout
    markdown = run("plan", "-f", str(team_a), "--stack-outputs", outputs, "-o", "markdown")
    assert f"model {V2} -> {TEAM_A}" in markdown.stdout
    document = json.loads(run("plan", "-f", str(team_a), "--stack-outputs", outputs, "-o", "json").stdout)
    assert document["deployment"] == {
        "name": "team-a",
        "models": [
            {"endpoint": "fast", "model": V1, "profile_arn": TEAM_A_V1},
            {"endpoint": "llm", "model": V2, "profile_arn": TEAM_A},
        ],
    }
    fields = {(c["id"], f["path"]): f["after"] for c in document["changes"] for f in c["fields"]}
    assert fields[("llm", "service_settings.model")] == TEAM_A


def test_apply_writes_the_arn_and_the_next_plan_is_empty(
    run: Cli, double: EsDouble, team_a: Path, tmp_path: Path
) -> None:
    outputs = str(write_outputs(tmp_path))
    applied = run("apply", "-f", str(team_a), "--stack-outputs", outputs)
    assert applied.exit_code == 0, applied.output
    assert double.cluster.endpoints["llm"].service_settings["model"] == TEAM_A
    assert double.cluster.endpoints["fast"].service_settings["model"] == TEAM_A_V1
    again = run("plan", "-f", str(team_a), "--stack-outputs", outputs)
    assert again.exit_code == 0, again.output
    # The catalog id is what the lifecycle checks see: no "unknown model" note for an ARN.
    assert "not in the catalog" not in again.stdout


def test_an_arn_of_the_files_own_deployment_is_accepted(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    file = write_file(tmp_path, [endpoint("llm", model=TEAM_A)], [], deployment="team-a")
    result = run("apply", "-f", str(file), "--stack-outputs", str(write_outputs(tmp_path)))
    assert result.exit_code == 0, result.output
    assert double.cluster.endpoints["llm"].service_settings["model"] == TEAM_A


def test_a_clusters_deployment_wins_over_the_files(double: EsDouble, tmp_path: Path) -> None:
    clusters, env = cluster_one(double, deployment="team-b")
    file = write_file(tmp_path, [endpoint("llm")], [], deployment="team-a", clusters=clusters)
    result = Cli(env)("plan", "-f", str(file), "--stack-outputs", str(write_outputs(tmp_path)))
    assert result.exit_code == 2, result.output
    assert f"deployment team-b, endpoint llm: model {V2} -> {TEAM_B}" in result.stdout


@pytest.mark.parametrize(
    ("endpoints", "deployment", "outputs", "message"),
    [
        pytest.param(
            [endpoint("llm")], "team-a", False, "deployment team-a: pass --stack-outputs", id="no-stack-outputs"
        ),
        pytest.param(
            [endpoint("llm")], "team-c", True, "deployment team-c is not in the stack outputs", id="unknown-deployment"
        ),
        pytest.param(
            [endpoint("llm", model="us.anthropic.claude-opus-4-1-20250805-v1:0")],
            "team-b",
            True,
            "deployment team-b has no profile for us.anthropic.claude-opus-4-1-20250805-v1:0; "
            "add it to the deployment's models in the stack config",
            id="no-profile",
        ),
        pytest.param(
            [endpoint("llm", model=TEAM_B)],
            "team-a",
            True,
            "inference_endpoints[0].model: deployment team-b's application inference profile, "
            "but this cluster belongs to deployment team-a",
            id="wrong-deployment",
        ),
        pytest.param(
            [endpoint("llm", model=profile_arn("nobodys0000"))],
            "team-a",
            True,
            "not an application inference profile of any deployment",
            id="unknown-arn",
        ),
        pytest.param(
            [endpoint("llm", model=TEAM_A)],
            None,
            True,
            "needs the file's deployment: and --stack-outputs",
            id="arn-alone",
        ),
    ],
)
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_unresolvable_models_are_refused_before_any_request(
    run: Cli,
    double: EsDouble,
    tmp_path: Path,
    command: str,
    endpoints: list[dict[str, Any]],
    deployment: str | None,
    outputs: bool,
    message: str,
) -> None:
    top = {"deployment": deployment} if deployment else {}
    file = write_file(tmp_path, endpoints, [], **top)
    extra = ["--stack-outputs", str(write_outputs(tmp_path))] if outputs else []
    result = run(command, "-f", str(file), *extra)
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    assert message in result.stderr
    assert double.count() == 0


@pytest.mark.parametrize(
    ("change", "where"),
    [
        pytest.param(lambda d: d["team-a"].update(extra=1), "deployments.team-a.extra", id="unknown-key"),
        pytest.param(
            lambda d: d["team-a"]["inferenceProfiles"].update({V2: "arn:aws:bedrock:eu-west-1:1:x"}),
            f"deployments.team-a.inferenceProfiles.{V2}",
            id="eu-profile",
        ),
        pytest.param(
            lambda d: d["team-a"].update(credentialsSecretArn="arn:aws:s3:::bucket"),
            "deployments.team-a.credentialsSecretArn",
            id="not-a-secret",
        ),
        pytest.param(
            lambda d: d["team-a"].update(elasticsearchPrincipalArn=["arn"]),
            "deployments.team-a.elasticsearchPrincipalArn",
            id="list-for-string",
        ),
        pytest.param(lambda d: d.update({"Team A": d["team-a"]}), "deployments.Team A", id="bad-name"),
    ],
)
def test_unknown_deployment_output_shapes_are_refused_in_one_line(
    run: Cli, double: EsDouble, team_a: Path, tmp_path: Path, change: Any, where: str
) -> None:
    deployments = {"team-a": deployment_outputs("team-a", {V2: TEAM_A, V1: TEAM_A_V1})}
    change(deployments)
    outputs = write_outputs(tmp_path, deployments)
    result = run("plan", "-f", str(team_a), "--stack-outputs", str(outputs))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {outputs}: {where}"), result.stderr
    assert result.stderr.count("\n") == 1
    assert double.count() == 0


# ------------------------------------------------------------------ credentials from the deployment's secret


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with moto_server() as url:
        reset(url)
        point_boto3_at(monkeypatch, url)
        yield url


def test_credentials_come_from_the_deployments_secret(
    moto: str, double: EsDouble, team_a: Path, tmp_path: Path
) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    keys = {"access_key_id": "AKIATEAMAKEY0000001", "secret_access_key": "team-a-secret-never-printed"}
    arn = secrets.create_secret(Name="managed-llm-team-a", SecretString=json.dumps(keys))["ARN"]
    other = secrets.create_secret(Name="managed-llm-team-b", SecretString=json.dumps({"access_key_id": "X"}))["ARN"]
    outputs = write_outputs(
        tmp_path,
        {
            "team-a": deployment_outputs("team-a", {V2: TEAM_A, V1: TEAM_A_V1}, secret=arn),
            "team-b": deployment_outputs("team-b", {V2: TEAM_B}, secret=other),
        },
    )
    run = Cli(double.env())  # no BEDROCK_* variables: the deployment's secret is the source
    planned = run("plan", "-f", str(team_a), "--stack-outputs", str(outputs))
    assert f"from the deployment's Secrets Manager secret {arn}" in planned.stdout
    result = run("apply", "-f", str(team_a), "--stack-outputs", str(outputs))
    assert result.exit_code == 0, result.output
    settings = double.cluster.endpoints["llm"].service_settings
    assert (settings["access_key"], settings["secret_key"]) == (keys["access_key_id"], keys["secret_access_key"])
    assert keys["secret_access_key"] not in result.output


def test_bedrock_variables_still_win_over_the_deployments_secret(
    run: Cli, double: EsDouble, team_a: Path, tmp_path: Path
) -> None:
    outputs = str(write_outputs(tmp_path))
    planned = run("plan", "-f", str(team_a), "--stack-outputs", outputs)
    assert f"over deployment secret {secret_arn('team-a')}" in planned.stdout
    assert run("apply", "-f", str(team_a), "--stack-outputs", outputs).exit_code == 0
    assert double.cluster.endpoints["llm"].service_settings["access_key"] == BEDROCK_ENV["BEDROCK_ACCESS_KEY_ID"]


# ------------------------------------------------------------------ scale: many clusters, one GET per kind each


def test_twenty_clusters_each_read_once_per_kind(double: EsDouble, tmp_path: Path) -> None:
    names = [f"c{i:02d}" for i in range(20)]
    clusters, env, deployments = [], dict(BEDROCK_ENV), {}
    for index, name in enumerate(names):
        prefix = f"MANAGED_LLM_{name.upper()}_"
        clusters.append(
            {"name": name, "url_env": f"{prefix}URL", "api_key_env": f"{prefix}API_KEY",
             "ca_certs_env": f"{prefix}CA_CERTS", "deployment": f"team-{name}"}
        )  # fmt: skip
        env |= {
            f"{prefix}URL": double.url,
            f"{prefix}API_KEY": encoded_api_key(name),
            f"{prefix}CA_CERTS": str(double.ca_path),
        }
        double.add_caller(name, frozenset({"manage_inference", "manage_security", "monitor"}))
        deployments[f"team-{name}"] = deployment_outputs(f"team-{name}", {V2: profile_arn(f"p{index:02d}abc")})
    file = write_file(tmp_path, [endpoint("llm")], [], clusters=clusters)
    outputs = str(write_outputs(tmp_path, deployments))
    result = Cli(env)("plan", "-f", str(file), "--stack-outputs", outputs)
    assert result.exit_code == 2, result.output
    gets = Counter(
        (caller, path) for (caller, method, path), n in double.by_caller.items() for _ in range(n) if method == "GET"
    )
    for name in names:
        mine = {path: n for (caller, path), n in gets.items() if caller == name}
        assert mine, f"cluster {name} was not read"
        assert all(n == 1 for n in mine.values()), f"cluster {name}: {mine}"
    assert {caller for caller, _ in gets} == set(names)


def test_rotation_pushes_the_clusters_own_deployments_key(moto: str, double: EsDouble, tmp_path: Path) -> None:
    """rotate-credentials on team-b's cluster writes team-b's key, not the stack's first deployment's."""
    secrets = boto3.client("secretsmanager", region_name=REGION)
    a_keys = {"access_key_id": "AKIATEAMAKEY0000001", "secret_access_key": "team-a-secret-never-printed"}
    b_keys = {"access_key_id": "AKIATEAMBKEY0000002", "secret_access_key": "team-b-secret-never-printed"}
    a = secrets.create_secret(Name="managed-llm-team-a", SecretString=json.dumps(a_keys))["ARN"]
    b = secrets.create_secret(Name="managed-llm-team-b", SecretString=json.dumps(b_keys))["ARN"]
    outputs = write_outputs(
        tmp_path,
        {
            "team-a": deployment_outputs("team-a", {V2: TEAM_A, V1: TEAM_A_V1}, secret=a),
            "team-b": deployment_outputs("team-b", {V2: TEAM_B}, secret=b),
        },
    )
    team_b = write_file(tmp_path, [endpoint("llm")], [], deployment="team-b")
    run = Cli(double.env())
    assert run("apply", "-f", str(team_b), "--stack-outputs", str(outputs)).exit_code == 0
    rotated = run("rotate-credentials", "-f", str(team_b), "--stack-outputs", str(outputs))
    assert rotated.exit_code == 0, rotated.output
    settings = double.cluster.endpoints["llm"].service_settings
    assert settings["access_key"] == b_keys["access_key_id"]


def test_a_cluster_that_names_no_deployment_is_refused_when_the_stack_serves_several(
    run: Cli, double: EsDouble, tmp_path: Path
) -> None:
    outputs = write_outputs(tmp_path)
    plain = write_file(tmp_path, [endpoint("llm")], [])
    for command in ("plan", "apply", "verify", "rotate-credentials"):
        result = run(command, "-f", str(plain), "--stack-outputs", str(outputs))
        assert result.exit_code == 1, (command, result.output)
        assert "the stack serves deployments (team-a, team-b): name this cluster's with deployment:" in result.stderr
        assert result.stderr.count("\n") == 1
    assert double.writes() == []
    assert double.requests == []  # refused before any request


@pytest.mark.parametrize("command", ["plan", "apply", "verify", "rotate-credentials"])
def test_the_pipelines_pin_refuses_a_file_that_moves_the_cluster(
    double: EsDouble, tmp_path: Path, command: str
) -> None:
    """The file is a pull request's: with MANAGED_LLM_DEPLOYMENT set by the pipeline, `deployment: team-b`
    cannot move a team-a cluster to team-b's key and budget."""
    moved = write_file(tmp_path, [endpoint("llm")], [], deployment="team-b")
    run = Cli(double.env(**BEDROCK_ENV, MANAGED_LLM_DEPLOYMENT="team-a"))
    result = run(command, "-f", str(moved), "--stack-outputs", str(write_outputs(tmp_path)))
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"error: {moved}: the file puts this cluster in deployment team-b, but MANAGED_LLM_DEPLOYMENT pins it "
        "to team-a (the pipeline's choice: the file may repeat it or leave it out)\n"
    )
    assert double.requests == []


def test_a_pin_gives_a_file_without_deployment_its_deployment(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    plain = write_file(tmp_path, [endpoint("llm")], [])
    pinned = Cli(double.env(**BEDROCK_ENV, MANAGED_LLM_DEPLOYMENT=" team-a\n"))  # pasted with whitespace
    result = pinned("apply", "-f", str(plain), "--stack-outputs", str(write_outputs(tmp_path)))
    assert result.exit_code == 0, result.output
    assert double.cluster.endpoints["llm"].service_settings["model"] == TEAM_A
    same = write_file(tmp_path, [endpoint("llm")], [], deployment="team-a")
    assert pinned("plan", "-f", str(same), "--stack-outputs", str(write_outputs(tmp_path))).exit_code == 0


def test_each_cluster_of_a_fleet_has_its_own_pin(double: EsDouble, tmp_path: Path) -> None:
    clusters, env = cluster_one(double, deployment="team-b")
    file = write_file(tmp_path, [endpoint("llm")], [], deployment="team-a", clusters=clusters)
    # The single-cluster pin does not speak for cluster one; its own does.
    env |= {"MANAGED_LLM_DEPLOYMENT": "team-b", "MANAGED_LLM_ONE_DEPLOYMENT": "team-a"}
    result = Cli(env)("plan", "-f", str(file), "--stack-outputs", str(write_outputs(tmp_path)))
    assert result.exit_code == 1
    assert "the file puts cluster one in deployment team-b, but MANAGED_LLM_ONE_DEPLOYMENT pins it to team-a" in (
        result.stderr
    )
    assert double.requests == []


@pytest.mark.parametrize("value", ["Team-A", "team_a", "x" * 33, "team-a\x00"])
def test_a_pin_that_is_not_a_deployment_name_is_refused_without_its_value(
    double: EsDouble, tmp_path: Path, value: str
) -> None:
    plain = write_file(tmp_path, [endpoint("llm")], [])
    result = Cli(double.env(**BEDROCK_ENV, MANAGED_LLM_DEPLOYMENT=value))(
        "plan", "-f", str(plain), "--stack-outputs", str(write_outputs(tmp_path))
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: MANAGED_LLM_DEPLOYMENT ")
    assert "the value is not shown" in result.stderr
    assert value.strip("\x00") not in result.stderr
    assert double.requests == []


@pytest.mark.parametrize("command", ["plan", "apply", "verify", "rotate-credentials"])
def test_a_files_only_cluster_is_pinned_by_its_own_variable_in_every_command(
    double: EsDouble, tmp_path: Path, command: str
) -> None:
    """Without --cluster, a command on a file with one `clusters:` entry works on that cluster: its deployment
    and its pin are that cluster's (verify and rotate-credentials once read the file's top-level ones)."""
    clusters, env = cluster_one(double)
    file = write_file(tmp_path, [endpoint("llm")], [], deployment="team-b", clusters=clusters)
    env["MANAGED_LLM_ONE_DEPLOYMENT"] = "team-a"
    result = Cli(env)(command, "-f", str(file), "--stack-outputs", str(write_outputs(tmp_path)))
    assert result.exit_code == 1, result.output
    assert "the file puts cluster one in deployment team-b, but MANAGED_LLM_ONE_DEPLOYMENT pins it to team-a" in (
        result.stderr
    )
    assert double.requests == []
