"""The statuses es_client turns into answers rather than errors (403 and 404 on reads and deletes), and the ones
it must not swallow (a timeout, a 5xx). Each case here once survived a hand-made mutation of es_client.py."""

from __future__ import annotations

import socket
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from pydantic import SecretStr

from provisioning.adapters.es_client import EsClient
from provisioning.adapters.retry import RetryPolicy
from provisioning.adapters.settings import ConnectionSettings
from provisioning.core.diff import References
from provisioning.core.errors import ClusterError
from tests.conftest import V1, Cli, endpoint, fast_connect, write_file
from tests.doubles.es_double import EsDouble

pytestmark = pytest.mark.double_only


def _client(double: EsDouble, caller: str = "admin") -> EsClient:
    return fast_connect(ConnectionSettings.from_environment(double.env(caller)))


def test_references_without_manage_inference_are_unknown_not_an_error(double: EsDouble) -> None:
    """A caller without manage_inference gets 403 on the dry-run DELETE: plan still runs, marked unknown."""
    double.fail("DELETE", r"^/_inference/completion/a$", 403)
    with closing(_client(double)) as client:
        assert client.references("a", "completion") == References(known=False)


def test_references_of_an_endpoint_already_gone_are_none(double: EsDouble) -> None:
    with closing(_client(double)) as client:
        assert client.references("gone", "completion") == References()


@pytest.mark.parametrize("status", [401, 500])
def test_references_do_not_swallow_other_statuses(double: EsDouble, status: int) -> None:
    double.fail("DELETE", r"^/_inference/completion/a$", status, times=10)
    with closing(_client(double)) as client, pytest.raises(ClusterError) as caught:
        client.references("a", "completion")
    assert caught.value.status == status


def test_a_version_read_without_monitor_is_unknown(double: EsDouble) -> None:
    with closing(_client(double, "no-security")) as client:
        assert client.version() is None


@pytest.mark.parametrize(
    ("read", "path"),
    [
        (lambda c: c.get_endpoint("gone"), r"^/_inference/gone$"),
        (lambda c: c.get_role_mapping("gone"), r"^/_security/role_mapping/gone$"),
    ],
)
def test_reading_one_missing_object_is_none_and_a_403_is_an_error(
    double: EsDouble, read: Callable[[EsClient], object], path: str
) -> None:
    with closing(_client(double)) as client:
        assert read(client) is None
    double.fail("GET", path, 403)
    with closing(_client(double)) as client, pytest.raises(ClusterError) as caught:
        read(client)
    assert caught.value.status == 403
    assert "permission denied (HTTP 403)" in caught.value.message


@pytest.mark.parametrize(
    ("delete", "path"),
    [
        (lambda c: c.delete_endpoint("gone", "completion", force=False), r"^/_inference/completion/gone$"),
        (lambda c: c.delete_role_mapping("gone"), r"^/_security/role_mapping/gone$"),
    ],
)
def test_deleting_what_is_already_gone_is_done_and_a_403_is_an_error(
    double: EsDouble, delete: Callable[[EsClient], object], path: str
) -> None:
    with closing(_client(double)) as client:
        delete(client)  # a 404: a retried DELETE whose first attempt succeeded
    double.fail("DELETE", path, 403)
    with closing(_client(double)) as client, pytest.raises(ClusterError) as caught:
        delete(client)
    assert caught.value.status == 403


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.references("a", "completion"),
        lambda c: c.get_endpoint("a"),
        lambda c: c.delete_role_mapping("m"),
        lambda c: c.version(),
    ],
)
def test_a_timeout_is_an_error_never_an_answer(call: Callable[[EsClient], object]) -> None:
    """A listening socket that never accepts: no branch may read the timeout as 'unknown' or 'already gone'."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        settings = ConnectionSettings(url=f"https://127.0.0.1:{port}", api_key=SecretStr("a2V5"), timeout=0.5)
        policy = RetryPolicy(max_retries=0, read_timeout=0.2, write_timeout=0.2)
        with closing(EsClient(settings, retry=policy)) as client, pytest.raises(ClusterError) as caught:
            call(client)
    assert caught.value.status is None
    assert "timed out talking to" in caught.value.message


def test_plan_says_references_are_unknown_when_the_check_is_refused(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    """The replace is still planned; the line tells the reader nobody checked what uses the endpoint."""
    assert run("apply", "-f", str(write_file(tmp_path, [endpoint("llm")], []))).exit_code == 0
    double.fail("DELETE", r"/_inference/chat_completion/llm$", 403)
    planned = run("plan", "-f", str(write_file(tmp_path, [endpoint("llm", model=V1)], [])))
    assert planned.exit_code == 2, planned.output
    assert "references unknown (checking needs manage_inference)" in planned.stdout
