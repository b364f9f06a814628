"""Shared fixtures: the HTTPS Elasticsearch double (or a live cluster), the CLI runner, file builders.

Live mode: when ELASTICSEARCH_URL is set, tests marked `live` run against that cluster instead of the
double (with ELASTICSEARCH_API_KEY or USERNAME/PASSWORD and ELASTICSEARCH_CA_CERTS from the
environment); tests that need the double's fault injection or counters are skipped there. Objects are
created with a random `mllm-test-` prefix and deleted afterwards. Creating Bedrock endpoints in live
mode makes real, billed Bedrock calls and needs BEDROCK_ACCESS_KEY_ID/BEDROCK_SECRET_ACCESS_KEY.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from provisioning.adapters.es_client import EsClient, RetryPolicy
from provisioning.adapters.kibana_client import KibanaClient
from provisioning.adapters.settings import ConnectionSettings
from provisioning.cli.app import CliContext, cli
from tests.doubles.es_double import CertificateAuthority, EsDouble, running_double

LIVE = bool(os.environ.get("ELASTICSEARCH_URL"))
# Fast retries keep fault-injection tests quick; the backoff itself is provisioning/adapters/retry.py's.
FAST_RETRY = RetryPolicy(max_retries=3, backoff_base=0.01, backoff_cap=0.05, read_timeout=10, write_timeout=30)
BEDROCK_ENV = {
    "BEDROCK_ACCESS_KEY_ID": "AKIATESTKEYID0000001",
    "BEDROCK_SECRET_ACCESS_KEY": "test-bedrock-secret-do-not-print-0123456789",
}
# Two current (ACTIVE) models, so that creating endpoints on them is never refused as past EOL. V2 is what both
# presets resolve to (General Purpose LLM v1 and v2); V1 is a second model, for model changes and replaces.
V2 = PRESET_MODEL = "us.anthropic.claude-sonnet-4-6"
V1 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
# Elastic's own v1 and v2 models: past EOL on Bedrock (2026-04-28), and Legacy until its EOL (2027-04-08).
ELASTIC_V1 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
ELASTIC_V2 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "double_only: needs the double's counters or fault injection")
    config.addinivalue_line("markers", "internal_error: the test provokes an unexpected exception on purpose")


@pytest.fixture(autouse=True)
def _no_traceback_reaches_a_user(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every in-process CLI run of the suite, whatever the test asserts: no exception escapes the program, no
    traceback is printed (unless --debug asks for one) and no internal error is reported, unless the test is
    marked `internal_error` because it provokes one on purpose."""
    provoked = request.node.get_closest_marker("internal_error") is not None
    invoke = CliRunner.invoke

    def guarded(self: CliRunner, command: Any, args: Any = None, *rest: Any, **options: Any) -> Result:
        result = invoke(self, command, args, *rest, **options)
        argv = [args] if isinstance(args, str) else list(args or [])
        escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
        assert not escaped, f"an exception escaped the CLI: {result.exception!r}"
        if "--debug" not in argv:
            assert "Traceback (most recent call last)" not in result.output, result.output
        if not provoked:
            assert "error: internal error" not in result.output, result.output
        return result

    monkeypatch.setattr(CliRunner, "invoke", guarded)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not LIVE:
        return
    skip = pytest.mark.skip(reason="live mode (ELASTICSEARCH_URL set): needs the double")
    for item in items:
        if "double_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def authority(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def double(authority: CertificateAuthority) -> Iterator[EsDouble]:
    with running_double(authority) as running:
        yield running


def fast_connect(settings: ConnectionSettings) -> EsClient:
    return EsClient(settings, retry=FAST_RETRY)


def fast_kibana(settings: ConnectionSettings) -> KibanaClient:
    return KibanaClient(settings, retry=FAST_RETRY)


class ShownResult(Result):
    """A CLI result whose repr carries its exit code and output, so a failed `assert r.exit_code == 0` says why."""

    def __repr__(self) -> str:
        return f"<Result exit {self.exit_code}: {self.output[-2000:]!r}>"


@dataclass
class Cli:
    """Runs `managed-llm` in-process with a given environment, as a pipeline would."""

    env: dict[str, str]
    read_secret: Any = None
    runner: CliRunner = field(default_factory=CliRunner)

    def __call__(self, *args: str, env: Mapping[str, str] | None = None) -> Result:
        context = CliContext(
            environ=dict(env if env is not None else self.env),
            connect=fast_connect,
            connect_kibana=fast_kibana,
            read_secret=self.read_secret,
            poll_interval=0.05,
            lock_settle=0.0,
        )
        result = self.runner.invoke(cli, list(args), obj=context, catch_exceptions=False)
        result.__class__ = ShownResult
        return result


@pytest.fixture
def run(double: EsDouble) -> Cli:
    if LIVE:
        keys = (
            "ELASTICSEARCH_URL",
            "ELASTICSEARCH_API_KEY",
            "ELASTICSEARCH_USERNAME",
            "ELASTICSEARCH_PASSWORD",
            "ELASTICSEARCH_CA_CERTS",
            "BEDROCK_ACCESS_KEY_ID",
            "BEDROCK_SECRET_ACCESS_KEY",
        )
        return Cli({k: os.environ[k] for k in keys if k in os.environ})
    return Cli(double.env(**BEDROCK_ENV))


@pytest.fixture
def prefix() -> str:
    """Id prefix: fixed against the double, random against a live cluster."""
    return f"mllm-test-{uuid.uuid4().hex[:6]}-" if LIVE else ""


def endpoint(endpoint_id: str, model: str = V2, task_type: str = "chat_completion", **extra: Any) -> dict[str, Any]:
    return {"id": endpoint_id, "task_type": task_type, "model": model, "provider": "anthropic", **extra}


def mapping(name: str, roles: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "roles": roles or ["inference_user"], "rules": {"field": {"realm.name": "saml1"}}, **extra}


def write_file(directory: Path, endpoints: list[dict[str, Any]], mappings: list[dict[str, Any]], **top: Any) -> Path:
    document: dict[str, Any] = {"bedrock": {"region": "us-east-1"}, **top}
    document["inference_endpoints"] = endpoints
    document["role_mappings"] = mappings
    path = directory / "managed-llm.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path
