"""Faults: retries with backoff where safe, one clear line where not, partial reports, re-runs converge."""

from __future__ import annotations

import itertools
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Literal

import pytest
from click.testing import CliRunner, Result

from provisioning.adapters.es_client import EsClient
from provisioning.adapters.retry import Call, RetryPolicy
from provisioning.cli.app import CliContext, cli
from tests.conftest import BEDROCK_ENV, V1, Cli, endpoint, mapping, write_file
from tests.doubles.es_double import EsDouble

pytestmark = pytest.mark.double_only


@pytest.fixture
def file(tmp_path: Path) -> Path:
    return write_file(tmp_path, [endpoint("llm-a"), endpoint("llm-b", model=V1)], [mapping("users")])


def test_reads_are_retried_on_429_and_503(run: Cli, double: EsDouble, file: Path) -> None:
    double.fail("GET", r"^/_inference$", 429, times=2)
    double.fail("GET", r"^/_security/role_mapping$", 503)
    result = run("plan", "-f", str(file))
    assert result.exit_code == 2, result.output
    assert double.count("GET", r"^/_inference$") == 3
    assert double.count("GET", r"^/_security/role_mapping$") == 2


def test_writes_are_retried_on_503_and_connection_resets(run: Cli, double: EsDouble, file: Path) -> None:
    double.fail("PUT", r"/llm-a$", 503)
    double.fail("PUT", r"/llm-b$", "reset")
    double.fail("PUT", r"/_security/role_mapping/users$", 429)
    result = run("apply", "-f", str(file))
    assert result.exit_code == 0, result.output
    assert double.count("PUT", r"/llm-a$") == 2
    assert double.count("PUT", r"/llm-b$") == 2
    assert set(double.cluster.endpoints) == {"llm-a", "llm-b"}


def test_a_create_whose_answer_was_lost_is_verified_not_duplicated(run: Cli, double: EsDouble, file: Path) -> None:
    double.fail("PUT", r"/llm-a$", 502, after=True)
    result = run("apply", "-f", str(file))
    assert result.exit_code == 0, result.output
    assert double.count("PUT", r"/llm-a$") == 2  # the retry got "already exists"
    assert double.count("GET", r"^/_inference/llm-a$") == 1  # ... and apply checked it is what we asked for
    assert run("plan", "-f", str(file)).exit_code == 0


def test_persistent_failure_reports_done_failed_and_not_attempted(run: Cli, double: EsDouble, file: Path) -> None:
    double.fail("PUT", r"/llm-a$", 503, times=100)
    result = run("apply", "-f", str(file), "--concurrency", "1")
    assert result.exit_code == 1
    assert re.search(r"^failed\s+create\s+inference_endpoint\s+llm-a\s", result.stdout, re.M), result.stdout
    assert "failed: create inference_endpoint llm-a: create inference endpoint llm-a: HTTP 503" in result.stdout
    assert re.search(r"^not attempted\s+create\s+inference_endpoint\s+llm-b\s", result.stdout, re.M), result.stdout
    assert "Apply failed: 0 done, 1 failed, 2 not attempted; not converged (3 to create," in result.stdout
    assert double.count("PUT", r"/llm-a$") == 4  # 1 + 3 retries (FAST_RETRY), then it gives up
    double.faults.clear()
    rerun = run("apply", "-f", str(file))
    assert rerun.exit_code == 0, rerun.output
    assert run("plan", "-f", str(file)).exit_code == 0


def test_bedrock_validation_failure_is_one_line_with_the_cause(run: Cli, double: EsDouble, file: Path) -> None:
    double.cluster.bedrock_failures[V1] = "You don't have access to the model with the specified model ID."
    result = run("apply", "-f", str(file))
    assert result.exit_code == 1
    assert (
        "failed: create inference_endpoint llm-b: create inference endpoint llm-b: HTTP 400 status_exception: "
        "Could not complete inference endpoint creation as validation call to service threw an exception. "
        "(caused by: AmazonBedrock converse failure: "
        "[You don't have access to the model with the specified model ID.])"
    ) in result.stdout
    assert "llm-b" not in double.cluster.endpoints
    double.cluster.bedrock_failures.clear()
    assert run("apply", "-f", str(file)).exit_code == 0


