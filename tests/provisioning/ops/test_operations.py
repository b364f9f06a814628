"""verify, smoke, rotate-credentials and usage against moto (AWS) and the Elasticsearch double.

The stack is built in moto as `pulumi up` would have left it (tests/doubles/aws.py), the file is applied
to the double, and each invocation the double makes is logged into moto's CloudWatch Logs the way
Bedrock would (metadata only, or leaking bodies when a test says so).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from tests.conftest import V1, V2, Cli, endpoint, mapping, write_file
from tests.doubles.aws import AwsStack, BedrockLogSimulator, build_stack, moto_server, point_boto3_at, reset
from tests.doubles.es_double import EsDouble

pytestmark = pytest.mark.double_only

TITAN = "amazon.titan-embed-text-v2:0"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@dataclass
class Deployment:
    stack: AwsStack
    file: Path
    outputs: Path
    run: Cli
    double: EsDouble
    logs: BedrockLogSimulator

    def __call__(self, *args: str) -> object:
        return self.run(*args)


@pytest.fixture
def deployed(moto_url: str, monkeypatch: pytest.MonkeyPatch, double: EsDouble, tmp_path: Path) -> Deployment:
    reset(moto_url)
    point_boto3_at(monkeypatch, moto_url)
    stack = build_stack((V1, V2, TITAN))
    file = write_file(
        tmp_path,
        [
            endpoint("general-purpose-llm-v2"),
            endpoint("general-purpose-llm-v1", model=V1, task_type="completion"),
            {"id": "embeddings", "task_type": "text_embedding", "model": TITAN, "provider": "amazontitan"},
        ],
        [mapping("llm-admins", ["inference_admin"], rules={"field": {"groups": "cn=admins"}}), mapping("llm-users")],
        bedrock={"region": "us-east-1", "credentials": {"secret_arn": stack.secret_arn}},
    )
    run = Cli(double.env())
    assert run("apply", "-f", str(file)).exit_code == 0
    logs = BedrockLogSimulator(stack.log_group_name, stack.region, stack.principal_arn)
    double.cluster.on_invocation = logs
    return Deployment(stack, file, stack.write_outputs(tmp_path), run, double, logs)


def rows(stdout: str) -> dict[str, str]:
    """verify's text table: control title -> status."""
    found = {}
    for line in stdout.splitlines():
        for status in ("PASS", "FAIL", "WARN", "INFO"):
            if line.startswith(status + " "):
                found[line[len(status) :].strip()] = status
    return found


def verify(d: Deployment, *extra: str) -> tuple[int, dict[str, dict[str, str]]]:
    result = d.run("verify", "-f", str(d.file), "--stack-outputs", str(d.outputs), "-o", "json", *extra)
    document = json.loads(result.stdout)
    assert document["exit_code"] == result.exit_code
    return result.exit_code, {c["id"]: c for c in document["controls"]}


def test_verify_passes_on_a_compliant_deployment(deployed: Deployment) -> None:
    d = deployed
    d.run("smoke", "-f", str(d.file))  # some metadata-only records in the group
    text = d.run("verify", "-f", str(d.file), "--stack-outputs", str(d.outputs))
    assert text.exit_code == 0, text.stdout
    assert "Verify: 15 PASS, 0 FAIL, 0 WARN, 0 INFO; all controls pass." in text.stdout
    code, controls = verify(d)
    assert code == 0
    assert set(controls) == {
        "aws.logging.on",
        "aws.logging.metadata_only",
        "aws.logging.cloudwatch_only",
        "aws.logs.group",
        "aws.logs.kms",
        "aws.logs.retention",
        "aws.logs.no_bodies",
        "aws.iam.invoke_only",
        "es.endpoints.match",
        "es.endpoints.region",
        "es.endpoints.model",
        "es.role_mappings.match",
        "es.inference_admin.grants",
        "models.lifecycle",
        "transport.tls",
    }
    assert controls["models.lifecycle"]["status"] == "PASS"
    assert controls["aws.logs.no_bodies"]["evidence"] == "3 recent records, none with a body"
    assert controls["aws.iam.invoke_only"]["evidence"] == "1 policies: invoke only, on 3 models"


