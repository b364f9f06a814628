"""Secrets: where Bedrock keys come from, and that no key, password or API key ever reaches the output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import BEDROCK_ENV, Cli, endpoint, mapping, write_file
from tests.doubles.aws import moto_server, point_boto3_at
from tests.doubles.es_double import API_KEY_SECRET, EsDouble, encoded_api_key

pytestmark = pytest.mark.double_only

SECRET_KEY_ID = "AKIASECRETSMANAGER01"  # noqa: S105 (test fixture)
SECRET_ACCESS_KEY = "from-secrets-manager-never-printed-9876543210"  # noqa: S105 (test fixture)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def secret_arn(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    point_boto3_at(monkeypatch, moto_url)
    client = boto3.client("secretsmanager", region_name="us-east-1")
    name = f"managed-llm-bedrock-{id(monkeypatch)}"
    created = client.create_secret(
        Name=name, SecretString=json.dumps({"access_key_id": SECRET_KEY_ID, "secret_access_key": SECRET_ACCESS_KEY})
    )
    return str(created["ARN"])


def everything_printed(*results: object) -> str:
    return "\n".join(f"{r.stdout}\n{r.stderr}" for r in results)  # type: ignore[attr-defined]


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"secret leaked: {secret[:4]}..."


def test_credentials_come_from_the_stack_secret(double: EsDouble, secret_arn: str, tmp_path: Path) -> None:
    file = write_file(
        tmp_path, [endpoint("llm")], [], bedrock={"region": "us-east-1", "credentials": {"secret_arn": secret_arn}}
    )
    run = Cli(double.env())  # no BEDROCK_* in the environment
    planned = run("plan", "-f", str(file))
    assert f"from Secrets Manager secret {secret_arn}" in planned.stdout
    applied = run("apply", "-f", str(file))
    assert applied.exit_code == 0, applied.output
    stored = double.cluster.endpoints["llm"].service_settings
    assert (stored["access_key"], stored["secret_key"]) == (SECRET_KEY_ID, SECRET_ACCESS_KEY)
    assert_no_secret(everything_printed(planned, applied), SECRET_KEY_ID, SECRET_ACCESS_KEY)


def test_environment_credentials_win_over_the_secret(double: EsDouble, secret_arn: str, tmp_path: Path) -> None:
    file = write_file(
        tmp_path, [endpoint("llm")], [], bedrock={"region": "us-east-1", "credentials": {"secret_arn": secret_arn}}
    )
    assert Cli(double.env(**BEDROCK_ENV))("apply", "-f", str(file)).exit_code == 0
    assert double.cluster.endpoints["llm"].service_settings["access_key"] == BEDROCK_ENV["BEDROCK_ACCESS_KEY_ID"]


def test_an_unreadable_secret_stops_apply_before_any_write(
    double: EsDouble, moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    point_boto3_at(monkeypatch, moto_url)
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist-AbCdEf"
    file = write_file(
        tmp_path,
        [endpoint("llm")],
        [mapping("users")],
        bedrock={"region": "us-east-1", "credentials": {"secret_arn": arn}},
    )
    result = Cli(double.env())("apply", "-f", str(file))
    assert result.exit_code == 1
    assert result.stderr == f"error: cannot read secret {arn}: ResourceNotFoundException\n"
    assert double.writes() == []


def test_a_secret_without_the_expected_keys_is_refused(
    double: EsDouble, moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    point_boto3_at(monkeypatch, moto_url)
    created = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="not-json-creds", SecretString="just-a-password-string"
    )
    file = write_file(
        tmp_path, [endpoint("llm")], [], bedrock={"region": "us-east-1", "credentials": {"secret_arn": created["ARN"]}}
    )
    result = Cli(double.env())("apply", "-f", str(file))
    assert result.exit_code == 1
    assert result.stderr == f"error: secret {created['ARN']} is not JSON with access_key_id and secret_access_key\n"
    assert "just-a-password-string" not in result.output
    assert double.writes() == []


def test_no_credentials_blocks_creates_but_not_plan_or_mapping_only_applies(double: EsDouble, tmp_path: Path) -> None:
    run = Cli(double.env())
    file = write_file(tmp_path, [endpoint("llm")], [mapping("users")])
    assert run("plan", "-f", str(file)).exit_code == 2
    result = run("apply", "-f", str(file))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: no Bedrock credentials: set BEDROCK_ACCESS_KEY_ID/BEDROCK_SECRET_ACCESS_KEY"
    )
    assert double.writes() == []
    mappings_only = write_file(tmp_path, [], [mapping("users")])
    assert run("apply", "-f", str(mappings_only)).exit_code == 0


def test_half_set_environment_credentials_are_refused(double: EsDouble, tmp_path: Path) -> None:
    env = double.env(BEDROCK_ACCESS_KEY_ID="AKIAONLYTHEIDISSET01")
    result = Cli(env)("apply", "-f", str(write_file(tmp_path, [endpoint("llm")], [])))
    assert result.exit_code == 1
    assert result.stderr == "error: set both BEDROCK_ACCESS_KEY_ID and BEDROCK_SECRET_ACCESS_KEY, or neither\n"
    assert double.writes() == []


def test_no_secret_in_any_output_of_any_command(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    file = write_file(tmp_path, [endpoint("llm"), endpoint("llm-2")], [mapping("users")])
    results = [
        run("plan", "-f", str(file)),
        run("plan", "-f", str(file), "-o", "json"),
        run("apply", "-f", str(file), "-o", "json"),
        run("apply", "-f", str(file)),
    ]
    double.cluster.bedrock_failures[endpoint("x")["model"]] = "denied"
    double.cluster.endpoints.pop("llm")
    results.append(run("apply", "-f", str(file)))  # a failing create
    assert results[-1].exit_code == 1
    results.append(
        Cli(double.env(**BEDROCK_ENV) | {"ELASTICSEARCH_API_KEY": encoded_api_key("nobody")})("plan", "-f", str(file))
    )
    assert_no_secret(
        everything_printed(*results),
        BEDROCK_ENV["BEDROCK_SECRET_ACCESS_KEY"],
        BEDROCK_ENV["BEDROCK_ACCESS_KEY_ID"],
        API_KEY_SECRET,
        encoded_api_key("admin"),
        encoded_api_key("nobody"),
    )
    assert double.cluster.received_secrets, "the double saw the secrets, so the check above means something"


def test_secrets_echoed_by_the_server_are_redacted(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    leaked = BEDROCK_ENV["BEDROCK_SECRET_ACCESS_KEY"]
    double.cluster.bedrock_failures[endpoint("x")["model"]] = f"The security token {leaked} is invalid"
    result = run("apply", "-f", str(write_file(tmp_path, [endpoint("llm")], [])))
    assert result.exit_code == 1
    assert "The security token *** is invalid" in result.stdout
    assert_no_secret(everything_printed(result), leaked)


# ---------------------------------------------------------------------------- where a cluster's secrets go

CI_TOKEN = "pul-ci-token-never-printed-31337"  # noqa: S105 (test fixture)


@pytest.mark.parametrize(
    ("cluster", "where", "expected"),
    [
        (
            {"url_env": "CI_COMMIT_TITLE", "api_key_env": "MANAGED_LLM_PROD_API_KEY"},
            "clusters[0].url_env",
            "must be MANAGED_LLM_PROD_URL",
        ),
        (
            {"url_env": "MANAGED_LLM_PROD_URL", "api_key_env": "ELASTICSEARCH_API_KEY"},
            "clusters[0].api_key_env",
            "must be MANAGED_LLM_PROD_API_KEY",
        ),
        (
            {"url_env": "MANAGED_LLM_PROD_URL", "ca_certs_env": "PULUMI_ACCESS_TOKEN"},
            "clusters[0].ca_certs_env",
            "must be MANAGED_LLM_PROD_CA_CERTS",
        ),
        (
            {"url_env": "MANAGED_LLM_PROD_URL", "ca_certs_env": "MANAGED_LLM_PROD_API_KEY"},
            "clusters[0].ca_certs_env",
            "must be MANAGED_LLM_PROD_CA_CERTS",
        ),
        (
            {"url_env": "MANAGED_LLM_OTHER_URL", "api_key_env": "MANAGED_LLM_PROD_API_KEY"},
            "clusters[0].url_env",
            "must be MANAGED_LLM_PROD_URL",
        ),
    ],
)
def test_the_file_cannot_choose_where_a_secret_goes(
    double: EsDouble, tmp_path: Path, cluster: dict[str, str], where: str, expected: str
) -> None:
    file = write_file(tmp_path, [endpoint("llm")], [], clusters=[{"name": "prod", **cluster}])
    env = double.env() | {
        "CI_COMMIT_TITLE": double.url,
        "PULUMI_ACCESS_TOKEN": CI_TOKEN,
        "MANAGED_LLM_PROD_URL": double.url,
        "MANAGED_LLM_OTHER_URL": double.url,
        "MANAGED_LLM_PROD_API_KEY": encoded_api_key("admin"),
    }
    for command in (["validate"], ["plan"], ["plan", "-o", "markdown"]):
        result = Cli(env)(*command, "-f", str(file))
        assert result.exit_code == 1
        assert result.stderr.startswith(f"error: {file}:"), result.stderr
        assert f"{where}: {expected}: a cluster reads only its own MANAGED_LLM_<NAME>_<ROLE> variables" in result.stderr
        assert_no_secret(everything_printed(result), CI_TOKEN, encoded_api_key("admin"))
    assert double.requests == []


def test_cluster_names_cannot_share_variables(tmp_path: Path, double: EsDouble) -> None:
    twins = [
        {"name": "prod-us", "url_env": "MANAGED_LLM_PROD_US_URL"},
        {"name": "prod_us", "url_env": "MANAGED_LLM_PROD_US_URL"},
    ]
    result = Cli(double.env())("validate", "-f", str(write_file(tmp_path, [], [], clusters=twins)))
    assert result.exit_code == 1
    assert "duplicate cluster variable prefix (items 0 and 1)" in result.stderr
    shadow = [{"name": "prod-kibana", "url_env": "MANAGED_LLM_PROD_KIBANA_URL"}]
    result = Cli(double.env())("validate", "-f", str(write_file(tmp_path, [], [], clusters=shadow)))
    assert result.exit_code == 1
    assert "must not end in -kibana" in result.stderr


def test_a_value_that_fails_validation_is_not_echoed(double: EsDouble, tmp_path: Path) -> None:
    pasted = "wJalrXUtnFEMI-pasted-into-region-0123"
    file = write_file(tmp_path, [], [], bedrock={"region": pasted})
    result = Cli(double.env())("validate", "-f", str(file))
    assert result.exit_code == 1
    assert "bedrock.region: not an allowed Bedrock region" in result.stderr
    assert pasted not in result.output


# ---------------------------------------------------------------------------- unexpected errors


def boom(secret: str) -> Any:
    def raiser(*_: object, **__: object) -> Any:
        raise RuntimeError(f"unexpected state while holding {secret}")

    return raiser


@pytest.mark.internal_error
def test_an_unexpected_exception_is_one_redacted_line(
    run: Cli, double: EsDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = BEDROCK_ENV["BEDROCK_SECRET_ACCESS_KEY"]
    monkeypatch.setattr("provisioning.core.planning.make_plan", boom(secret))
    file = write_file(tmp_path, [endpoint("llm")], [])
    result = run("plan", "-f", str(file))
    assert result.exit_code == 1
    assert result.stderr == (
        "error: internal error: RuntimeError: unexpected state while holding ***; run with --debug for details\n"
    )
    debug = run("--debug", "plan", "-f", str(file))
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.endswith("run with --debug for details\n")
    assert_no_secret(everything_printed(result, debug), secret)


@pytest.mark.internal_error
def test_an_unexpected_exception_in_one_cluster_does_not_stop_the_others(
    double: EsDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import provisioning.core.planning

    real = provisioning.core.planning.make_plan

    def flaky(desired: Any, client: Any, options: Any, target: str, **kw: Any) -> Any:
        if client.settings.url.endswith("/broken"):
            raise KeyError("a bug")
        return real(desired, client, options, target, **kw)

    monkeypatch.setattr("provisioning.core.planning.make_plan", flaky)
    clusters = [
        {
            "name": n,
            "url_env": f"MANAGED_LLM_{n.upper()}_URL",
            "api_key_env": f"MANAGED_LLM_{n.upper()}_API_KEY",
            "ca_certs_env": f"MANAGED_LLM_{n.upper()}_CA_CERTS",
        }
        for n in ("a", "b")
    ]
    file = write_file(tmp_path, [endpoint("llm")], [], clusters=clusters)
    env = {
        "MANAGED_LLM_A_URL": double.url,
        "MANAGED_LLM_B_URL": double.url + "/broken",
        "MANAGED_LLM_A_API_KEY": encoded_api_key("admin"),
        "MANAGED_LLM_B_API_KEY": encoded_api_key("admin"),
        "MANAGED_LLM_A_CA_CERTS": str(double.ca_path),
        "MANAGED_LLM_B_CA_CERTS": str(double.ca_path),
        **BEDROCK_ENV,
    }
    result = Cli(env)("apply", "-f", str(file))
    assert result.exit_code == 1
    assert "error: internal error: KeyError: 'a bug'; run with --debug for details" in result.stdout
    assert "Clusters: a exit 0, b exit 1 (error); exit 1." in result.stdout
    assert "Traceback" not in result.output
    assert "llm" in double.cluster.endpoints


def test_an_interrupt_outside_apply_is_one_line(
    run: Cli, double: EsDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: object, **__: object) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("provisioning.core.planning.make_plan", interrupted)
    result = run("plan", "-f", str(write_file(tmp_path, [endpoint("llm")], [])))
    assert (result.exit_code, result.stderr) == (1, "error: interrupted\n")