def test_a_failed_replace_leaves_a_state_the_next_run_repairs(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    assert run("apply", "-f", str(write_file(tmp_path, [endpoint("llm")], []))).exit_code == 0
    changed = write_file(tmp_path, [endpoint("llm", model=V1)], [])
    double.cluster.bedrock_failures[V1] = "throttled"
    assert run("apply", "-f", str(changed)).exit_code == 1
    assert "llm" not in double.cluster.endpoints  # deleted, create failed: reported, not hidden
    double.cluster.bedrock_failures.clear()
    planned = run("plan", "-f", str(changed))
    assert " create " in planned.stdout
    assert run("apply", "-f", str(changed)).exit_code == 0
    assert double.cluster.endpoints["llm"].service_settings["model"] == V1


def test_writes_run_with_bounded_concurrency(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    double.cluster.validation_latency = 0.05
    many = write_file(tmp_path, [endpoint(f"llm-{i}") for i in range(12)], [])
    assert run("apply", "-f", str(many)).exit_code == 0
    assert 2 <= double.cluster.max_validations_in_flight <= 4


def test_concurrency_sixteen_puts_sixteen_writes_in_flight(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    """elastic-transport's pool holds 10 connections by default and blocks when all are busy (issue 14)."""
    double.cluster.validation_latency = 1.0  # long enough for all 16 to be sent before the first answer
    many = write_file(tmp_path, [endpoint(f"llm-{i}") for i in range(16)], [])
    assert run("apply", "-f", str(many), "--concurrency", "16").exit_code == 0
    assert double.cluster.max_validations_in_flight == 16


def test_concurrency_above_the_bound_is_refused_with_the_reason_in_help(run: Cli, file: Path) -> None:
    refused = run("apply", "-f", str(file), "--concurrency", "33")
    assert refused.exit_code == 1
    assert "33 is not in the range 1<=x<=32" in refused.output
    assert "elected master node" in run("apply", "--help").output


def test_concurrency_one_is_sequential(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    double.cluster.validation_latency = 0.02
    many = write_file(tmp_path, [endpoint(f"llm-{i}") for i in range(5)], [])
    assert run("apply", "-f", str(many), "--concurrency", "1").exit_code == 0
    assert double.cluster.max_validations_in_flight == 1


def test_unreachable_cluster_is_one_line(run: Cli, double: EsDouble, file: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("plan", "-f", str(file), "--es-url", f"https://127.0.0.1:{port}")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: read cluster version: cannot reach https://127.0.0.1:{port}: connection refused (after 4 attempts)\n"
    )


def test_tls_is_verified_and_the_error_says_what_to_set(double: EsDouble, file: Path) -> None:
    env = double.env()
    env.pop("ELASTICSEARCH_CA_CERTS")
    result = Cli(env)("plan", "-f", str(file))
    assert result.exit_code == 1
    assert "TLS certificate verification failed; set ELASTICSEARCH_CA_CERTS" in result.stderr
    assert double.requests == []


def test_wrong_api_key_is_one_line(double: EsDouble, file: Path) -> None:
    env = double.env() | {"ELASTICSEARCH_API_KEY": "bm9ib2R5Om5vdGhpbmc="}
    result = Cli(env)("plan", "-f", str(file))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: read cluster version: authentication to https://127.0.0.1:")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("env_change", "message"),
    [
        ({"ELASTICSEARCH_URL": ""}, "no Elasticsearch URL: set ELASTICSEARCH_URL or pass --es-url"),
        ({"ELASTICSEARCH_URL": "ftp://x"}, "ELASTICSEARCH_URL must be an http(s) URL"),
        ({"ELASTICSEARCH_URL": "https://u:p@127.0.0.1:1"}, "ELASTICSEARCH_URL must not embed credentials"),
        ({"ELASTICSEARCH_USERNAME": "elastic"}, "set either ELASTICSEARCH_API_KEY or ELASTICSEARCH_USERNAME"),
        ({"ELASTICSEARCH_CA_CERTS": "/nonexistent/ca.pem"}, "ELASTICSEARCH_CA_CERTS: no such file"),
        ({"ELASTICSEARCH_URL": "https://es.example.com:99999"}, "ELASTICSEARCH_URL is not a valid URL"),
        ({"ELASTICSEARCH_URL": "https://[::1"}, "ELASTICSEARCH_URL is not a valid URL"),
    ],
)
def test_bad_connection_settings_are_refused_before_any_request(
    double: EsDouble, file: Path, env_change: dict[str, str], message: str
) -> None:
    result = Cli(double.env() | env_change)("plan", "-f", str(file))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {message}")
    assert double.requests == []


def test_a_server_that_is_not_elasticsearch_is_named_as_such(run: Cli, file: Path) -> None:
    from provisioning.sandbox import Principal, StandinCluster, StandinServer, api_key_header

    impostor = StandinCluster(principals={api_key_header("k", "v"): Principal("u", frozenset({"all"}))})
    with StandinServer(impostor, product_header=False) as server:
        env = {"ELASTICSEARCH_URL": server.url, "ELASTICSEARCH_API_KEY": "azp2"}
        result = Cli(env)("plan", "-f", str(file))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: read cluster version: {server.url} did not identify as Elasticsearch "
        "(no X-Elastic-Product header); check ELASTICSEARCH_URL\n"
    )


def test_a_secret_in_a_non_json_error_body_is_redacted_before_it_is_shortened() -> None:
    from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
    from elasticsearch import ApiError

    from provisioning.adapters.es_client import _api_error

    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # noqa: S105 (AWS's documented example key)
    body = "x" * 190 + secret + "y" * 50  # the secret straddles the 197-character cut
    meta = ApiResponseMeta(502, "1.1", HttpHeaders(), 0.1, NodeConfig("https", "h", 1))
    error = _api_error("create inference endpoint e", ApiError("bad gateway", meta, body), [secret], "https://h:1")
    assert secret[:6] not in error.message
    assert error.message.endswith("...")


# ---------------------------------------------------------------- backoff, Retry-After and the bound


@dataclass
class FakeTime:
    """A clock that moves only when the code under test sleeps, and a jitter that records its range."""

    now: float = 1_000.0
    sleeps: list[float] = field(default_factory=list)
    ranges: list[tuple[float, float]] = field(default_factory=list)
    fractions: Iterator[float] = field(default_factory=lambda: itertools.cycle((0.9, 0.3, 0.7, 0.1)))

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def uniform(self, low: float, high: float) -> float:
        self.ranges.append((low, high))
        return low + (high - low) * next(self.fractions)

    def policy(self, **overrides: float) -> RetryPolicy:
        return RetryPolicy(
            sleep=self.sleep,
            clock=lambda: self.now,
            wall_clock=lambda: self.now,
            uniform=self.uniform,
            **overrides,  # type: ignore[arg-type]
        )


def faked(double: EsDouble, clock: FakeTime, **overrides: float) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        context = CliContext(
            environ=double.env(**BEDROCK_ENV), connect=lambda s: EsClient(s, retry=clock.policy(**overrides))
        )
        return CliRunner().invoke(cli, list(args), obj=context, catch_exceptions=False)

    return run


def test_retry_waits_grow_exponentially_with_full_jitter(double: EsDouble, file: Path) -> None:
    clock = FakeTime()
    double.fail("GET", r"^/_inference$", 503, times=4)
    result = faked(double, clock)("plan", "-f", str(file))
    assert result.exit_code == 2, result.output
    assert double.count("GET", r"^/_inference$") == 5
    assert clock.ranges == [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0), (0.0, 4.0)]  # base 0.5 s, doubling, from 0
    assert clock.sleeps == pytest.approx([0.45, 0.3, 1.4, 0.4])  # a random point of each range


def test_backoff_is_capped(double: EsDouble, file: Path) -> None:
    clock = FakeTime()
    double.fail("GET", r"^/_inference$", 429, times=4)
    assert faked(double, clock, backoff_cap=1.5)("plan", "-f", str(file)).exit_code == 2
    assert [high for _, high in clock.ranges] == [0.5, 1.0, 1.5, 1.5]


@pytest.mark.parametrize(
    ("header", "waited"),
    [("7", 7.0), ("0", 0.0), ("3600", 30.0)],  # seconds; a server asking for an hour gets the 30 s cap
)
def test_retry_after_in_seconds_is_honoured(double: EsDouble, file: Path, header: str, waited: float) -> None:
    clock = FakeTime()
    double.fail("GET", r"^/_security/role_mapping$", 429, times=2, retry_after=header)
    assert faked(double, clock)("plan", "-f", str(file)).exit_code == 2
    assert clock.sleeps == [waited, waited]
    assert clock.ranges == []  # no backoff drawn: the server said how long


def test_retry_after_as_an_http_date_is_honoured(double: EsDouble, file: Path) -> None:
    clock = FakeTime(now=1_700_000_000.0)
    double.fail("PUT", r"/llm-a$", 503, retry_after=formatdate(1_700_000_012, usegmt=True))
    assert faked(double, clock)("apply", "-f", str(file), "--concurrency", "1").exit_code == 0
    assert clock.sleeps == [12.0]


def test_the_total_time_of_one_call_is_bounded(double: EsDouble, file: Path) -> None:
    clock = FakeTime()
    double.fail("GET", r"^/$", 503, times=100, retry_after="25")
    result = faked(double, clock, max_retries=100)("plan", "-f", str(file), "--timeout", "60")
    assert result.exit_code == 1
    assert clock.sleeps == [25.0, 25.0]  # a third wait would end past the 60 s bound: give up instead
    assert result.stderr == (
        "error: read cluster version: HTTP 503 unavailable_shards_exception: service unavailable "
        "(after 3 attempts; gave up at the 60 s bound (--timeout))\n"
    )


def test_the_bound_comes_from_the_environment_too(double: EsDouble, file: Path) -> None:
    clock = FakeTime()
    double.fail("GET", r"^/$", 503, times=100)
    context = CliContext(
        environ=double.env(MANAGED_LLM_TIMEOUT="2"), connect=lambda s: EsClient(s, retry=clock.policy(max_retries=100))
    )
    result = CliRunner().invoke(cli, ["plan", "-f", str(file)], obj=context, env={"MANAGED_LLM_TIMEOUT": "2"})
    assert result.exit_code == 1
    assert sum(clock.sleeps) < 2
    assert "gave up at the 2 s bound" in result.stderr


def test_a_server_that_never_answers_is_given_up_on_at_the_bound(file: Path, authority: object) -> None:
    """A listening socket that never accepts: each attempt times out; --timeout 1 ends it (real clock)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        env = {"ELASTICSEARCH_URL": f"https://127.0.0.1:{port}", "ELASTICSEARCH_API_KEY": "a2V5"}
        context = CliContext(environ=env)  # the real client and policy: only --timeout is set
        result = CliRunner().invoke(cli, ["plan", "-f", str(file), "--timeout", "1"], obj=context)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: read cluster version: timed out talking to https://127.0.0.1:{port}")
    assert result.stderr.endswith("gave up at the 1 s bound (--timeout))\n")


def test_a_write_that_timed_out_is_not_retried() -> None:
    from elasticsearch import ConnectionTimeout

    from provisioning.adapters.es_client import _judge

    timed_out = ConnectionTimeout("timed out")
    assert _judge(timed_out, call=Call.WRITE, retry_after=lambda _: None).retry is False
    assert _judge(timed_out, call=Call.NON_IDEMPOTENT, retry_after=lambda _: None).retry is False
    assert _judge(timed_out, call=Call.READ, retry_after=lambda _: None).retry is True


def test_help_states_the_bound() -> None:
    for command in ("plan", "apply", "verify", "smoke", "rotate-credentials"):
        text = " ".join(CliRunner().invoke(cli, [command, "--help"]).output.split())
        assert "--timeout FLOAT RANGE Seconds each request to Elasticsearch or Kibana may take in all" in text
        assert "[default: 120" in text
        assert "--allow-http" in text


# ---------------------------------------------------------------- billed inference calls are not idempotent


@pytest.fixture
def smoke_file(run: Cli, tmp_path: Path) -> Path:
    file = write_file(
        tmp_path,
        [endpoint("chat"), endpoint("done", model=V1, task_type="completion")],
        [],
    )
    assert run("apply", "-f", str(file)).exit_code == 0
    return file


@pytest.mark.parametrize("outcome", [502, 503, 504, "reset"])
@pytest.mark.parametrize("path", [r"^/_inference/chat_completion/chat/_stream$", r"^/_inference/completion/done$"])
def test_a_billed_inference_call_is_sent_once(
    run: Cli, double: EsDouble, smoke_file: Path, outcome: int | Literal["reset"], path: str
) -> None:
    # after=True: Elasticsearch ran the call (Bedrock billed it) and only the answer was lost on the way back.
    double.fail("POST", path, outcome, after=True)
    result = run("smoke", "-f", str(smoke_file))
    assert result.exit_code == 1
    assert double.count("POST", path) == 1


@pytest.mark.parametrize("path", [r"^/_inference/chat_completion/chat/_stream$", r"^/_inference/completion/done$"])
def test_a_billed_inference_call_is_retried_on_429(run: Cli, double: EsDouble, smoke_file: Path, path: str) -> None:
    double.fail("POST", path, 429, retry_after="0")
    result = run("smoke", "-f", str(smoke_file))
    assert result.exit_code == 0, result.output
    assert double.count("POST", path) == 2


def test_a_billed_inference_call_is_retried_only_when_never_sent() -> None:
    from elasticsearch import ConnectionError as EsConnectionError

    from provisioning.adapters.es_client import _judge

    def judged(message: str, call: Call) -> bool:
        return _judge(EsConnectionError(message), call=call, retry_after=lambda _: None).retry

    refused = "Failed to establish a new connection: [Errno 111] Connection refused"
    reset = "Connection aborted.', ConnectionResetError(104, 'Connection reset by peer')"
    assert judged(refused, Call.NON_IDEMPOTENT) is True
    assert judged(reset, Call.NON_IDEMPOTENT) is False
    assert judged(reset, Call.WRITE) is True


def test_a_connection_dropped_during_the_tls_handshake_is_retried_like_a_reset(
    run: Cli, double: EsDouble, file: Path
) -> None:
    """A proxy or an overloaded node closing a connection mid-handshake surfaces as a TLS EOF or as a reset,
    depending on timing alone; both are retried (the request was never sent), in plan and in apply."""
    double.server.drop_next_handshakes(2)
    result = run("plan", "-f", str(file))
    assert result.exit_code == 2, result.output
    double.server.drop_next_handshakes(2)
    result = run("apply", "-f", str(file))
    assert result.exit_code == 0, result.output
    assert set(double.cluster.endpoints) == {"llm-a", "llm-b"}


def test_a_handshake_dropped_every_time_is_one_line_after_the_retries(double: EsDouble, file: Path) -> None:
    double.server.drop_next_handshakes(100)
    result = Cli(double.env())("plan", "-f", str(file))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: read cluster version: cannot reach {double.url}: the connection was closed during TLS "
        "(after 4 attempts)\n"
    )


def test_a_silent_connection_being_dropped_holds_up_no_other(run: Cli, double: EsDouble, file: Path) -> None:
    """The stand-in accepts in one thread and handshakes (or drops) in each connection's own: a client that
    connects and says nothing must not stall the clients after it, as it did when the accepting thread waited."""
    host, port = double.url.removeprefix("https://").rsplit(":", 1)
    double.server.drop_next_handshakes(1)
    with socket.create_connection((host, int(port))) as silent:
        result = run("plan", "-f", str(file))
        assert result.exit_code == 2, result.output
        silent.setblocking(False)
        with pytest.raises(BlockingIOError):  # still open: its own thread is still waiting for a ClientHello
            silent.recv(1)
