"""What real Elasticsearch versions accept, as the stand-in models it: `timeout` on PUT _inference only from
9.1.0 (elastic/elasticsearch PR #126805), and `rotate-credentials` only where `_update` takes new keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning.standin import Principal, Request, StandinCluster
from provisioning.versions import accepts_parameter
from tests.conftest import BEDROCK_ENV, Cli, write_file
from tests.doubles.es_double import CertificateAuthority, EsDouble, running_double

pytestmark = pytest.mark.double_only
# An ACTIVE model in the catalog that every 9.x serves as `completion` (chat_completion needs 9.4).
MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def completion_file(tmp_path: Path) -> Path:
    return write_file(tmp_path, [{"id": "llm", "model": MODEL, "provider": "anthropic", "task_type": "completion"}], [])


def put_queries(double: EsDouble) -> list[dict[str, str]]:
    return [query for method, path, query in double.requests if method == "PUT" and path.startswith("/_inference/")]


@pytest.mark.parametrize(("version", "sent"), [("9.0.3", False), ("9.1.0", True), ("9.4.0", True)])
def test_create_sends_timeout_only_to_a_version_that_accepts_it(
    authority: CertificateAuthority, tmp_path: Path, version: str, sent: bool
) -> None:
    with running_double(authority, version=version) as cluster:  # type: ignore[arg-type]
        applied = Cli(cluster.env(**BEDROCK_ENV))("apply", "-f", str(completion_file(tmp_path)))
        assert applied.exit_code == 0, applied.output
        assert "llm" in cluster.cluster.endpoints
        assert put_queries(cluster) == [{"timeout": "120s"} if sent else {}]


def test_create_sends_no_timeout_when_the_version_is_unknown(double: EsDouble, tmp_path: Path) -> None:
    applied = Cli(double.env("no-monitor", **BEDROCK_ENV))("apply", "-f", str(completion_file(tmp_path)))
    assert applied.exit_code == 0, applied.output
    assert "version unknown" in applied.stdout
    assert put_queries(double) == [{}]


def test_the_standin_refuses_timeout_below_9_1_as_elasticsearch_refuses_an_unknown_parameter() -> None:
    body = b'{"service": "amazonbedrock", "service_settings": {}}'
    principals = {"k": Principal("admin", frozenset({"manage_inference"}))}
    old = StandinCluster(version="9.0.3", principals=principals)
    request = Request(
        "PUT", "/_inference/completion/llm", query={"timeout": "120s"}, headers={"authorization": "k"}, body=body
    )
    answer = old.handle(request)
    assert answer.status == 400
    assert answer.body["error"]["type"] == "illegal_argument_exception"
    assert (
        answer.body["error"]["reason"]
        == "request [/_inference/completion/llm] contains unrecognized parameter: [timeout]"
    )
    newer = StandinCluster(version="9.1.0", principals=principals)
    # Past the parameter check: the body (no keys) is what 9.1 refuses.
    assert newer.handle(request).body["error"]["type"] != "illegal_argument_exception"


@pytest.mark.parametrize(
    ("version", "expected"),
    [(None, False), ("9.0.3", False), ("9.1.0", True), ("9.1.0-SNAPSHOT", True), ("9.10.1", True), ("x", False)],
)
def test_accepts_parameter_reads_the_catalog(version: str | None, expected: bool) -> None:
    assert accepts_parameter(version, "inference.put", "timeout") is expected
    assert accepts_parameter("9.4.0", "inference.put", "no-such-parameter") is False