def _logging(d: Deployment, **changes: object) -> None:
    from tests.doubles.aws import metadata_only_config

    boto3.client("bedrock", region_name=d.stack.region).put_model_invocation_logging_configuration(
        loggingConfig={**metadata_only_config(d.stack.log_group_name), **changes}
    )


@pytest.mark.parametrize(
    ("change", "control", "evidence"),
    [
        ({"textDataDeliveryEnabled": True}, "aws.logging.metadata_only", "textDataDeliveryEnabled=true"),
        ({"audioDataDeliveryEnabled": True}, "aws.logging.metadata_only", "audioDataDeliveryEnabled=true"),
        (
            {"videoDataDeliveryEnabled": None},
            "aws.logging.metadata_only",
            "absent from AWS's answer, so not proven off: videoDataDeliveryEnabled",
        ),
        ({"s3Config": {"bucketName": "prompts"}}, "aws.logging.cloudwatch_only", "also delivering to s3Config"),
        (
            {
                "cloudWatchConfig": {
                    "logGroupName": "/managed-llm/test/bedrock-invocations",
                    "roleArn": "r",
                    "largeDataDeliveryS3Config": {"bucketName": "big"},
                }
            },
            "aws.logging.cloudwatch_only",
            "cloudWatchConfig.largeDataDeliveryS3Config",
        ),
        (
            {"cloudWatchConfig": {"logGroupName": "/somewhere/else", "roleArn": "r"}},
            "aws.logs.group",
            "Bedrock logs to /somewhere/else",
        ),
    ],
)
def test_verify_fails_each_logging_control(
    deployed: Deployment, change: dict[str, object], control: str, evidence: str
) -> None:
    _logging(deployed, **{k: v for k, v in change.items() if v is not None})
    if change.get("videoDataDeliveryEnabled", False) is None:
        config = boto3.client("bedrock", region_name="us-east-1").get_model_invocation_logging_configuration()[
            "loggingConfig"
        ]
        config.pop("videoDataDeliveryEnabled")
        boto3.client("bedrock", region_name="us-east-1").put_model_invocation_logging_configuration(
            loggingConfig=config
        )
    code, controls = verify(deployed)
    assert code == 1
    assert controls[control]["status"] == "FAIL"
    assert evidence in controls[control]["evidence"]


def test_verify_fails_a_delivery_flag_it_does_not_know(deployed: Deployment) -> None:
    """Deny by default: a flag newer than the installed botocore, which drops it when parsing, still fails."""
    from tests.doubles.aws import metadata_only_config, put_logging_config_verbatim

    config = {**metadata_only_config(deployed.stack.log_group_name), "fooDataDeliveryEnabled": True}
    put_logging_config_verbatim(deployed.stack.region, config)
    code, controls = verify(deployed)
    assert code == 1
    control = controls["aws.logging.metadata_only"]
    assert control["status"] == "FAIL"
    assert control["evidence"].startswith(
        "fooDataDeliveryEnabled=true (a flag this tool does not know: denied by default); AWS returned: "
        "audioDataDeliveryEnabled=false, embeddingDataDeliveryEnabled=false, fooDataDeliveryEnabled=true, "
    ), control["evidence"]


def test_verify_fails_when_the_audio_flag_is_left_as_the_stack_leaves_it(deployed: Deployment) -> None:
    """pulumi-aws cannot set audioDataDeliveryEnabled: absent from AWS's answer is not off."""
    _logging(deployed)
    config = boto3.client("bedrock", region_name="us-east-1").get_model_invocation_logging_configuration()
    stack_only = {k: v for k, v in config["loggingConfig"].items() if k != "audioDataDeliveryEnabled"}
    boto3.client("bedrock", region_name="us-east-1").put_model_invocation_logging_configuration(
        loggingConfig=stack_only
    )
    code, controls = verify(deployed)
    assert code == 1
    assert controls["aws.logging.metadata_only"]["evidence"] == (
        "absent from AWS's answer, so not proven off: audioDataDeliveryEnabled; AWS returned: "
        "embeddingDataDeliveryEnabled=false, imageDataDeliveryEnabled=false, textDataDeliveryEnabled=false, "
        "videoDataDeliveryEnabled=false"
    )


def test_verify_fails_when_logging_is_off(deployed: Deployment) -> None:
    boto3.client("bedrock", region_name="us-east-1").delete_model_invocation_logging_configuration()
    code, controls = verify(deployed)
    assert code == 1
    assert controls["aws.logging.on"]["status"] == "FAIL"
    assert controls["aws.logging.on"]["evidence"] == "no invocation logging configuration in us-east-1"


