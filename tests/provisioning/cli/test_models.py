"""`managed-llm models` against a Bedrock double on loopback (tests/doubles/bedrock.py: moto has none of the
three APIs), in every format: live-vs-catalog disagreements, Legacy dates, EOL and missing access of used
models failing the command, and AWS refusals as one line or as "access unknown"."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner, Result

from catalog.models import load_catalog
from provisioning.cli.app import CliContext, cli
from tests.conftest import endpoint, write_file
from tests.doubles.aws import FAKE_AWS_ENV
from tests.doubles.bedrock import ANTHROPIC, TITAN, BedrockDouble, availability, bedrock_server, profile, summary

TODAY = date(2026, 12, 1)
SONNET_4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"
SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET_46 = "us.anthropic.claude-sonnet-4-6"
HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
TITAN_ID = "amazon.titan-embed-text-v2:0"


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[BedrockDouble]:
    double = BedrockDouble()
    with bedrock_server(double) as url:
        for name, value in FAKE_AWS_ENV.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", url)
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        # One attempt: a refusal the test injects is not retried with botocore's backoff.
        monkeypatch.setenv("AWS_RETRY_MODE", "standard")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        yield double


def models(*args: str) -> Result:
    context = CliContext(environ={}, today=lambda: TODAY)
    return CliRunner().invoke(cli, ["models", *args], obj=context, catch_exceptions=False)


def as_json(*args: str) -> dict[str, Any]:
    result = models(*args, "-o", "json")
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["exit_code"] == result.exit_code
    return document


def row(document: dict[str, Any], model: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in document["models"] if r["model"] == model)
    return found


def stack_outputs(tmp_path: Path, *models_: str) -> Path:
    path = tmp_path / "stack-outputs.json"
    path.write_text(json.dumps({"region": "us-east-1", "models": list(models_)}))
    return path


def test_models_double_speaks_botocore_shapes() -> None:
    """Every canned body validates against botocore's service model (Stubber refuses any that does not)."""
    client = boto3.client("bedrock", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")  # noqa: S106
    with Stubber(client) as stubber:
        stubber.add_response("list_foundation_models", {"modelSummaries": [*ANTHROPIC, TITAN]})
        stubber.add_response(
            "list_inference_profiles", {"inferenceProfileSummaries": [profile(m["modelId"]) for m in ANTHROPIC]}
        )
        for answer in (availability(TITAN_ID), availability(TITAN_ID, authorized=False, agreement="PENDING")):
            stubber.add_response("get_foundation_model_availability", answer, {"modelId": TITAN_ID})
        assert (
            client.list_foundation_models()["modelSummaries"][1]["modelLifecycle"]["endOfLifeTime"]
            == "2027-04-08T00:00:00Z"
        )
        assert len(client.list_inference_profiles()["inferenceProfileSummaries"]) == len(ANTHROPIC)
        assert client.get_foundation_model_availability(modelId=TITAN_ID)["authorizationStatus"] == "AUTHORIZED"
        assert (
            client.get_foundation_model_availability(modelId=TITAN_ID)["agreementAvailability"]["status"] == "PENDING"
        )


def test_models_every_format_has_a_row_per_model(bedrock: BedrockDouble, tmp_path: Path) -> None:
    file = write_file(
        tmp_path,
        [endpoint("llm", model=SONNET_46), endpoint("embed", TITAN_ID, "text_embedding", provider="amazontitan")],
        [],
    )
    outputs = stack_outputs(tmp_path, SONNET_46, HAIKU)
    args = ("-f", str(file), "--stack-outputs", str(outputs))
    catalog_ids = [m.id for m in load_catalog().models]

    document = as_json(*args)
    assert document["format_version"] == 1
    assert document["region"] == "us-east-1"
    assert document["today"] == "2026-12-01"
    assert [r["model"] for r in document["models"]] == catalog_ids
    assert row(document, SONNET_46)["used_by"] == ["file", "stack"]
    assert row(document, HAIKU)["used_by"] == ["stack"]
    assert row(document, TITAN_ID)["used_by"] == ["file"]
    # Profiles come in pages of 3: every one was read.
    assert row(document, "us.anthropic.claude-opus-4-6-v1")["us_profile"]["regions"] == [
        "us-east-1",
        "us-east-2",
        "us-west-2",
    ]
    assert bedrock.calls.count("ListInferenceProfiles") == 3
    assert document["exit_code"] == 0
    assert document["failures"] == []

    text = models(*args)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0] == "Bedrock models in us-east-1 on 2026-12-01 (live from Bedrock; catalog facts where it is silent)"
    for model in catalog_ids:
        assert any(line.startswith(model + " ") for line in lines), model
    assert lines[-1] == "Models: the 3 model(s) in use are current and accessible."

    markdown = models(*args, "-o", "markdown")
    assert markdown.exit_code == 0
    table = [line for line in markdown.stdout.splitlines() if line.startswith("| `")]
    assert [re.match(r"\| `([^`]+)`", line)[1] for line in table] == catalog_ids  # type: ignore[index]
    assert markdown.stdout.startswith("### Bedrock models in us-east-1 on 2026-12-01: the 3 model(s) in use")
    sonnet = next(line for line in table if line.startswith(f"| `{SONNET_46}`"))
    assert sonnet.endswith("| ACTIVE | - | :white_check_mark: granted | 3.3 / 16.5 | file, stack |")


