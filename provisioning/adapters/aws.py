"""The only module that imports boto3: reads from AWS with the standard credential chain.

Every function returns plain data and turns AWS errors into one-line `AwsError`s (the error code, never
a payload). `AWS_ENDPOINT_URL` (honoured by botocore) points these calls at a local moto server in tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from provisioning.core.errors import AwsError, CredentialsError

PolicyDocument = dict[str, Any]


@contextmanager
def _aws(operation: str, error: type[AwsError] | type[CredentialsError] = AwsError) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        raise error(f"{operation}: {code}") from None
    except BotoCoreError as exc:
        raise error(f"{operation}: {type(exc).__name__}") from None


def read_secret_string(secret_arn: str) -> str:
    """SecretString of a Secrets Manager secret, in the secret's own region; errors never include it."""
    region = secret_arn.split(":")[3]
    with _aws(f"cannot read secret {secret_arn}", CredentialsError):
        response = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=secret_arn)
    value = response.get("SecretString")
    if not isinstance(value, str):
        raise CredentialsError(f"secret {secret_arn} has no SecretString")
    return value


def logging_configuration(region: str) -> Mapping[str, Any] | None:
    """Bedrock's model invocation logging configuration in `region` (None when logging is off)."""
    client = boto3.client("bedrock", region_name=region)
    raw: dict[str, Any] = {}
    # botocore keeps only the members its model knows, so a flag AWS added after the installed botocore
    # (audioDataDeliveryEnabled before 1.42.1, tomorrow's next one) would vanish: read the raw answer too.
    client.meta.events.register(
        "after-call.bedrock.GetModelInvocationLoggingConfiguration",
        lambda http_response, **_: raw.update(_raw_logging_config(http_response.content)),
    )
    with _aws(f"read Bedrock invocation logging configuration in {region}"):
        response = client.get_model_invocation_logging_configuration()
    config = response.get("loggingConfig")
    if not config:
        return None
    return {**{k: v for k, v in raw.items() if k not in config}, **config}


def _raw_logging_config(body: bytes) -> dict[str, Any]:
    """The top-level members of `loggingConfig` in Bedrock's JSON answer; nothing if it is not that shape."""
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    config = document.get("loggingConfig") if isinstance(document, dict) else None
    return {str(k): v for k, v in config.items()} if isinstance(config, dict) else {}


def log_group(name: str, region: str) -> Mapping[str, Any] | None:
    with _aws(f"describe log group {name}"):
        paginator = boto3.client("logs", region_name=region).get_paginator("describe_log_groups")
        for page in paginator.paginate(logGroupNamePrefix=name):
            for group in page.get("logGroups", []):
                if group.get("logGroupName") == name:
                    return dict(group)
    return None


def log_events(group: str, region: str, start: datetime, end: datetime, *, limit: int) -> list[Mapping[str, Any]]:
    """Events of every stream of `group` between `start` and `end`, at most `limit` (pages followed)."""
    arguments: dict[str, Any] = {
        "logGroupName": group,
        "startTime": int(start.timestamp() * 1000),
        "endTime": int(end.timestamp() * 1000),
    }
    events: list[Mapping[str, Any]] = []
    with _aws(f"read log events of {group}"):
        paginator = boto3.client("logs", region_name=region).get_paginator("filter_log_events")
        for page in paginator.paginate(**arguments):
            events.extend(page.get("events", []))
            if len(events) >= limit:
                return events[:limit]
    return events


def principal_policy_documents(user_arn: str) -> list[tuple[str, PolicyDocument]]:
    """Every identity policy that applies to an IAM user: inline, attached, and through its groups."""
    user = user_arn.rsplit("/", 1)[-1]
    iam = boto3.client("iam")
    documents: list[tuple[str, PolicyDocument]] = []
    with _aws(f"read IAM policies of {user_arn}"):
        for name in _all(iam, "list_user_policies", "PolicyNames", UserName=user):
            document = iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"]
            documents.append((f"inline policy {name}", _document(document)))
        for attached in _all(iam, "list_attached_user_policies", "AttachedPolicies", UserName=user):
            documents.append((f"managed policy {attached['PolicyArn']}", _managed(iam, attached["PolicyArn"])))
        for group in _all(iam, "list_groups_for_user", "Groups", UserName=user):
            group_name = group["GroupName"]
            for name in _all(iam, "list_group_policies", "PolicyNames", GroupName=group_name):
                document = iam.get_group_policy(GroupName=group_name, PolicyName=name)["PolicyDocument"]
                documents.append((f"group {group_name} inline policy {name}", _document(document)))
            for attached in _all(iam, "list_attached_group_policies", "AttachedPolicies", GroupName=group_name):
                documents.append(
                    (f"group {group_name} managed policy {attached['PolicyArn']}", _managed(iam, attached["PolicyArn"]))
                )
    return documents


# GetMetricData takes at most 500 queries per request.
MAX_METRIC_QUERIES = 500