def test_verify_fails_a_log_group_without_kms_or_retention(deployed: Deployment) -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    logs.delete_log_group(logGroupName=deployed.stack.log_group_name)
    logs.create_log_group(logGroupName=deployed.stack.log_group_name)
    code, controls = verify(deployed)
    assert code == 1
    assert (controls["aws.logs.kms"]["status"], controls["aws.logs.kms"]["evidence"]) == ("FAIL", "no KMS key")
    assert (controls["aws.logs.retention"]["status"], controls["aws.logs.retention"]["evidence"]) == (
        "FAIL",
        "never expires",
    )
    logs.delete_log_group(logGroupName=deployed.stack.log_group_name)
    code, controls = verify(deployed)
    assert controls["aws.logs.group"]["evidence"] == f"log group {deployed.stack.log_group_name} does not exist"


def test_verify_catches_stored_prompts(deployed: Deployment) -> None:
    deployed.logs.leak = True
    assert deployed.run("smoke", "-f", str(deployed.file)).exit_code == 0
    code, controls = verify(deployed)
    assert code == 1
    assert controls["aws.logs.no_bodies"]["evidence"] == (
        "3 of 3 recent records carry a body (input.inputBodyJson, output.outputBodyJson)"
    )
    assert "Reference managed-llm-canary-" not in json.dumps(controls)  # evidence never repeats the content