def test_models_shows_where_bedrock_and_the_catalog_disagree(bedrock: BedrockDouble) -> None:
    haiku = bedrock.model("anthropic.claude-haiku-4-5-20251001-v1:0")
    haiku["modelLifecycle"] = {"status": "LEGACY", "legacyTime": "2026-11-20T00:00:00Z"}
    sonnet = bedrock.model("anthropic.claude-sonnet-4-5-20250929-v1:0")
    sonnet["modelLifecycle"]["endOfLifeTime"] = "2027-05-01T00:00:00Z"

    document = as_json()
    lifecycle = row(document, HAIKU)["lifecycle"]
    assert (lifecycle["state"], lifecycle["bedrock"], lifecycle["catalog"]) == ("LEGACY", "LEGACY", "ACTIVE")
    assert lifecycle["legacy"] == {"bedrock": "2026-11-20", "catalog": None}
    assert row(document, SONNET_45)["lifecycle"]["eol"] == {"bedrock": "2027-05-01", "catalog": "2027-04-08"}

    text = models().stdout
    assert "LEGACY (catalog: ACTIVE)" in text
    assert "EOL 2027-05-01 (catalog: 2027-04-08)" in text
    markdown = models("-o", "markdown").stdout
    assert "**LEGACY (catalog: ACTIVE)**" in markdown
    assert "EOL 2027-05-01 (catalog: 2027-04-08)" in markdown


def test_models_legacy_is_listed_with_its_dates_and_does_not_fail(bedrock: BedrockDouble, tmp_path: Path) -> None:
    outputs = stack_outputs(tmp_path, SONNET_45)
    document = as_json("--stack-outputs", str(outputs))
    lifecycle = row(document, SONNET_45)["lifecycle"]
    assert lifecycle["state"] == "LEGACY"
    assert lifecycle["legacy"]["bedrock"] == "2026-10-08"
    assert lifecycle["public_extended_access"]["bedrock"] == "2027-01-08"
    assert lifecycle["eol"]["bedrock"] == "2027-04-08"
    assert lifecycle["successor"] == SONNET_46
    assert document["exit_code"] == 0
    text = models("--stack-outputs", str(outputs))
    assert text.exit_code == 0
    line = next(line for line in text.stdout.splitlines() if line.startswith(SONNET_45))
    assert "LEGACY" in line
    assert "legacy 2026-10-08" in line


def test_models_a_used_model_past_eol_fails(bedrock: BedrockDouble, tmp_path: Path) -> None:
    """Past EOL by the catalog's date (Bedrock still says LEGACY), in the stack's allow-list: exit 1."""
    outputs = stack_outputs(tmp_path, SONNET_4, SONNET_46)
    result = models("--stack-outputs", str(outputs))
    assert result.exit_code == 1, result.output
    assert "EOL (Bedrock: LEGACY)" in result.stdout
    assert f"FAIL {SONNET_4} is past EOL (since 2026-10-14); successor {SONNET_46}" in result.stdout
    assert result.stdout.splitlines()[-1] == "Models: 1 problem(s) with the 2 model(s) in use; FAILED."
    assert result.stderr == ""


def test_models_live_eol_date_fails_a_used_model_the_catalog_calls_active(
    bedrock: BedrockDouble, tmp_path: Path
) -> None:
    bedrock.model("anthropic.claude-haiku-4-5-20251001-v1:0")["modelLifecycle"] = {
        "status": "LEGACY",
        "legacyTime": "2026-05-01T00:00:00Z",
        "endOfLifeTime": "2026-11-30T00:00:00Z",
    }
    file = write_file(tmp_path, [endpoint("fast", model=HAIKU)], [])
    document = as_json("-f", str(file))
    assert row(document, HAIKU)["lifecycle"]["state"] == "EOL"
    assert document["failures"] == [f"{HAIKU} is past EOL (since 2026-11-30)"]
    assert document["exit_code"] == 1


