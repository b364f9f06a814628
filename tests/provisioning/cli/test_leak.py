"""The leak test: distinctive values for every secret in play, every command in every output format, on
success and failure paths, against servers that echo whole requests (Authorization headers, Bedrock keys)
in their errors and Warning headers. No value, nor its base64 or URL-encoded form, may appear in stdout,
stderr or any file a command wrote.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import click
import pytest
from click.testing import Result

from provisioning.cli.app import cli
from provisioning.sandbox import Principal, StandinServer
from tests.conftest import V1, Cli, endpoint, mapping, write_file
from tests.doubles.aws import AwsStack, build_stack, moto_server, point_boto3_at, reset
from tests.doubles.bedrock import BedrockDouble, bedrock_server
from tests.doubles.es_double import API_KEY_SECRET, CALLERS, EsDouble, encoded_api_key
from tests.doubles.kibana_double import KibanaDouble

pytestmark = pytest.mark.double_only

ES_USERNAME = "leak-user"
ES_PASSWORD = "es-password-LEAK-5c1e7a"  # noqa: S105 (test fixtures, all of them)
KIBANA_API_KEY = "kibana-api-key-LEAK-9d2f40"
KIBANA_PASSWORD = "kibana-password-LEAK-77ab31"  # noqa: S105
BEDROCK_KEY_ID = "AKIALEAKTESTKEY00042"
BEDROCK_SECRET = "bedrock/secret+LEAK=0123456789abcdefghijk"  # noqa: S105
AWS_KEY_ID = "ASIALEAKTESTAWSKEY17"
AWS_SECRET = "aws-secret-access-key-LEAK-6f0c2b"  # noqa: S105
AWS_SESSION = "aws-session-token-LEAK-0e9d8c7b6a"
PULUMI_TOKEN = "pul-LEAK-token-4b3a2918"  # noqa: S105
GITHUB_TOKEN = "ghp_LEAKtoken0123456789abcdef"  # noqa: S105


def advertised_formats(command: str) -> tuple[str, ...]:
    """The `--output` choices the command itself offers (so a format added or dropped is tested at once)."""
    found = cli.get_command(click.Context(cli), command)
    assert found is not None
    for param in found.params:
        if isinstance(param, click.Option) and "--output" in param.opts and isinstance(param.type, click.Choice):
            return tuple(str(c) for c in param.type.choices)
    return ()


def assert_in_format(result: Result, output: str) -> None:
    """The output is what `-o` promised: JSON documents parse and carry format_version, CSV has a header and
    rows of the same width, markdown has a table, text is not JSON."""
    out = result.stdout
    assert out.strip(), f"-o {output}: nothing on stdout"
    if output == "json":
        document = json.loads(out)
        assert document["format_version"] == 1, out[:200]
    elif output == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert len(rows) >= 2, out[:200]
        assert len({len(r) for r in rows}) == 1, out[:200]
        assert len(rows[0]) > 1, out[:200]
    elif output == "markdown":
        assert re.search(r"^\|.*\|$", out, flags=re.MULTILINE), out[:200]
    else:
        assert not out.lstrip().startswith("{"), out[:200]


def forms(secret: str) -> set[str]:
    """A secret and the forms it takes on the wire (written here, independently of the code under test)."""
    return {secret, base64.b64encode(secret.encode()).decode(), quote(secret, safe=""), quote_plus(secret)}


SECRETS = [
    ES_PASSWORD,
    KIBANA_API_KEY,
    KIBANA_PASSWORD,
    BEDROCK_KEY_ID,
    BEDROCK_SECRET,
    AWS_KEY_ID,
    AWS_SECRET,
    AWS_SESSION,
    PULUMI_TOKEN,
    GITHUB_TOKEN,
    API_KEY_SECRET,
    encoded_api_key("admin"),
    base64.b64encode(f"{ES_USERNAME}:{ES_PASSWORD}".encode()).decode(),
    base64.b64encode(f"elastic:{KIBANA_PASSWORD}".encode()).decode(),
]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def kibana_url() -> Iterator[str]:
    hostile = KibanaDouble("no one gets in", lambda _: False, lambda _: None, echo=True)
    with StandinServer(hostile, product_header=False) as server:
        yield server.url


@pytest.fixture
def stack(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> AwsStack:
    reset(moto_url)
    point_boto3_at(monkeypatch, moto_url)
    built = build_stack((V1,))
    for name, value in {
        "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "AWS_SESSION_TOKEN": AWS_SESSION,
        "PULUMI_ACCESS_TOKEN": PULUMI_TOKEN,
        "GITHUB_TOKEN": GITHUB_TOKEN,
    }.items():
        monkeypatch.setenv(name, value)
    return built


def environment(double: EsDouble, kibana_url: str, basic: bool = False) -> dict[str, str]:
    env = double.env(
        BEDROCK_ACCESS_KEY_ID=BEDROCK_KEY_ID,
        BEDROCK_SECRET_ACCESS_KEY=BEDROCK_SECRET,
        # The query string carries a token: the URL must never be printed with it.
        KIBANA_URL=f"{kibana_url}/?access_token={GITHUB_TOKEN}",
        KIBANA_API_KEY=KIBANA_API_KEY,
        PULUMI_ACCESS_TOKEN=PULUMI_TOKEN,
        GITHUB_TOKEN=GITHUB_TOKEN,
        AWS_ACCESS_KEY_ID=AWS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=AWS_SECRET,
        AWS_SESSION_TOKEN=AWS_SESSION,
    )
    if basic:
        env.pop("ELASTICSEARCH_API_KEY")
        env |= {"ELASTICSEARCH_USERNAME": ES_USERNAME, "ELASTICSEARCH_PASSWORD": ES_PASSWORD}
        env.pop("KIBANA_API_KEY")
        env |= {"KIBANA_USERNAME": "elastic", "KIBANA_PASSWORD": KIBANA_PASSWORD}
    return env


def assert_nothing_leaked(results: list[Result], directory: Path) -> None:
    printed = "\n".join(f"{r.stdout}\n{r.stderr}" for r in results)
    written = "\n".join(p.read_text(errors="replace") for p in directory.rglob("*") if p.is_file())
    for secret in SECRETS:
        for form in forms(secret):
            assert form not in printed, f"printed: a form of {secret[:6]}..."
            assert form not in written, f"written to a file: a form of {secret[:6]}..."


@pytest.mark.internal_error
def test_no_secret_leaves_any_command_in_any_format(
    double: EsDouble, kibana_url: str, stack: AwsStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    double.cluster.principals["Basic " + base64.b64encode(f"{ES_USERNAME}:{ES_PASSWORD}".encode()).decode()] = (
        Principal(ES_USERNAME, CALLERS["admin"][1])
    )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    plain = write_file(
        work,
        [endpoint("llm"), endpoint("llm-v1", model=V1, task_type="completion")],
        [mapping("users")],
        bedrock={"region": "us-east-1", "credentials": {"secret_arn": stack.secret_arn}},
    )
    outputs = stack.write_outputs(work)
    with_kibana = work / "kibana.yaml"
    with_kibana.write_text(plain.read_text() + "kibana:\n  connectors:\n  - endpoint: llm\n", encoding="utf-8")
    ok = Cli(environment(double, kibana_url))
    basic = Cli(environment(double, kibana_url, basic=True))
    f, so = ["-f", str(plain)], ["--stack-outputs", str(outputs)]
    results: list[Result] = []

    def run(cli_: Cli, *args: str) -> Result:
        result = cli_(*args)
        results.append(result)
        assert "--debug" in args or "Traceback" not in result.output, result.output
        return result

    covered: set[str] = set()

    def each_format(command: str, *args: str, runner: Cli = ok, check: bool = False) -> None:
        covered.add(command)
        formats = advertised_formats(command)
        assert formats, f"{command} offers no --output"
        for output in formats:
            result = run(runner, command, *args, "-o", output)
            if check:
                assert_in_format(result, output)

    # Success paths.
    run(ok, "--version")
    for name in cli.commands:
        run(ok, name, "--help")
    run(ok, "validate", *f)
    # Every advertised format of every command renders, in that format (success paths).
    each_format("plan", *f, check=True)
    assert run(ok, "apply", *f).exit_code == 0, results[-1].output
    each_format("apply", *f, check=True)
    each_format("verify", *f, *so, check=True)
    each_format("smoke", *f, *so, check=True)
    each_format("rotate-credentials", *f, *so, check=True)
    each_format("usage", *f, *so, check=True)
    # moto has no ListFoundationModels & co: Bedrock's model catalog comes from its own double, whose errors
    # repeat the request's Authorization header and session token.
    bedrock = BedrockDouble(echo=True)
    with bedrock_server(bedrock) as bedrock_url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", bedrock_url)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        each_format("models", *f, *so, check=True)
        bedrock.fail("GetFoundationModelAvailability", "AccessDeniedException", 403)
        each_format("models", *f, *so)
        bedrock.fail("ListFoundationModels", "AccessDeniedException", 403)
        each_format("models", *f, *so)
        assert results[-1].exit_code == 1, results[-1].output
        monkeypatch.delenv("AWS_ENDPOINT_URL_BEDROCK")
        monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    run(ok, "kibana-config", "-f", str(with_kibana))
    run(ok, "schema")
    run(ok, "init", "--admin-group", "cn=admins", "-f", str(work / "init" / "managed-llm.yaml"))
    run(ok, "sandbox", *f)
    covered |= {"validate", "kibana-config", "schema", "init", "sandbox"}

    # Failure paths: a server that echoes whole requests in errors and Warning headers, Basic auth, a hostile
    # Kibana, files that try to route or print a secret, and an unexpected exception carrying secrets.
    double.echo("GET", ".*", "warning")
    double.echo("PUT", ".*", "error")
    double.echo("POST", "_has_privileges", "warning")
    double.cluster.endpoints.clear()
    for runner in (ok, basic):
        each_format("plan", *f, runner=runner)
        each_format("apply", *f, runner=runner)
        each_format("verify", *f, *so, runner=runner)
        each_format("smoke", *f, runner=runner)
        each_format("rotate-credentials", *f, *so, runner=runner)
        each_format("plan", "-f", str(with_kibana), runner=runner)
        each_format("apply", "-f", str(with_kibana), runner=runner)
    double.echo("POST", ".*", "error")
    each_format("smoke", *f)
    # The rogue file holds a secret itself: it lives outside the directory checked for written files.
    (tmp_path / "inputs").mkdir()
    rogue = write_file(
        tmp_path / "inputs",
        [endpoint("llm")],
        [],
        bedrock={"region": BEDROCK_SECRET},
        clusters=[{"name": "x", "url_env": "MANAGED_LLM_X_URL", "ca_certs_env": "PULUMI_ACCESS_TOKEN"}],
    )
    for command in (
        "validate",
        "plan",
        "apply",
        "verify",
        "smoke",
        "rotate-credentials",
        "kibana-config",
        "usage",
        "models",
    ):
        run(ok, command, "-f", str(rogue))

    # Each run knows the secrets of its own environment: the exception carries those in play.
    in_play = {id(ok): encoded_api_key("admin"), id(basic): f"{ES_PASSWORD} {KIBANA_PASSWORD}"}
    for runner in (ok, basic):

        def leaky(*_: object, known: str = in_play[id(runner)], **__: object) -> Any:
            raise RuntimeError(f"{BEDROCK_SECRET} {PULUMI_TOKEN} {AWS_SESSION} {known}")

        monkeypatch.setattr("provisioning.core.planning.make_plan", leaky)
        run(runner, "plan", *f)
        run(runner, "--debug", "plan", *f)

    assert set(cli.commands) <= covered | {"apply"}, "a command without leak coverage"
    assert any("***" in r.output for r in results), "the hostile servers echoed nothing: the test proves nothing"
    assert any(r.exit_code == 1 and "x_content_parse_exception" in r.output for r in results)
    assert (work / "init" / "managed-llm.schema.json").is_file()
    assert_nothing_leaked(results, work)


def test_the_console_script_redacts_too(double: EsDouble, tmp_path: Path) -> None:
    """The real entry point, in a subprocess: nothing can print around the redacting streams."""
    double.echo("GET", ".*", "error")
    file = write_file(tmp_path, [endpoint("llm")], [])
    env = environment(double, "https://127.0.0.1:9") | {"PATH": "/usr/bin:/bin"}
    for args in (["plan", "-f", str(file)], ["--debug", "plan", "-f", str(file), "-o", "markdown"]):
        done = subprocess.run(
            [sys.executable, "-m", "provisioning", *args],
            env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        assert "x_content_parse_exception" in done.stderr
        printed = done.stdout + done.stderr
        for secret in SECRETS:
            for form in forms(secret):
                assert form not in printed, f"printed: a form of {secret[:6]}..."


def test_every_command_is_in_the_leak_test() -> None:
    assert isinstance(cli, click.Group)
    known = {"validate", "plan", "apply", "verify", "smoke", "rotate-credentials", "usage", "kibana-config", "models"}
    assert set(cli.commands) <= known | {"schema", "init", "sandbox"}, "add the new command to the leak test"