def test_verify_counts_bodies_stored_in_s3_as_stored(deployed: Deployment) -> None:
    """A record pointing to its body in S3 (input.inputBodyS3Path / output.outputBodyS3Path) kept the body."""
    deployed.logs.s3_bodies = ("inputBodyS3Path", "outputBodyS3Path")
    assert deployed.run("smoke", "-f", str(deployed.file)).exit_code == 0
    code, controls = verify(deployed)
    assert code == 1
    assert controls["aws.logs.no_bodies"]["status"] == "FAIL"
    assert controls["aws.logs.no_bodies"]["evidence"] == (
        "3 of 3 recent records carry a body (input.inputBodyS3Path, output.outputBodyS3Path)"
    )


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ({"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"}, "actions beyond invoke: bedrock:*"),
        ({"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"}, "wildcard resource *"),
        (
            {
                "Effect": "Allow",
                "Action": "bedrock:InvokeModel",
                "Resource": "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
            },
            "region eu-west-1 is outside the US",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "bedrock:InvokeModel",
                "Resource": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-6",
            },
            "reachable without its inference profile",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "bedrock:InvokeModel",
                "Resource": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-opus-4-1-20250805-v1:0",
            },
            "model not allow-listed",
        ),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "NotAction/NotResource grants too much"),
    ],
)
def test_verify_fails_a_principal_that_can_do_more(
    deployed: Deployment, statement: dict[str, object], problem: str
) -> None:
    iam = boto3.client("iam")
    iam.create_group(GroupName="extras")
    iam.add_user_to_group(GroupName="extras", UserName="managed-llm-elasticsearch")
    iam.put_group_policy(
        GroupName="extras",
        PolicyName="extra",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    code, controls = verify(deployed)
    assert code == 1
    assert controls["aws.iam.invoke_only"]["status"] == "FAIL"
    assert "group extras inline policy extra" in controls["aws.iam.invoke_only"]["evidence"]
    assert problem in controls["aws.iam.invoke_only"]["evidence"]


def test_verify_sees_attached_managed_policies(deployed: Deployment) -> None:
    iam = boto3.client("iam")
    arn = iam.create_policy(
        PolicyName="wide",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName="managed-llm-elasticsearch", PolicyArn=arn)
    code, controls = verify(deployed)
    assert code == 1
    assert "managed policy arn:aws:iam::123456789012:policy/wide" in controls["aws.iam.invoke_only"]["evidence"]


def test_verify_fails_elasticsearch_drift_and_disallowed_models(deployed: Deployment) -> None:
    d = deployed
    d.double.cluster.endpoints["general-purpose-llm-v1"].task_settings["temperature"] = 0.9
    d.double.cluster.role_mappings["llm-users"]["roles"] = ["superuser"]
    narrower = json.loads(d.outputs.read_text()) | {"models": [V2, TITAN], "region": "us-east-2"}
    d.outputs.write_text(json.dumps(narrower))
    code, controls = verify(d)
    assert code == 1
    assert controls["es.endpoints.match"]["evidence"] == "general-purpose-llm-v1 (replace)"
    assert controls["es.role_mappings.match"]["evidence"] == "llm-users (update)"
    assert controls["es.endpoints.model"]["evidence"] == f"general-purpose-llm-v1: {V1}"
    assert "embeddings: us-east-1" in controls["es.endpoints.region"]["evidence"]


def test_verify_reports_other_admin_grants_without_failing(deployed: Deployment) -> None:
    deployed.double.cluster.role_mappings["break-glass"] = {
        "enabled": True,
        "roles": ["inference_admin", "superuser"],
        "rules": {"field": {"username": "root"}},
        "metadata": {},
    }
    code, controls = verify(deployed)
    assert code == 0
    assert controls["es.inference_admin.grants"]["status"] == "INFO"
    assert controls["es.inference_admin.grants"]["evidence"] == "also granted by: break-glass"


def test_verify_without_stack_outputs_cannot_prove_everything(deployed: Deployment) -> None:
    result = deployed.run("verify", "-f", str(deployed.file), "-o", "json")
    controls = {c["id"]: c for c in json.loads(result.stdout)["controls"]}
    assert result.exit_code == 1
    assert controls["aws.logging.metadata_only"]["status"] == "PASS"  # the region comes from the file
    assert controls["aws.logs.kms"]["status"] == "PASS"  # the group comes from Bedrock's configuration
    assert controls["aws.iam.invoke_only"]["evidence"] == "needs --stack-outputs (principal and models)"
    assert controls["es.endpoints.model"]["evidence"] == "needs --stack-outputs (models)"


def test_verify_keeps_going_when_an_aws_read_is_refused(deployed: Deployment) -> None:
    outputs = json.loads(deployed.outputs.read_text()) | {
        "elasticsearchPrincipalArn": "arn:aws:iam::123456789012:user/nobody"
    }
    deployed.outputs.write_text(json.dumps(outputs))
    code, controls = verify(deployed)
    assert code == 1
    assert controls["aws.iam.invoke_only"]["evidence"].startswith(
        "cannot check: read IAM policies of arn:aws:iam::123456789012:user/nobody: NoSuchEntity"
    )
    assert controls["es.endpoints.match"]["status"] == "PASS"


def test_transport_control_warns_on_plain_http() -> None:
    from provisioning.core.model import DesiredState
    from provisioning.core.stack_outputs import StackOutputs
    from provisioning.ops.verify import Evidence, _transport

    evidence = Evidence(
        DesiredState(), StackOutputs(region="us-east-1"), None, None, (), None, None, "http://es:9200", None
    )  # type: ignore[arg-type]
    control = _transport(evidence)
    assert control.status.value == "WARN"
    assert control.evidence == "http://es:9200 is plain http: traffic is not encrypted"


# ---------------------------------------------------------------------------- smoke


def test_smoke_calls_each_endpoint_once(deployed: Deployment) -> None:
    result = deployed.run("smoke", "-f", str(deployed.file), "-o", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [(e["id"], e["status"]) for e in document["endpoints"]] == [
        ("general-purpose-llm-v2", "PASS"),
        ("general-purpose-llm-v1", "PASS"),
        ("embeddings", "PASS"),
    ]
    assert document["endpoints"][0]["detail"] == "streamed 3 chunks, 33 characters"
    assert document["endpoints"][2]["detail"] == "1024 dimensions"
    assert deployed.logs.written == 3
    assert deployed.double.count("POST", r"^/_inference/chat_completion/general-purpose-llm-v2/_stream$") == 1


def test_smoke_check_logs_passes_with_metadata_only_records(deployed: Deployment) -> None:
    result = deployed.run("smoke", "-f", str(deployed.file), "--stack-outputs", str(deployed.outputs), "--check-logs")
    assert result.exit_code == 0, result.output
    assert "3/3 models logged after the calls" in result.stdout
    assert "3/3 records carry timestamp, modelId, region; status: success" in result.stdout
    assert "waiting for invocation log records: 3/3" in result.stderr
    assert "Smoke: passed." in result.stdout


def test_smoke_check_logs_catches_the_canary(deployed: Deployment) -> None:
    deployed.logs.leak = True
    result = deployed.run(
        "smoke", "-f", str(deployed.file), "--stack-outputs", str(deployed.outputs), "--check-logs", "-o", "json"
    )
    assert result.exit_code == 1
    checks = {c["check"]: c for c in json.loads(result.stdout)["log_checks"]}
    assert checks["canary absent from the log group"]["status"] == "FAIL"
    assert checks["canary absent from the log group"]["evidence"].startswith("canary found in 3 of 3 events")
    assert checks["no prompt or output stored"]["status"] == "FAIL"


@pytest.mark.parametrize("field", ["inputBodyS3Path", "outputBodyS3Path"])
def test_smoke_check_logs_counts_a_body_stored_in_s3(deployed: Deployment, field: str) -> None:
    """Bodies too large to inline go to S3 and the record keeps only their path: still a stored body."""
    deployed.logs.s3_bodies = (field,)
    result = deployed.run(
        "smoke", "-f", str(deployed.file), "--stack-outputs", str(deployed.outputs), "--check-logs", "-o", "json"
    )
    assert result.exit_code == 1
    checks = {c["check"]: c for c in json.loads(result.stdout)["log_checks"]}
    assert checks["no prompt or output stored"]["status"] == "FAIL"
    assert checks["no prompt or output stored"]["evidence"] == (
        f"3 of 3 records carry a body field ({'input' if field.startswith('input') else 'output'}.{field})"
    )
    assert checks["canary absent from the log group"]["status"] == "PASS"  # the body is in S3, not the group


def test_smoke_check_logs_waits_a_bounded_time_for_records(deployed: Deployment) -> None:
    deployed.double.cluster.on_invocation = None  # Bedrock logged nothing
    result = deployed.run(
        "smoke",
        "-f",
        str(deployed.file),
        "--stack-outputs",
        str(deployed.outputs),
        "--check-logs",
        "--log-timeout",
        "1",
    )
    assert result.exit_code == 1
    assert "0/3 models logged after the calls; missing:" in result.stdout
    assert result.stderr.count("waiting for invocation log records") >= 10


def test_smoke_reports_each_failing_endpoint(deployed: Deployment) -> None:
    deployed.double.cluster.bedrock_failures[V1] = "ThrottlingException: slow down"
    deployed.double.cluster.endpoints.pop("embeddings")
    result = deployed.run("smoke", "-f", str(deployed.file), "-o", "json")
    assert result.exit_code == 1
    statuses = {e["id"]: (e["status"], e["detail"]) for e in json.loads(result.stdout)["endpoints"]}
    assert statuses["general-purpose-llm-v2"][0] == "PASS"
    assert statuses["general-purpose-llm-v1"] == (
        "FAIL",
        "completion through general-purpose-llm-v1: HTTP 500 status_exception: "
        "AmazonBedrock converse failure: [ThrottlingException: slow down]",
    )
    assert statuses["embeddings"] == (
        "FAIL",
        "embedding through embeddings: HTTP 404 resource_not_found_exception: "
        "Inference endpoint not found [embeddings]",
    )


# ---------------------------------------------------------------------------- rotate-credentials


def new_key(stack: AwsStack) -> tuple[str, str]:
    """What `pulumi up` does after a credentialsGeneration bump: a new key in the same secret."""
    key = boto3.client("iam").create_access_key(UserName="managed-llm-elasticsearch")["AccessKey"]
    boto3.client("secretsmanager", region_name=stack.region).put_secret_value(
        SecretId=stack.secret_arn,
        SecretString=json.dumps({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}),
    )
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_rotation_pushes_the_new_key_to_owned_endpoints_only(deployed: Deployment) -> None:
    from tests.provisioning.cli.test_cli_safety import foreign_endpoint

    foreign_endpoint(deployed.double, "other-team-llm")
    key_id, secret = new_key(deployed.stack)
    result = deployed.run("rotate-credentials", "-f", str(deployed.file), "--stack-outputs", str(deployed.outputs))
    assert result.exit_code == 0, result.output
    assert "Rotation: complete." in result.stdout
    for endpoint_id in ("general-purpose-llm-v1", "general-purpose-llm-v2", "embeddings"):
        settings = deployed.double.cluster.endpoints[endpoint_id].service_settings
        assert (settings["access_key"], settings["secret_key"]) == (key_id, secret)
    assert deployed.double.cluster.endpoints["other-team-llm"].service_settings["access_key"] == "other-team-key"
    assert key_id not in result.output
    assert secret not in result.output
    assert deployed.double.count("PUT", r"/_update$") == 3


def test_rotation_reports_partial_failure_and_a_rerun_converges(deployed: Deployment) -> None:
    key_id, _ = new_key(deployed.stack)
    deployed.double.fail("PUT", r"/general-purpose-llm-v1/_update$", 500, times=100)
    first = deployed.run(
        "rotate-credentials", "-f", str(deployed.file), "--stack-outputs", str(deployed.outputs), "-o", "json"
    )
    assert first.exit_code == 1
    results = {e["id"]: e for e in json.loads(first.stdout)["endpoints"]}
    assert results["general-purpose-llm-v1"]["key"] == "failed"
    assert results["general-purpose-llm-v2"]["key"] == "updated"
    assert results["general-purpose-llm-v2"]["smoke"] == "PASS"
    assert deployed.double.cluster.endpoints["general-purpose-llm-v2"].service_settings["access_key"] == key_id
    deployed.double.faults.clear()
    again = deployed.run("rotate-credentials", "-f", str(deployed.file), "--stack-outputs", str(deployed.outputs))
    assert again.exit_code == 0, again.output
    assert deployed.double.cluster.endpoints["general-purpose-llm-v1"].service_settings["access_key"] == key_id


def test_rotation_needs_the_secret(deployed: Deployment, tmp_path: Path) -> None:
    bare = write_file(tmp_path, [endpoint("x")], [])
    result = deployed.run("rotate-credentials", "-f", str(bare))
    assert result.exit_code == 1
    assert (
        result.stderr
        == "error: rotate-credentials: no credentials secret known (pass --stack-outputs or set bedrock.credentials)\n"
    )


# ---------------------------------------------------------------------------- usage

DAY_1, DAY_2, DAY_3 = (datetime(2026, 11, d, 12, tzinfo=UTC) for d in (1, 2, 3))


def put_metric(model: str, metric: str, when: datetime, value: float) -> None:
    boto3.client("cloudwatch", region_name="us-east-1").put_metric_data(
        Namespace="AWS/Bedrock",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "ModelId", "Value": model}],
                "Timestamp": when,
                "Value": value,
            }
        ],
    )


