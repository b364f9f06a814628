"""A moto server on loopback standing in for AWS (Secrets Manager, CloudWatch, ...); never real AWS."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from provisioning.sandbox.cluster import Invocation

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset(endpoint_url: str) -> None:
    """Empty every moto backend (moto's own reset API), so each test starts from a new account."""
    import urllib.request

    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")  # noqa: S310 (loopback moto)
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 (loopback moto)


def point_boto3_at(monkeypatch: pytest.MonkeyPatch, endpoint_url: str) -> None:
    """botocore honours AWS_ENDPOINT_URL; fake credentials keep the default chain off real AWS."""
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@dataclass
class AwsStack:
    """What `pulumi up` would have created, built in moto with boto3 (and infra.policies for the IAM document)."""

    region: str
    models: tuple[str, ...]
    log_group_name: str
    kms_key_arn: str
    principal_arn: str
    secret_arn: str
    access_key_id: str
    secret_access_key: str

    def outputs(self) -> dict[str, object]:
        """`pulumi stack output --json` of this stack."""
        return {
            "region": self.region,
            "models": list(self.models),
            "credentialsSecretArn": self.secret_arn,
            "elasticsearchPrincipalArn": self.principal_arn,
            "logGroupName": self.log_group_name,
            "logGroupArn": f"arn:aws:logs:{self.region}:123456789012:log-group:{self.log_group_name}",
            "kmsKeyArn": self.kms_key_arn,
            "alarmTopicArn": f"arn:aws:sns:{self.region}:123456789012:alarms",
            "dashboardName": "managed-llm-test",
        }

    def write_outputs(self, directory: Path) -> Path:
        path = directory / "stack-outputs.json"
        path.write_text(json.dumps(self.outputs(), indent=2))
        return path


def metadata_only_config(group: str) -> dict[str, object]:
    """What the stack plus the README's CLI line leave: pulumi-aws 7.51 sets four flags, the user sets audio."""
    return {
        "cloudWatchConfig": {"logGroupName": group, "roleArn": "arn:aws:iam::123456789012:role/bedrock-logging"},
        "textDataDeliveryEnabled": False,
        "imageDataDeliveryEnabled": False,
        "embeddingDataDeliveryEnabled": False,
        "videoDataDeliveryEnabled": False,
        "audioDataDeliveryEnabled": False,
    }


def put_logging_config_verbatim(region: str, config: dict[str, object]) -> None:
    """Store a logging configuration with members the installed botocore does not model.

    botocore serializes only the `LoggingConfig` members of its service model, so a flag AWS adds later
    (as audioDataDeliveryEnabled arrived in botocore 1.42.1) cannot be sent through it; the JSON body is
    replaced before signing instead. moto keeps the body's `loggingConfig` as given and answers it back
    verbatim (moto/bedrock/responses.py, put/get_model_invocation_logging_configuration).
    """
    client = boto3.client("bedrock", region_name=region)

    def replace_body(request: Any, **_: object) -> None:
        request.data = json.dumps({"loggingConfig": config}).encode()
        request.headers["Content-Length"] = str(len(request.data))

    client.meta.events.register("before-sign.bedrock.PutModelInvocationLoggingConfiguration", replace_body)
    client.put_model_invocation_logging_configuration(loggingConfig={"cloudWatchConfig": config["cloudWatchConfig"]})


def build_stack(models: tuple[str, ...], region: str = "us-east-1", suffix: str = "") -> AwsStack:
    from catalog.models import parse_model_id
    from infra.policies import (
        bedrock_invoke_policy,
        foundation_model_arn,
        in_region_grant,
        inference_profile_arn,
        profile_grant,
    )

    kms = boto3.client("kms", region_name=region)
    key_arn = kms.create_key(Description="managed-llm test")["KeyMetadata"]["Arn"]
    group = f"/managed-llm/test{suffix}/bedrock-invocations"
    logs = boto3.client("logs", region_name=region)
    logs.create_log_group(logGroupName=group, kmsKeyId=key_arn)
    logs.put_retention_policy(logGroupName=group, retentionInDays=365)
    logs.create_log_stream(logGroupName=group, logStreamName=BEDROCK_LOG_STREAM)
    boto3.client("bedrock", region_name=region).put_model_invocation_logging_configuration(
        loggingConfig=metadata_only_config(group)
    )
    grants = []
    for model in models:
        parsed = parse_model_id(model)
        if parsed.via_us_profile:
            routes = [
                foundation_model_arn(r, parsed.foundation_model_id) for r in ("us-east-1", "us-east-2", "us-west-2")
            ]
            grants.append(
                profile_grant(
                    model, parsed.foundation_model_id, inference_profile_arn(region, "123456789012", model), routes
                )
            )
        else:
            grants.append(in_region_grant(model, region))
    iam = boto3.client("iam")
    user = f"managed-llm-elasticsearch{suffix}"
    principal = iam.create_user(UserName=user, Path="/managed-llm/")["User"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="invoke", PolicyDocument=json.dumps(bedrock_invoke_policy(grants)))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    secret = boto3.client("secretsmanager", region_name=region).create_secret(
        Name=f"managed-llm-credentials{suffix}",
        KmsKeyId=key_arn,
        SecretString=json.dumps({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}),
    )
    return AwsStack(
        region, models, group, key_arn, principal, secret["ARN"], key["AccessKeyId"], key["SecretAccessKey"]
    )


BEDROCK_LOG_STREAM = "aws/bedrock/modelinvocations"


class BedrockLogSimulator:
    """Writes the invocation log record Bedrock would write for each call the double makes.

    moto has no bedrock-runtime, so this is the nearest honest substitute: records shaped like AWS's
    (schemaType, timestamp, accountId, identity, region, requestId, operation, modelId, token counts),
    with the body fields only when `leak` pretends text data delivery is on, and the S3 pointers named in
    `s3_bodies` (`inputBodyS3Path`, `outputBodyS3Path`) when it pretends bodies were too large to inline and
    went to the large-data S3 bucket
    (https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html).
    """

    def __init__(
        self, group: str, region: str, principal_arn: str, *, leak: bool = False, s3_bodies: tuple[str, ...] = ()
    ) -> None:
        self.group, self.region, self.principal_arn = group, region, principal_arn
        self.leak, self.s3_bodies = leak, s3_bodies
        self.logs = boto3.client("logs", region_name=region)
        self.written = 0

    def __call__(self, invocation: Invocation) -> None:
        now = datetime.now(UTC)
        record: dict[str, object] = {
            "schemaType": "ModelInvocationLog",
            "schemaVersion": "1.0",
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "accountId": "123456789012",
            "identity": {"arn": self.principal_arn},
            "region": invocation.region,
            "requestId": str(uuid.uuid4()),
            "operation": invocation.operation,
            "modelId": invocation.model,
            "input": {"inputContentType": "application/json", "inputTokenCount": invocation.input_tokens},
            "output": {"outputContentType": "application/json", "outputTokenCount": invocation.output_tokens},
        }
        if invocation.error_code:
            record["errorCode"] = invocation.error_code
        if self.leak:
            record["input"] = {
                **record["input"],
                "inputBodyJson": {"messages": [{"content": [{"text": invocation.input_text}]}]},
            }  # type: ignore[dict-item]
            record["output"] = {**record["output"], "outputBodyJson": {"output": invocation.output_text}}  # type: ignore[dict-item]
        if self.s3_bodies:
            # Offloaded bodies live under .../BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/data/; the file
            # name here is illustrative: checkers look at the fields, never at the path.
            prefix = (
                f"s3://large-bodies/AWSLogs/123456789012/BedrockModelInvocationLogs/{invocation.region}/"
                f"{now:%Y/%m/%d/%H}/data/{record['requestId']}"
            )
            for part, field in (("input", "inputBodyS3Path"), ("output", "outputBodyS3Path")):
                if field in self.s3_bodies:
                    record[part] = {**record[part], field: f"{prefix}_{part}.json.gz"}  # type: ignore[dict-item]
        self.logs.put_log_events(
            logGroupName=self.group,
            logStreamName=BEDROCK_LOG_STREAM,
            logEvents=[{"timestamp": int(now.timestamp() * 1000), "message": json.dumps(record)}],
        )
        self.written += 1
