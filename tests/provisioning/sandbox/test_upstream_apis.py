"""What real Elasticsearch versions accept, as the stand-in models it: `timeout` on PUT _inference only from
9.1.0 (elastic/elasticsearch PR #126805), and `rotate-credentials` only where `_update` takes new keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioning.core.versions import accepts_parameter
from provisioning.sandbox import Principal, Request, StandinCluster
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


# ---------------------------------------------------------------------------- rotate-credentials by version

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:managed-llm-bedrock"  # noqa: S105 (an ARN, not a secret)
NEW_KEY = {"access_key_id": "AKIAROTATEDKEY000001", "secret_access_key": "rotated-secret-never-printed-0123456789"}


def rotation(cluster: EsDouble, tmp_path: Path, caller: str = "admin") -> tuple[Cli, Path]:
    """A CLI whose Secrets Manager answers NEW_KEY, and a file naming that secret, with one completion endpoint."""
    file = write_file(
        tmp_path,
        [{"id": "llm", "model": MODEL, "provider": "anthropic", "task_type": "completion"}],
        [],
        bedrock={"region": "us-east-1", "credentials": {"secret_arn": SECRET_ARN}},
    )
    return Cli(cluster.env(caller), read_secret=lambda arn: json.dumps(NEW_KEY)), file


@pytest.mark.parametrize("caller", ["admin", "no-monitor"])
def test_rotation_updates_in_place_on_the_oldest_9x(
    authority: CertificateAuthority, tmp_path: Path, caller: str
) -> None:
    with running_double(authority, version="9.0.0") as cluster:  # type: ignore[arg-type]
        run, file = rotation(cluster, tmp_path, caller)
        assert run("apply", "-f", str(file)).exit_code == 0
        rotated = run("rotate-credentials", "-f", str(file))
        assert rotated.exit_code == 0, rotated.output
        assert cluster.cluster.endpoints["llm"].service_settings["access_key"] == NEW_KEY["access_key_id"]
        assert cluster.count("PUT", r"/_update$") == 1
        unknown = "Elasticsearch version unknown (GET / needs the monitor privilege): _update used without a check"
        assert (unknown in rotated.stdout) is (caller == "no-monitor")


def test_rotation_refuses_a_version_whose_update_api_cannot_take_new_keys(
    authority: CertificateAuthority, tmp_path: Path
) -> None:
    with running_double(authority, version="8.16.0") as cluster:  # type: ignore[arg-type]
        run, file = rotation(cluster, tmp_path)
        rotated = run("rotate-credentials", "-f", str(file))
        assert rotated.exit_code == 1
        assert rotated.stderr == (
            "error: rotate-credentials: nothing changed: Elasticsearch 8.16.0 accepts new Bedrock keys through "
            "_update only from 8.17.0; upgrade the cluster (re-creating the endpoints would break whatever uses them)\n"
        )
        assert cluster.writes() == []
        assert NEW_KEY["secret_access_key"] not in rotated.output


def test_the_standin_has_no_update_api_before_8_17() -> None:
    principals = {"k": Principal("admin", frozenset({"manage_inference"}))}
    request = Request("PUT", "/_inference/completion/llm/_update", headers={"authorization": "k"}, body=b"{}")
    old = StandinCluster(version="8.16.0", principals=principals).handle(request)
    assert (old.status, old.body["error"]["reason"]) == (
        400,
        "no handler found for uri [/_inference/completion/llm/_update] and method [PUT]",
    )
    newer = StandinCluster(version="8.17.0", principals=principals).handle(request)
    assert newer.body["error"]["reason"] == "Request body is empty"