@pytest.fixture
def metrics(deployed: Deployment) -> Deployment:
    for when, invocations in ((DAY_1, 10), (DAY_2, 4)):
        put_metric(V2, "Invocations", when, invocations)
        put_metric(V2, "InputTokenCount", when, invocations * 1000)
        put_metric(V2, "OutputTokenCount", when, invocations * 200)
    put_metric(V2, "InvocationThrottles", DAY_2, 3)
    put_metric(V2, "InvocationServerErrors", DAY_2, 1)
    put_metric(V2, "InvocationClientErrors", DAY_1, 2)
    put_metric(V1, "Invocations", DAY_3, 1)
    put_metric(V1, "InputTokenCount", DAY_3, 1_000_000)
    put_metric(V1, "OutputTokenCount", DAY_3, 100_000)
    put_metric(V1, "Invocations", datetime(2026, 11, 4, 0, 0, 1, tzinfo=UTC), 50)  # outside the window
    return deployed


def usage(d: Deployment, *extra: str) -> object:
    return d.run("usage", "--stack-outputs", str(d.outputs), "--since", "2026-11-01", "--until", "2026-11-04", *extra)


def test_usage_totals_and_cost_per_model(metrics: Deployment) -> None:
    result = usage(metrics, "-o", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    by_model = {m["model"]: m for m in document["models"]}
    assert by_model[V2]["totals"] == {
        "invocations": 14,
        "errors": 3,
        "throttles": 3,
        "input_tokens": 14_000,
        "output_tokens": 2_800,
        "cost_usd": round((14_000 * 3.3 + 2_800 * 16.5) / 1e6, 6),
    }
    assert by_model[V1]["totals"]["cost_usd"] == round(1.1 + 0.55, 6)  # 1M in at $1.10, 100k out at $5.50
    assert by_model[TITAN]["totals"] == {
        "invocations": 0,
        "errors": 0,
        "throttles": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
    }
    assert [d["day"] for d in by_model[V2]["days"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert document["totals"]["invocations"] == 15


def test_usage_window_ends_exclude_the_end_day(metrics: Deployment) -> None:
    result = metrics.run(
        "usage", "--stack-outputs", str(metrics.outputs), "--since", "2026-11-01", "--until", "2026-11-03", "-o", "json"
    )
    by_model = {m["model"]: m for m in json.loads(result.stdout)["models"]}
    assert by_model[V1]["totals"]["invocations"] == 0
    assert [d["day"] for d in by_model[V2]["days"]] == ["2026-11-01", "2026-11-02"]


def test_usage_prices_can_be_overridden_in_the_file(metrics: Deployment, tmp_path: Path) -> None:
    document = json.loads(json.dumps(__import__("yaml").safe_load(metrics.file.read_text())))
    document["prices"] = {V1: {"input": 1.0, "output": 2.0}}
    file = tmp_path / "priced.yaml"
    file.write_text(json.dumps(document))
    result = usage(metrics, "-f", str(file), "-o", "json")
    by_model = {m["model"]: m for m in json.loads(result.stdout)["models"]}
    assert by_model[V1]["totals"]["cost_usd"] == round(1.0 + 0.2, 6)
    assert "overridden by" in json.loads(result.stdout)["prices"]


def test_usage_csv_has_a_row_per_model_and_day(metrics: Deployment) -> None:
    result = usage(metrics, "-o", "csv")
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(table) == 3 * 3
    assert table[0].keys() == {
        "model",
        "day",
        "invocations",
        "errors",
        "throttles",
        "input_tokens",
        "output_tokens",
        "cost_usd",
    }
    v1_day3 = next(r for r in table if r["model"] == V1 and r["day"] == "2026-11-03")
    assert (v1_day3["invocations"], v1_day3["cost_usd"]) == ("1", "1.650000")


def test_usage_text_has_totals_and_a_sparkline(metrics: Deployment) -> None:
    result = usage(metrics)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Bedrock usage in us-east-1, 2026-11-01 to 2026-11-04 00:00 UTC")
    v2 = next(line for line in lines if line.startswith(V2))
    assert "14" in v2
    assert v2.rstrip().endswith("█▃")  # 10 then 4 invocations (of 8 levels), nothing on day 3
    assert any(line.startswith("total") and "1.7424" in line for line in lines)


def test_usage_batches_queries_and_follows_pages(metrics: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    import provisioning.adapters.aws

    monkeypatch.setattr(provisioning.adapters.aws, "MAX_METRIC_QUERIES", 4)
    batched = json.loads(usage(metrics, "-o", "json").stdout)
    monkeypatch.setattr(provisioning.adapters.aws, "MAX_METRIC_QUERIES", 500)
    assert batched == json.loads(usage(metrics, "-o", "json").stdout)


def test_usage_discovers_models_without_stack_outputs(metrics: Deployment) -> None:
    result = metrics.run("usage", "--since", "2026-11-01", "--until", "2026-11-04", "-o", "json")
    assert {m["model"] for m in json.loads(result.stdout)["models"]} == {V1, V2}


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("yesterday", "now", "'yesterday': expected now, a duration such as 7d or 24h, or an ISO date"),
        ("2026-11-05", "2026-11-01", "empty window"),
        ("1000d", "now", "window longer than 455 days"),
    ],
)
def test_usage_refuses_bad_windows(deployed: Deployment, since: str, until: str, message: str) -> None:
    result = deployed.run("usage", "--since", since, "--until", until)
    assert result.exit_code == 1
    assert message in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "stack-outputs.json:1: not JSON (expected `pulumi stack output --json`)"),
        ("[]", "stack-outputs.json: expected a JSON object of stack outputs"),
        ('{"models": []}', "stack-outputs.json: region: Field required"),
    ],
)
def test_bad_stack_outputs_are_one_line(deployed: Deployment, content: str, message: str) -> None:
    deployed.outputs.write_text(content)
    result = deployed.run("verify", "-f", str(deployed.file), "--stack-outputs", str(deployed.outputs))
    assert result.exit_code == 1
    assert result.stderr == f"error: {deployed.outputs.parent / message}\n"
