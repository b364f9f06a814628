"""The strict Elasticsearch API double the CLI tests run against, over HTTPS on loopback.

The API behaviour (status codes, error envelopes, secrets omitted from GET, server defaults, upper-case
provider, `X-Elastic-Product`) is the project's stand-in (`provisioning/sandbox/`, shipped because
`managed-llm sandbox` serves it). This module adds what tests need around it: a private CA (trustme)
and a client that verifies it, callers with different privileges, fault injection (429/5xx, connection
resets) and request counters. `tests/doubles/test_es_double.py` checks the double against the
reference facts, and runs against a real cluster in live mode.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import trustme

from provisioning.sandbox import Principal, Request, Response, StandinCluster, StandinServer, api_key_header

# Test callers: API key id -> (username, cluster privileges).
CALLERS: dict[str, tuple[str, frozenset[str]]] = {
    "admin": ("admin", frozenset({"manage_inference", "manage_security", "monitor"})),
    "reader": ("reader", frozenset({"monitor_inference", "read_security"})),
    "no-security": ("no-security", frozenset({"manage_inference", "read_security"})),
    "inference-only": ("inference-only", frozenset({"manage_inference"})),
    # Can apply but not read GET / (which needs `monitor`): the cluster version stays unknown.
    "no-monitor": ("no-monitor", frozenset({"manage_inference", "manage_security"})),
}
API_KEY_SECRET = "double-api-key-secret-value"  # noqa: S105 (a test fixture; the double only knows this one)
# What counts as a read: GETs, the privilege check (POST), and dry-run deletes (which delete nothing).
_PRIVILEGE_CHECK = "/_security/user/_has_privileges"


def encoded_api_key(caller: str) -> str:
    """ELASTICSEARCH_API_KEY as Elasticsearch hands it out: base64 of `id:key`."""
    return base64.b64encode(f"{caller}:{API_KEY_SECRET}".encode()).decode()


@dataclass(frozen=True)
class RawAnswer:
    """A body sent as is with HTTP 200 (or `status`): deliberately malformed answers that no
    Elasticsearch version sends (empty, HTML, wrong JSON shapes), to prove the client refuses them
    with one line. Not modelled on any upstream source, on purpose."""

    body: bytes
    content_type: str = "application/json"
    status: int = 200


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    outcome: int | Literal["reset"] | RawAnswer
    remaining: int
    after: bool = False
    skip: int = 0
    retry_after: str | None = None


@dataclass
class Echo:
    method: str
    path: re.Pattern[str]
    mode: Literal["error", "warning"]


def echoed(request: Request) -> str:
    """Everything the client sent (headers, Authorization included, and body) as one header-safe line."""
    sent = {"method": request.method, "path": request.path, "headers": dict(request.headers)}
    return (
        json.dumps({**sent, "body": request.body.decode("utf-8", "replace")})
        .encode("latin-1", "replace")
        .decode("latin-1")
    )


def warning_header(message: str) -> str:
    """Elasticsearch's Warning header format: `299 Elasticsearch-<version> "<message>"` (server/src/main/java/
    org/elasticsearch/common/logging/HeaderWarning.java), with `"` and `\\` escaped as it does."""
    escaped = message.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 Elasticsearch-9.1.0 "{escaped}"'


@dataclass
class EsDouble:
    """A running double: `url`, `ca_path`, the `cluster` state, counters and fault injection."""

    server: StandinServer
    ca_path: Path
    faults: list[Fault] = field(default_factory=list)
    echoes: list[Echo] = field(default_factory=list)
    # (API key id, method, path) -> requests: several "clusters" sharing this double tell apart by key.
    by_caller: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def cluster(self) -> StandinCluster:
        return self.server.cluster

    def env(self, caller: str = "admin", **extra: str) -> dict[str, str]:
        """The environment a pipeline would set to reach this double."""
        return {
            "ELASTICSEARCH_URL": self.url,
            "ELASTICSEARCH_API_KEY": encoded_api_key(caller),
            "ELASTICSEARCH_CA_CERTS": str(self.ca_path),
            **extra,
        }

    # ---------------------------------------------------------------- faults

    def fail(
        self,
        method: str,
        path: str,
        outcome: int | Literal["reset"] | RawAnswer,
        times: int = 1,
        *,
        after: bool = False,
        skip: int = 0,
        retry_after: str | None = None,
    ) -> None:
        """The next `times` requests matching (method, path regex) get `outcome` instead of an answer.

        With `after`, the request is processed first and only the answer is lost (a proxy's 502 after
        the write happened), the case where a retried create finds its own endpoint. The first `skip`
        matching requests pass untouched. `retry_after` adds a `Retry-After` header (seconds or an HTTP
        date, RFC 9110 §10.2.3): Elasticsearch's own 429 (EsRejectedExecutionException, mapped to
        RestStatus.TOO_MANY_REQUESTS in ExceptionsHelper.status) carries none, but the proxies and load
        balancers in front of clusters (Elastic Cloud's included) send it with 429/503.
        """
        self.faults.append(Fault(method, re.compile(path), outcome, times, after, skip, retry_after))

    def answer(self, method: str, path: str, body: bytes, content_type: str = "application/json") -> None:
        """Every request matching (method, path regex) gets `body` as is with HTTP 200 (see RawAnswer)."""
        self.fail(method, path, RawAnswer(body, content_type), times=1_000_000)

    def echo(self, method: str, path: str, mode: Literal["error", "warning"]) -> None:
        """Deliberately hostile: requests matching (method, path regex) are echoed back whole, headers
        (Authorization) and body (Bedrock keys) included, in a 400 error's reason ("error") or in a Warning
        header on the normal answer ("warning"). Real Elasticsearch echoes parts of a request body in parse
        errors (`x_content_parse_exception`, ElasticsearchException.generateFailureXContent in server/src/
        main/java/org/elasticsearch/ElasticsearchException.java) and any text in Warning headers (HeaderWarning);
        a misbehaving proxy or plugin could echo the rest. Output must show none of it."""
        self.echoes.append(Echo(method, re.compile(path), mode))

    def add_caller(self, caller: str, privileges: frozenset[str]) -> None:
        """Another API key the cluster accepts (for tests where many clusters share this double)."""
        self.cluster.principals[api_key_header(caller, API_KEY_SECRET)] = Principal(caller, privileges)

    def _count_caller(self, request: Request) -> None:
        # `Authorization: ApiKey base64(id:api_key)` (Elasticsearch docs, "Create API key" API, response
        # `encoded`): the id names the caller.
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        caller = base64.b64decode(encoded).decode().partition(":")[0] if scheme == "ApiKey" else ""
        with self._lock:
            self.by_caller[(caller, request.method, request.path)] += 1

    def _hook(self, request: Request) -> Response | Literal["reset"] | None:
        self._count_caller(request)
        for echo in self.echoes:
            if echo.method == request.method and echo.path.search(request.path):
                if echo.mode == "error":
                    reason = f"failed to parse request {echoed(request)}"
                    error = {"type": "x_content_parse_exception", "reason": reason}
                    return Response(400, {"error": {"root_cause": [error], **error}, "status": 400})
                response = self.cluster.handle(request)
                response.headers["Warning"] = warning_header(f"request was {echoed(request)}")
                return response
        with self._lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.method == request.method and fault.path.search(request.path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.remaining -= 1
                    if fault.after:
                        self.cluster.handle(request)
                    if fault.outcome == "reset":
                        return "reset"
                    if isinstance(fault.outcome, RawAnswer):
                        raw = fault.outcome
                        return Response(raw.status, raw=raw.body, content_type=raw.content_type)
                    response = _error_response(fault.outcome)
                    if fault.retry_after is not None:
                        response.headers["Retry-After"] = fault.retry_after
                    return response
        return None

    # ---------------------------------------------------------------- counters

    @property
    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        return list(self.server.log.entries)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(
            1 for m, p, _ in self.requests if (method is None or m == method) and (path is None or re.search(path, p))
        )

    def writes(self) -> list[tuple[str, str]]:
        """Requests that can change state: everything but GET, the privilege check and dry-run DELETEs."""
        return [
            (m, p)
            for m, p, query in self.requests
            if m != "GET" and p != _PRIVILEGE_CHECK and not (m == "DELETE" and query.get("dry_run") == "true")
        ]

    def reset_counters(self) -> None:
        self.server.log.clear()
        with self._lock:
            self.by_caller.clear()


def _error_response(status: int) -> Response:
    kinds = {429: "es_rejected_execution_exception", 503: "unavailable_shards_exception"}
    reason = {429: "rejected execution (queue capacity reached)", 503: "service unavailable"}.get(status, "error")
    error_type = kinds.get(status, "status_exception")
    return Response(
        status,
        {
            "error": {"root_cause": [{"type": error_type, "reason": reason}], "type": error_type, "reason": reason},
            "status": status,
        },
    )


class CertificateAuthority:
    """A private CA and a server certificate for 127.0.0.1, written where ELASTICSEARCH_CA_CERTS can point."""

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.server_cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_cert.configure_cert(context)
        return context


@contextmanager
def running_double(authority: CertificateAuthority, **cluster_options: object) -> Iterator[EsDouble]:
    principals = {
        api_key_header(caller, API_KEY_SECRET): Principal(username, privileges)
        for caller, (username, privileges) in CALLERS.items()
    }
    cluster = StandinCluster(principals=principals, **cluster_options)  # type: ignore[arg-type]
    holder: list[EsDouble] = []
    server = StandinServer(cluster, ssl_context=authority.server_context(), hook=lambda r: holder[0]._hook(r))
    double = EsDouble(server=server, ca_path=authority.ca_path)
    holder.append(double)
    try:
        yield double
    finally:
        server.close()