def metric_data(
    region: str, queries: Sequence[Mapping[str, Any]], start: datetime, end: datetime
) -> dict[str, list[tuple[datetime, float]]]:
    """GetMetricData results by query id: {id: [(timestamp, value), ...]}, queries batched by 500 and
    every page (NextToken) followed by boto3's paginator."""
    results: dict[str, list[tuple[datetime, float]]] = {str(q["Id"]): [] for q in queries}
    client: Any = boto3.client("cloudwatch", region_name=region)
    with _aws(f"read CloudWatch metrics in {region}"):
        for first in range(0, len(queries), MAX_METRIC_QUERIES):
            batch = list(queries[first : first + MAX_METRIC_QUERIES])
            for page in client.get_paginator("get_metric_data").paginate(
                MetricDataQueries=batch, StartTime=start, EndTime=end
            ):
                for result in page.get("MetricDataResults", []):
                    pairs = zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
                    results[result["Id"]].extend(pairs)
    return results


def bedrock_metric_models(region: str) -> list[str]:
    """Model ids that have published `AWS/Bedrock` invocation metrics in `region`."""
    models: set[str] = set()
    with _aws(f"list CloudWatch metrics in {region}"):
        paginator = boto3.client("cloudwatch", region_name=region).get_paginator("list_metrics")
        for page in paginator.paginate(Namespace="AWS/Bedrock", MetricName="Invocations"):
            for metric in page.get("Metrics", []):
                for dimension in metric.get("Dimensions", []):
                    if dimension.get("Name") == "ModelId":
                        models.add(str(dimension["Value"]))
    return sorted(models)


def _all(client: Any, method: str, key: str, **arguments: Any) -> list[Any]:
    items: list[Any] = []
    for page in client.get_paginator(method).paginate(**arguments):
        items.extend(page.get(key, []))
    return items


def _managed(iam: Any, policy_arn: str) -> PolicyDocument:
    version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
    return _document(iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]["Document"])


def _document(document: Any) -> PolicyDocument:
    """boto3 decodes IAM's URL-encoded JSON into a dict; a string means it could not, so parse it."""
    if isinstance(document, str):
        parsed: PolicyDocument = json.loads(unquote(document))
        return parsed
    return dict(document)


# --------------------------------------------------------------------------- Bedrock's model catalog
# Shapes: botocore/data/bedrock/2023-04-20/service-2.json (ListFoundationModels, ListInferenceProfiles,
# GetFoundationModelAvailability). ListFoundationModels has no paginator: one answer lists the region.
MAX_PROFILE_PAGES = 50


def _bedrock(region: str) -> Any:
    # Imported here: only the commands that read Bedrock's model catalog need it (start-up time).
    import boto3

    return boto3.client("bedrock", region_name=region)


def foundation_models(region: str) -> list[Mapping[str, Any]]:
    """Every FoundationModelSummary Bedrock lists in `region` (with `modelLifecycle` when it reports one)."""
    with _aws(f"list Bedrock foundation models in {region}"):
        response = _bedrock(region).list_foundation_models()
    return [dict(m) for m in response.get("modelSummaries", [])]


def system_inference_profiles(region: str) -> list[Mapping[str, Any]]:
    """The SYSTEM_DEFINED (cross-region) inference profiles of `region`: `us.` ids and the models they route to.

    Pages are followed up to MAX_PROFILE_PAGES: a server that never stops answering with new tokens is refused.
    """
    profiles: list[Mapping[str, Any]] = []
    operation = f"list Bedrock inference profiles in {region}"
    with _aws(operation):
        paginator = _bedrock(region).get_paginator("list_inference_profiles")
        for number, page in enumerate(paginator.paginate(typeEquals="SYSTEM_DEFINED"), start=1):
            if number > MAX_PROFILE_PAGES:
                raise AwsError(f"{operation}: more than {MAX_PROFILE_PAGES} pages")
            profiles.extend(dict(p) for p in page.get("inferenceProfileSummaries", []))
    return profiles


def model_availability(region: str, model_ids: Sequence[str]) -> dict[str, Mapping[str, Any] | str]:
    """GetFoundationModelAvailability for each model: the answer, or AWS's error code for that model.

    A denial is about the caller, not the model: the first AccessDeniedException (or a transport failure)
    stops the calls and every remaining model gets the same code.
    """
    answers: dict[str, Mapping[str, Any] | str] = {}
    with _aws(f"read Bedrock model availability in {region}"):
        client = _bedrock(region)
    stopped: str | None = None
    for model_id in model_ids:
        if stopped is not None:
            answers[model_id] = stopped
            continue
        try:
            answers[model_id] = dict(client.get_foundation_model_availability(modelId=model_id))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
            answers[model_id] = code
            if code == "AccessDeniedException":
                stopped = code
        except BotoCoreError as exc:
            stopped = answers[model_id] = type(exc).__name__
    return answers


def budget(account: str, name: str) -> Mapping[str, Any] | None:
    """The AWS Budgets budget `name` of `account` (DescribeBudget), or None when there is no such budget.

    Budgets is a global service served from us-east-1 (AWS Budgets API reference, "Endpoints").
    """
    client = boto3.client("budgets", region_name="us-east-1")
    with _aws(f"cannot read budget {name}"):
        try:
            return dict(client.describe_budget(AccountId=account, BudgetName=name)["Budget"])
        except client.exceptions.NotFoundException:
            return None