def test_models_eol_or_inaccessible_models_nobody_uses_do_not_fail(bedrock: BedrockDouble) -> None:
    """The catalog holds Claude 3.7 Sonnet (EOL, not listed) and Claude Sonnet 4 (EOL): shown, not failing."""
    bedrock.access["anthropic.claude-opus-4-6-v1"] = availability("anthropic.claude-opus-4-6-v1", authorized=False)
    document = as_json()
    assert row(document, "us.anthropic.claude-3-7-sonnet-20250219-v1:0")["problems"]
    assert row(document, "us.anthropic.claude-opus-4-6-v1")["access"]["state"] == "not granted"
    assert document["exit_code"] == 0


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            availability("anthropic.claude-sonnet-4-6", authorized=False),
            "not authorized (authorizationStatus NOT_AUTHORIZED)",
        ),
        (
            availability("anthropic.claude-sonnet-4-6", entitled=False, in_region=False),
            "no entitlement (entitlementAvailability NOT_AVAILABLE); "
            "not available in us-east-1 (regionAvailability NOT_AVAILABLE)",
        ),
        (availability("anthropic.claude-sonnet-4-6", agreement="PENDING"), "model agreement PENDING"),
    ],
)
def test_models_a_used_model_without_access_fails(
    bedrock: BedrockDouble, tmp_path: Path, answer: dict[str, Any], reason: str
) -> None:
    bedrock.access["anthropic.claude-sonnet-4-6"] = answer
    file = write_file(tmp_path, [endpoint("llm", model=SONNET_46)], [])
    document = as_json("-f", str(file))
    assert row(document, SONNET_46)["access"] == {"state": "not granted", "reason": reason}
    assert document["failures"] == [f"{SONNET_46}: no access ({reason})"]
    result = models("-f", str(file), "-o", "markdown")
    assert result.exit_code == 1
    assert f"> :x: {SONNET_46}: no access ({reason})" in result.stdout


def test_models_a_used_model_bedrock_does_not_list_fails(bedrock: BedrockDouble, tmp_path: Path) -> None:
    bedrock.models = [m for m in bedrock.models if m["modelId"] != "anthropic.claude-sonnet-4-6"]
    bedrock.profiles = [p for p in bedrock.profiles if p["inferenceProfileId"] != SONNET_46]
    document = as_json("--stack-outputs", str(stack_outputs(tmp_path, SONNET_46)))
    assert row(document, SONNET_46)["access"] == {
        "state": "not granted",
        "reason": "not listed by Bedrock in us-east-1",
    }
    assert row(document, SONNET_46)["us_profile"]["regions"] is None
    assert document["exit_code"] == 1


def test_models_a_used_profile_bedrock_does_not_list_fails(bedrock: BedrockDouble, tmp_path: Path) -> None:
    bedrock.profiles = [p for p in bedrock.profiles if p["inferenceProfileId"] != SONNET_46]
    document = as_json("--stack-outputs", str(stack_outputs(tmp_path, SONNET_46)))
    assert row(document, SONNET_46)["access"]["reason"] == f"inference profile {SONNET_46} not listed in us-east-1"
    assert document["exit_code"] == 1


def test_models_availability_denied_is_unknown_not_a_crash(bedrock: BedrockDouble, tmp_path: Path) -> None:
    bedrock.fail("GetFoundationModelAvailability", "AccessDeniedException", 403)
    file = write_file(tmp_path, [endpoint("llm", model=SONNET_46)], [])
    result = models("-f", str(file))
    assert result.exit_code == 0, result.output
    assert "unknown (bedrock:GetFoundationModelAvailability denied)" in result.stdout
    assert "note: access unknown: bedrock:GetFoundationModelAvailability denied" in result.stdout
    assert result.stderr == ""
    # The denial is about the caller: asked once, not once per model.
    assert bedrock.calls.count("GetFoundationModelAvailability") == 1
    document = as_json("-f", str(file))
    assert row(document, SONNET_46)["access"] == {
        "state": "unknown",
        "reason": "bedrock:GetFoundationModelAvailability denied",
    }


