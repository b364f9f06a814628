"""`usage --by deployment|model|day` and the metrics/logs cross-check against moto.

The stack outputs carry a `deployments` map (issue 13's contract); CloudWatch is seeded per application
profile id (the `ModelId` dimension of calls through a profile, docs/research/many-deployments-2026-12.md §1)
and CloudWatch Logs with invocation records shaped as §2 of the same file. Expected figures are sums over the
seeded calls, never numbers copied from the output.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import boto3
import pytest
from click.testing import Result

from catalog.models import load_catalog
from tests.conftest import V1, V2, Cli
from tests.doubles.aws import moto_server, point_boto3_at, reset

ACCOUNT = "123456789012"
REGION = "us-east-1"
GROUP = "/managed-llm/test/bedrock-invocations"
STREAM = "aws/bedrock/modelinvocations"


def profile_arn(profile_id: str) -> str:
    return f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/{profile_id}"


def principal(deployment: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/managed-llm-{deployment}"


PROFILES = {"team-a": {V2: "aaa111", V1: "bbb222"}, "team-b": {V2: "ccc333"}}
# Moto keeps log events of the last 14 days only (as CloudWatch Logs does): the days are relative to today.
TODAY = datetime.now(UTC).date()
DAYS = [TODAY - timedelta(days=n) for n in (3, 2, 1)]


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


@dataclass(frozen=True)
class Call:
    deployment: str
    model: str
    day: date
    input_tokens: int
    output_tokens: int


CALLS = [
    Call("team-a", V2, DAYS[0], 1000, 200),
    Call("team-a", V2, DAYS[0], 3000, 100),
    Call("team-a", V2, DAYS[1], 500, 50),
    Call("team-a", V1, DAYS[2], 1_000_000, 100_000),
    Call("team-b", V2, DAYS[1], 2000, 400),
    Call("team-b", V2, DAYS[2], 7000, 700),
]
# Failures reach the metrics but make no difference to the cross-check, which compares calls and tokens.
ERRORS = [("team-a", V2, DAYS[0], "InvocationClientErrors", 2), ("team-b", V2, DAYS[2], "InvocationServerErrors", 1)]
THROTTLES = [("team-b", V2, DAYS[1], 3)]


def put_metric(model_id: str, metric: str, when: datetime, value: float) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/Bedrock",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "ModelId", "Value": model_id}],
                "Timestamp": when,
                "Value": value,
            }
        ],
    )


def record(call: Call, *, model_id: str | None = None, identity: str | None = None) -> dict[str, object]:
    """A metadata-only invocation record as §2 of the research lists its fields (no body fields)."""
    return {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": noon(call.day).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "accountId": ACCOUNT,
        "identity": {"arn": identity or principal(call.deployment)},
        "region": REGION,
        "requestId": "r",
        "operation": "Converse",
        "modelId": model_id or profile_arn(PROFILES[call.deployment][call.model]),
        "input": {"inputContentType": "application/json", "inputTokenCount": call.input_tokens},
        "output": {"outputContentType": "application/json", "outputTokenCount": call.output_tokens},
    }


def put_records(records: list[dict[str, object]]) -> None:
    logs = boto3.client("logs", region_name=REGION)
    events = [
        {
            "timestamp": int(datetime.fromisoformat(str(r["timestamp"]).replace("Z", "+00:00")).timestamp() * 1000),
            "message": json.dumps(r),
        }
        for r in records
    ]
    logs.put_log_events(
        logGroupName=GROUP, logStreamName=STREAM, logEvents=sorted(events, key=lambda e: e["timestamp"])
    )


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@dataclass
class Usage:
    outputs: Path
    run: Cli

    def __call__(self, *extra: str) -> Result:
        since, until = DAYS[0].isoformat(), TODAY.isoformat()
        return self.run("usage", "--stack-outputs", str(self.outputs), "--since", since, "--until", until, *extra)


def outputs(deployments: bool = True) -> dict[str, object]:
    document: dict[str, object] = {
        "region": REGION,
        "models": [V2, V1],
        "elasticsearchPrincipalArn": principal("team-a"),
        "logGroupName": GROUP,
    }
    if deployments:
        document["deployments"] = {
            name: {
                "elasticsearchPrincipalArn": principal(name),
                "credentialsSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}",
                "inferenceProfiles": {model: profile_arn(pid) for model, pid in profiles.items()},
                "monthlyBudgetUsd": None,
                "budgetName": None,
            }
            for name, profiles in PROFILES.items()
        }
    return document


@pytest.fixture
def seeded(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Usage:
    reset(moto_url)
    point_boto3_at(monkeypatch, moto_url)
    for call in CALLS:
        profile = PROFILES[call.deployment][call.model]
        put_metric(profile, "Invocations", noon(call.day), 1)
        put_metric(profile, "InputTokenCount", noon(call.day), call.input_tokens)
        put_metric(profile, "OutputTokenCount", noon(call.day), call.output_tokens)
    for deployment, model, day, metric, count in ERRORS:
        put_metric(PROFILES[deployment][model], metric, noon(day), count)
    for deployment, model, day, count in THROTTLES:
        put_metric(PROFILES[deployment][model], "InvocationThrottles", noon(day), count)
    # Traffic on the shared `us.` profile id is no deployment's: it must not land in any deployment's totals.
    put_metric(V2, "Invocations", noon(DAYS[0]), 1000)
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    path = tmp_path / "stack-outputs.json"
    path.write_text(json.dumps(outputs()))
    return Usage(path, Cli({}))


def price_cost(model: str, tokens_in: int, tokens_out: int) -> float:
    price = load_catalog().default_prices()[model]
    return (tokens_in * price.input + tokens_out * price.output) / 1_000_000


def expected(*keys: str) -> dict[tuple[str, ...], dict[str, float]]:
    """The seeded calls summed per group of `keys` (deployment, model, day)."""
    sums: dict[tuple[str, ...], dict[str, float]] = {}

    def add(key: tuple[str, ...], name: str, value: float) -> None:
        bucket = sums.setdefault(
            key, dict.fromkeys(("invocations", "errors", "throttles", "input_tokens", "output_tokens", "cost_usd"), 0)
        )
        bucket[name] += value

    def key_of(deployment: str, model: str, day: date) -> tuple[str, ...]:
        values = {"deployment": deployment, "model": model, "day": day.isoformat()}
        return tuple(values[k] for k in keys)

    for call in CALLS:
        key = key_of(call.deployment, call.model, call.day)
        add(key, "invocations", 1)
        add(key, "input_tokens", call.input_tokens)
        add(key, "output_tokens", call.output_tokens)
        add(key, "cost_usd", price_cost(call.model, call.input_tokens, call.output_tokens))
    for deployment, model, day, _, count in ERRORS:
        add(key_of(deployment, model, day), "errors", count)
    for deployment, model, day, count in THROTTLES:
        add(key_of(deployment, model, day), "throttles", count)
    return sums


def groups(result: Result, *keys: str) -> dict[tuple[str, ...], dict[str, float]]:
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["format_version"] == 1
    assert document["by"] == list(keys)
    return {tuple(g[k] for k in keys): {n: v for n, v in g.items() if n not in keys} for g in document["groups"]}


def close(actual: dict[tuple[str, ...], dict[str, float]], wanted: dict[tuple[str, ...], dict[str, float]]) -> None:
    for key, figures in wanted.items():
        assert {n: v for n, v in actual[key].items() if n != "cost_usd"} == {
            n: v for n, v in figures.items() if n != "cost_usd"
        }, key
        assert actual[key]["cost_usd"] == pytest.approx(figures["cost_usd"], abs=1e-6), key


def test_usage_by_deployment_totals_are_the_seeded_sums(seeded: Usage) -> None:
    found = groups(seeded("--by", "deployment", "-o", "json"), "deployment")
    assert set(found) == {("team-a",), ("team-b",)}
    close(found, expected("deployment"))


def test_usage_by_deployment_and_model(seeded: Usage) -> None:
    wanted = expected("deployment", "model")
    for flags in (("--by", "deployment,model"), ("--by", "deployment", "--by", "model")):
        found = groups(seeded(*flags, "-o", "json"), "deployment", "model")
        assert set(found) == set(wanted) == {("team-a", V2), ("team-a", V1), ("team-b", V2)}
        close(found, wanted)


def test_usage_by_day(seeded: Usage) -> None:
    found = groups(seeded("--by", "day", "-o", "json"), "day")
    assert [k[0] for k in found] == [d.isoformat() for d in DAYS]
    close(found, expected("day"))


def test_usage_by_model_sums_the_deployments_of_a_model(seeded: Usage) -> None:
    document = json.loads(seeded("-o", "json").stdout)
    by_model = {m["model"]: m["totals"] for m in document["models"]}
    assert by_model[V2]["invocations"] == sum(1 for c in CALLS if c.model == V2)
    close(groups(seeded("-o", "json"), "model"), expected("model"))


def test_usage_refuses_an_unknown_grouping(seeded: Usage) -> None:
    result = seeded("--by", "deployment,team")
    assert result.exit_code == 1
    assert result.stderr == "error: --by: 'team' is not one of deployment, model, day\n"


def test_usage_without_deployments_groups_under_default(seeded: Usage) -> None:
    seeded.outputs.write_text(json.dumps(outputs(deployments=False)))
    put_metric(V2, "InputTokenCount", noon(DAYS[0]), 5)
    result = seeded("--by", "deployment", "-o", "json")
    found = groups(result, "deployment")
    assert list(found) == [("default",)]
    assert found[("default",)]["invocations"] == 1000  # the seeded `us.` profile traffic, the stack's models
    assert json.loads(result.stdout)["notes"] == [
        "no `deployments` in the stack outputs: all usage is grouped under `default`"
    ]


@pytest.mark.parametrize("by", ["deployment", "deployment,model", "day", "model,day"])
def test_usage_renders_in_every_format(seeded: Usage, by: str) -> None:
    dimensions = by.split(",")
    text = seeded("--by", by)
    assert text.exit_code == 0, text.output
    header = next(line for line in text.stdout.splitlines() if line.startswith(dimensions[0]))
    assert header.split()[: len(dimensions)] == dimensions
    assert ("team-a" in text.stdout) == ("deployment" in dimensions)
    markdown = seeded("--by", by, "-o", "markdown")
    assert markdown.exit_code == 0
    assert f"| {' | '.join(dimensions)} | invocations |" in markdown.stdout
    assert "| **total** |" in markdown.stdout
    table = list(csv.DictReader(io.StringIO(seeded("--by", by, "-o", "csv").stdout)))
    columns = [*(d for d in dimensions if d != "day"), "day"]
    assert list(table[0])[: len(columns)] == columns
    assert sum(int(row["invocations"]) for row in table) == len(CALLS)
    assert sum(float(row["cost_usd"]) for row in table) == pytest.approx(
        sum(price_cost(c.model, c.input_tokens, c.output_tokens) for c in CALLS), abs=1e-4
    )


def test_cross_check_agrees_when_logs_match_metrics(seeded: Usage) -> None:
    put_records([record(call) for call in CALLS])
    result = seeded("--by", "deployment", "--cross-check", "-o", "json")
    assert json.loads(result.stdout)["notes"] == [
        f"cross-check: metrics and invocation logs agree (3 series, {len(CALLS)} records)"
    ]
    text = seeded("--by", "deployment", "--cross-check")
    assert text.stdout.splitlines()[-1].startswith("note: cross-check: metrics and invocation logs agree")


def test_cross_check_reports_disagreements_as_notes(seeded: Usage) -> None:
    extra = Call("team-b", V2, DAYS[2], 10, 1)
    bypass = Call("team-a", V2, DAYS[1], 1, 1)
    put_records(
        [
            *(record(call) for call in CALLS),
            record(extra),
            # team-a's key used on the shared `us.` profile: attributed by principal, invisible per profile.
            record(bypass, model_id=f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{V2}"),
            # another workload of the account: not ours, ignored
            record(bypass, model_id=V1, identity=f"arn:aws:iam::{ACCOUNT}:user/someone-else"),
        ]
    )
    result = seeded("--by", "deployment", "--cross-check", "-o", "csv")
    assert result.exit_code == 0, result.output
    b_metrics = [c for c in CALLS if c.deployment == "team-b"]
    assert result.stderr.splitlines() == [
        f"note: cross-check: team-b/{V2}: invocations {len(b_metrics)} in metrics, {len(b_metrics) + 1} in logs",
        f"note: cross-check: team-b/{V2}: input tokens {sum(c.input_tokens for c in b_metrics):,} in metrics, "
        f"{sum(c.input_tokens for c in b_metrics) + 10:,} in logs",
        f"note: cross-check: team-b/{V2}: output tokens {sum(c.output_tokens for c in b_metrics):,} in metrics, "
        f"{sum(c.output_tokens for c in b_metrics) + 1:,} in logs",
        "note: cross-check: 1 calls by deployment team-a's principal did not go through its application profiles "
        "(in the logs, not in its metrics)",
    ]
    assert list(csv.DictReader(io.StringIO(result.stdout)))  # the CSV itself stays parseable


def test_cross_check_does_not_compare_missing_token_counts(seeded: Usage) -> None:
    records = [record(call) for call in CALLS]
    for r in records:
        r["input"] = {"inputContentType": "application/json"}  # what a record without token counts would be
    put_records(records)
    notes = json.loads(seeded("--cross-check", "-o", "json").stdout)["notes"]
    assert f"cross-check: team-a/{V2}: 3 of 3 log records carry no token counts; tokens not compared" in notes
    assert not any("in metrics" in n for n in notes)


def test_cross_check_without_a_log_group_is_a_note(seeded: Usage) -> None:
    document = outputs()
    del document["logGroupName"]
    seeded.outputs.write_text(json.dumps(document))
    result = seeded("--cross-check", "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["notes"] == [
        "cross-check skipped: no invocation log group known (pass --stack-outputs)"
    ]