@pytest.mark.parametrize(
    ("operation", "code", "status", "message"),
    [
        (
            "ListFoundationModels",
            "AccessDeniedException",
            403,
            "error: list Bedrock foundation models in us-east-1: AccessDeniedException",
        ),
        (
            "ListInferenceProfiles",
            "ThrottlingException",
            429,
            "error: list Bedrock inference profiles in us-east-1: ThrottlingException",
        ),
    ],
)
def test_models_a_refused_listing_is_one_line(
    bedrock: BedrockDouble, operation: str, code: str, status: int, message: str
) -> None:
    bedrock.echo = True
    bedrock.fail(operation, code, status)
    for output in ("text", "json", "markdown"):
        result = models("-o", output)
        assert result.exit_code == 1
        assert result.stderr == message + "\n"
        assert result.stdout == ""


def test_models_throttling_once_is_retried(bedrock: BedrockDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    original = bedrock.handle
    throttled: list[str] = []

    def once(request: Any) -> Any:
        if request.path == "/foundation-models" and not throttled:
            throttled.append(request.path)
            return bedrock._error(request, 429, "ThrottlingException", "slow down")
        return original(request)

    monkeypatch.setattr(bedrock, "handle", once)
    result = models("-o", "json")
    assert result.exit_code == 0, result.output
    assert throttled


def test_models_server_strings_are_shown_printable_and_clipped(bedrock: BedrockDouble) -> None:
    bedrock.model("anthropic.claude-opus-4-6-v1")["modelLifecycle"] = {"status": "RETIRING\x1b[31m" + "x" * 500}
    document = as_json()
    shown = row(document, "us.anthropic.claude-opus-4-6-v1")["lifecycle"]["state"]
    assert "\x1b" not in shown
    assert shown.startswith("RETIRING?[31m")
    assert len(shown) == 120


def test_models_a_model_outside_the_catalog_gets_a_row(bedrock: BedrockDouble, tmp_path: Path) -> None:
    bedrock.models.append(summary("meta.llama3-3-70b-instruct-v1:0"))
    bedrock.profiles.append(profile("meta.llama3-3-70b-instruct-v1:0"))
    bedrock.access["meta.llama3-3-70b-instruct-v1:0"] = availability("meta.llama3-3-70b-instruct-v1:0")
    llama = "us.meta.llama3-3-70b-instruct-v1:0"
    document = as_json("--stack-outputs", str(stack_outputs(tmp_path, llama)))
    found = row(document, llama)
    assert document["models"][-1]["model"] == llama
    assert (found["name"], found["task_types"], found["price_per_million"]) == (None, [], None)
    assert found["lifecycle"]["state"] == "ACTIVE"
    assert found["access"]["state"] == "granted"
    assert found["us_profile"] == {"id": llama, "regions": ["us-east-1", "us-east-2", "us-west-2"]}
    assert document["exit_code"] == 0


@pytest.mark.parametrize(
    ("args", "region"),
    [((), "us-east-1"), (("--region", "us-west-2"), "us-west-2")],
)
def test_models_region_defaults_to_the_stack_then_the_option_wins(
    bedrock: BedrockDouble, tmp_path: Path, args: tuple[str, ...], region: str
) -> None:
    outputs = tmp_path / "stack-outputs.json"
    outputs.write_text(json.dumps({"region": "us-east-1"}))
    assert as_json("--stack-outputs", str(outputs), *args)["region"] == region


def test_models_refuses_a_region_outside_the_us(bedrock: BedrockDouble, tmp_path: Path) -> None:
    outputs = tmp_path / "stack-outputs.json"
    outputs.write_text(json.dumps({"region": "eu-west-1"}))
    result = models("--stack-outputs", str(outputs))
    assert result.exit_code == 1
    assert result.stderr == "error: region 'eu-west-1': managed-llm works in us-east-1, us-east-2, us-west-2 only\n"
    assert bedrock.calls == []


def test_models_a_hostile_stack_model_id_is_shown_printable(bedrock: BedrockDouble, tmp_path: Path) -> None:
    hostile = "us.anthropic.evil\x1b]0;owned\x07|`x" + "y" * 300
    document = as_json("--stack-outputs", str(stack_outputs(tmp_path, hostile)))
    found = document["models"][-1]
    assert found["model"].startswith("us.anthropic.evil?]0;owned?|`x")
    assert len(found["model"]) == 120
    assert found["access"] == {"state": "not granted", "reason": "not listed by Bedrock in us-east-1"}
    assert document["exit_code"] == 1
    text = models("--stack-outputs", str(stack_outputs(tmp_path, hostile)))
    assert "\x1b" not in text.stdout
    assert "\x07" not in text.stdout
    markdown = models("--stack-outputs", str(stack_outputs(tmp_path, hostile)), "-o", "markdown").stdout
    assert "| `us.anthropic.evil?]0;owned?\\|'x" in markdown
