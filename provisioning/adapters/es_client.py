"""The only module that imports `elasticsearch`: connection, one GET per kind, writes, error translation.

Retries are ours, not the transport's (which retries 429/503 without waiting and ignores Retry-After):
every call goes through `RetryPolicy.run` (provisioning/adapters/retry.py) with exponential backoff and full
jitter, `Retry-After` honoured, and one bound on each request (`--timeout`). Reads retry 429/502/503/504,
connection errors and timeouts. Writes retry the same statuses and connection errors but never a
timeout: a create that timed out may still be running, so apply verifies instead; a retried create that
finds its own endpoint gets "already exists" and apply checks it (`AlreadyExists`); every other write
is idempotent (PUT of the same body, `_update`, DELETE where 404 counts as done). Performing inference
(smoke's completion, embedding and chat) is billed by Bedrock and not idempotent: it is retried only on
429 and on a connection that was never made (`Call.NON_IDEMPOTENT`).
PUT of a Bedrock endpoint waits for Elasticsearch's own validation call to Bedrock, so writes get a long
per-attempt timeout (the client default of 10 s is too short; docs/upstream-sources.md §4, §12).
Every answer the CLI reads is checked for shape here: a surprise is one ClusterError naming the API.
"""

from __future__ import annotations

import base64
import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Self

from elastic_transport import ApiResponse, SerializationError, TlsError
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConnectionError,
    ConnectionTimeout,
    Elasticsearch,
    ElasticsearchWarning,
    NotFoundError,
    TransportError,
    UnsupportedProductError,
)

from provisioning.adapters.credentials import BedrockCredentials
from provisioning.adapters.redact import redact
from provisioning.adapters.retry import (
    DROPPED_DURING_TLS,
    RETRY_ON_STATUS,
    Call,
    GaveUp,
    RetryPolicy,
    Verdict,
    dropped_during_tls,
)
from provisioning.adapters.settings import ConnectionSettings
from provisioning.core.diff import References
from provisioning.core.errors import AlreadyExists, ClusterError
from provisioning.core.inference_stream import StreamError, StreamResult, collect
from provisioning.core.kinds import inference_endpoints as endpoints
from provisioning.core.kinds.inference_endpoints import EndpointSpec
from provisioning.core.planning import ClusterState
from provisioning.core.versions import accepts_parameter

__all__ = ["RETRY_ON_STATUS", "EsClient", "RetryPolicy"]

# The transport logs each retry and dead-node timeout at WARNING. With no handler configured Python would
# print them to stderr, breaking the "one line per error" contract; a NullHandler keeps them available
# to anyone who configures logging.
for _logger in ("elastic_transport", "elasticsearch"):
    logging.getLogger(_logger).addHandler(logging.NullHandler())
# Elasticsearch's own timeout for the validation call; the HTTP timeout leaves room around it. Sent only to
# clusters known to accept it (catalog `elasticsearch.parameters`: inference.put `timeout` since 9.1.0).
SERVER_WRITE_TIMEOUT = "120s"


# The client re-raises each `Warning` header as a Python ElasticsearchWarning, which would print raw and
# unredacted on stderr. They are read from the responses instead (`EsClient.warnings`), so the Python
# warnings are silenced once, process-wide (catch_warnings per call is not thread-safe).
warnings.filterwarnings("ignore", category=ElasticsearchWarning)

Send = Callable[[Elasticsearch], ApiResponse[Any]]


@dataclass
class EsClient:
    settings: ConnectionSettings
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        auth: dict[str, Any] = {}
        if self.settings.api_key is not None:
            auth["api_key"] = self.settings.api_key.get_secret_value()
        elif self.settings.username is not None and self.settings.password is not None:
            # Encoded here as UTF-8 (what Elasticsearch decodes: UsernamePasswordToken); the client's own
            # encoding of a (user, password) tuple is ASCII and fails on any other character.
            pair = f"{self.settings.username}:{self.settings.password.get_secret_value()}"
            auth["basic_auth"] = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        tls: dict[str, Any] = {}
        # ConnectionSettings refuses a CA file with an http URL and lower-cases the scheme.
        if self.settings.ca_certs is not None:
            tls["ca_certs"] = str(self.settings.ca_certs)
        # The transport's own retries are off: `_send` retries, with backoff on every kind of failure.
        self._es = Elasticsearch(
            self.settings.url,
            **auth,
            **tls,
            verify_certs=True,
            connections_per_node=self.settings.connections,
            request_timeout=self.retry.read_timeout,
            max_retries=0,
            retry_on_status=(),
            retry_on_timeout=False,
        )
        self._warnings: list[str] = []
        self._warnings_lock = threading.Lock()
        # What GET / answered (plan reads it once; apply writes through the same client), None until read.
        self._version: str | None = None
        self._secrets: list[str] = [
            s.get_secret_value() for s in (self.settings.api_key, self.settings.password) if s is not None
        ]

    def close(self) -> None:
        self._es.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        """`with context.connect(settings) as client:` closes the connections however the block ends."""
        self.close()

    @property
    def warnings(self) -> list[str]:
        """The `Warning` headers Elasticsearch sent to this client (redacted), in arrival order."""
        with self._warnings_lock:
            return [redact(m, self._secrets) for m in self._warnings]

    def _remember(self, response: ApiResponse[Any]) -> None:
        header = (response.meta.headers.get("warning") or "").strip()
        if header:
            with self._warnings_lock:
                self._warnings.append(header)

    def _send(self, send: Send, *, call: Call = Call.READ) -> ApiResponse[Any]:
        """One request: attempts with backoff, all within `settings.timeout` seconds (call inside `_call`)."""
        per_attempt = self.retry.read_timeout if call is Call.READ else self.retry.write_timeout

        def attempt(left: float) -> ApiResponse[Any]:
            return send(self._es.options(request_timeout=min(per_attempt, left)))

        judge = partial(_judge, call=call, retry_after=self.retry.retry_after)
        return self.retry.run(self.settings.timeout, attempt, judge, (ApiError, TransportError))

    # ---------------------------------------------------------------- reads

    def version(self) -> str | None:
        """The cluster's version from GET /, or None when the caller lacks the `monitor` privilege for it."""
        operation = "read cluster version"
        try:
            with self._call(operation):
                info = self._send(lambda es: es.info()).body
        except ClusterError as exc:
            if exc.status == 403:
                return None
            raise
        version = _object(_object(info, operation).get("version"), operation, "version")
        self._version = _string(version.get("number"), operation, "version.number")
        return self._version

    def read_all(self) -> ClusterState:
        """Every inference endpoint and every role mapping: exactly two GETs, whatever their number."""
        operation = "read inference endpoints"
        with self._call(operation):
            answer = self._send(lambda es: es.inference.get()).body
        endpoint_bodies = _endpoints(answer, operation)
        operation = "read role mappings"
        with self._call(operation):
            answer = self._send(lambda es: es.security.get_role_mapping()).body
        mapping_bodies = {
            name: _role_mapping(body, operation, name) for name, body in _object(answer, operation).items()
        }
        return ClusterState(tuple(endpoint_bodies), mapping_bodies)

    def get_endpoint(self, endpoint_id: str) -> Mapping[str, Any] | None:
        operation = f"read inference endpoint {endpoint_id}"
        try:
            with self._call(operation):
                answer = self._send(lambda es: es.inference.get(inference_id=endpoint_id)).body
        except ClusterError as exc:
            if exc.status == 404:
                return None
            raise
        found = _endpoints(answer, operation)
        return found[0] if found else None

    def get_role_mapping(self, name: str) -> Mapping[str, Any] | None:
        operation = f"read role mapping {name}"
        try:
            with self._call(operation):
                answer = self._send(lambda es: es.security.get_role_mapping(name=name)).body
        except ClusterError as exc:
            if exc.status == 404:
                return None
            raise
        found = _object(answer, operation).get(name)
        return None if found is None else _role_mapping(found, operation, name)

    def references(self, endpoint_id: str, task_type: str) -> References:
        """Pipelines and indexes using an endpoint, from a dry-run DELETE (which deletes nothing)."""
        operation = f"check references of {endpoint_id}"
        try:
            with self._call(operation):
                body = self._send(
                    lambda es: es.inference.delete(inference_id=endpoint_id, task_type=task_type, dry_run=True)
                ).body
        except ClusterError as exc:
            if exc.status == 404:
                return References()
            if exc.status == 403:
                return References(known=False)
            raise
        answer = _object(body, operation)
        return References(
            tuple(_strings(answer.get("pipelines"), operation, "pipelines")),
            tuple(_strings(answer.get("indexes"), operation, "indexes")),
        )

    def missing_privileges(self, privileges: Sequence[str]) -> list[str]:
        operation = "check privileges"
        with self._call(operation):
            answer = self._send(lambda es: es.security.has_privileges(cluster=list(privileges))).body
        held = _object(_object(answer, operation).get("cluster") or {}, operation, "cluster")
        for name, value in held.items():
            if not isinstance(value, bool):
                raise _unexpected(operation, f"cluster.{name} is {_kind(value)}, not true or false")
        return [p for p in privileges if not held.get(p, False)]

    # ---------------------------------------------------------------- writes

    def create_endpoint(self, spec: EndpointSpec, credentials: BedrockCredentials) -> None:
        """PUT the endpoint. `?timeout=` goes only to a cluster whose version (read by `version()`) accepts it:
        an older one refuses any unknown parameter with a 400, and an unknown version (no `monitor`
        privilege) gets none, so Elasticsearch's own default applies within the HTTP timeout."""
        body = endpoints.create_body(spec)
        timeout = SERVER_WRITE_TIMEOUT if accepts_parameter(self._version, "inference.put", "timeout") else None
        service_settings = {
            **body["service_settings"],
            "access_key": credentials.access_key_id.get_secret_value(),
            "secret_key": credentials.secret_access_key.get_secret_value(),
        }
        try:
            with self._call(f"create inference endpoint {spec.id}", extra_secrets=credentials.values()):
                response = self._send(
                    lambda es: es.inference.put_amazonbedrock(
                        task_type=spec.task_type,
                        amazonbedrock_inference_id=spec.id,
                        service=endpoints.SERVICE,
                        service_settings=service_settings,
                        task_settings=body.get("task_settings"),
                        chunking_settings=body.get("chunking_settings"),
                        timeout=timeout,
                    ),
                    call=Call.WRITE,
                )
            self._remember(response)
        except ClusterError as exc:
            if exc.error_type == "resource_already_exists_exception":
                raise AlreadyExists(exc.message, status=exc.status, error_type=exc.error_type) from None
            raise

    def update_endpoint(self, spec: EndpointSpec) -> None:
        with self._call(f"update inference endpoint {spec.id}"):
            response = self._send(
                lambda es: es.inference.update(
                    inference_id=spec.id, task_type=spec.task_type, inference_config=endpoints.update_body(spec)
                ),
                call=Call.WRITE,
            )
        self._remember(response)

    def delete_endpoint(self, endpoint_id: str, task_type: str, *, force: bool) -> None:
        """Delete; already gone counts as done (a retried DELETE whose first attempt succeeded)."""
        try:
            with self._call(f"delete inference endpoint {endpoint_id}"):
                response = self._send(
                    lambda es: es.inference.delete(inference_id=endpoint_id, task_type=task_type, force=force or None),
                    call=Call.WRITE,
                )
            self._remember(response)
        except ClusterError as exc:
            if exc.status != 404:
                raise

    def put_role_mapping(self, name: str, body: Mapping[str, Any]) -> None:
        with self._call(f"write role mapping {name}"):
            response = self._send(
                lambda es: es.security.put_role_mapping(
                    name=name,
                    enabled=body["enabled"],
                    roles=body["roles"],
                    rules=body["rules"],
                    metadata=body["metadata"],
                ),
                call=Call.WRITE,
            )
        self._remember(response)

    def delete_role_mapping(self, name: str) -> None:
        try:
            with self._call(f"delete role mapping {name}"):
                response = self._send(lambda es: es.security.delete_role_mapping(name=name), call=Call.WRITE)
            self._remember(response)
        except ClusterError as exc:
            if exc.status != 404:
                raise

    def update_credentials(self, endpoint_id: str, task_type: str, credentials: BedrockCredentials) -> None:
        """Replace an endpoint's key pair through `_update` (both keys, nothing else; docs/upstream-sources.md §6)."""
        settings = {
            "access_key": credentials.access_key_id.get_secret_value(),
            "secret_key": credentials.secret_access_key.get_secret_value(),
        }
        with self._call(f"update credentials of {endpoint_id}", extra_secrets=credentials.values()):
            self._send(
                lambda es: es.inference.update(
                    inference_id=endpoint_id, task_type=task_type, inference_config={"service_settings": settings}
                ),
                call=Call.WRITE,
            )

    # ---------------------------------------------------------------- performing inference

    def complete(self, endpoint_id: str, text: str, max_tokens: int) -> str:
        operation = f"completion through {endpoint_id}"
        with self._call(operation):
            body = self._send(
                lambda es: es.inference.completion(
                    inference_id=endpoint_id, input=text, task_settings={"max_new_tokens": max_tokens}
                ),
                call=Call.NON_IDEMPOTENT,
            ).body
        results = _objects(_object(body, operation).get("completion") or [], operation, "completion")
        return "".join(_string(r.get("result", ""), operation, "completion[].result") for r in results)

    def embed(self, endpoint_id: str, text: str) -> int:
        """The number of dimensions of the embedding of `text`."""
        operation = f"embedding through {endpoint_id}"
        with self._call(operation):
            body = self._send(
                lambda es: es.inference.text_embedding(inference_id=endpoint_id, input=text), call=Call.NON_IDEMPOTENT
            ).body
        vectors = _objects(_object(body, operation).get("text_embedding") or [], operation, "text_embedding")
        if not vectors:
            return 0
        embedding = vectors[0].get("embedding", [])
        if not isinstance(embedding, list):
            raise _unexpected(operation, f"text_embedding[0].embedding is {_kind(embedding)}, not a list")
        return len(embedding)

    def chat(self, endpoint_id: str, text: str, max_tokens: int) -> StreamResult:
        """Chat completion through the streaming API (the only one Bedrock's chat_completion serves).

        The 9.x Python client has no typed method for `_stream`, so this is the one `perform_request`.
        """
        operation = f"chat completion through {endpoint_id}"
        with self._call(operation):
            response = self._send(
                lambda es: es.perform_request(
                    "POST",
                    f"/_inference/chat_completion/{endpoint_id}/_stream",
                    headers={"accept": "text/event-stream", "content-type": "application/json"},
                    body={"messages": [{"role": "user", "content": text}], "max_completion_tokens": max_tokens},
                ),
                call=Call.NON_IDEMPOTENT,
            )
        if not isinstance(response.body, str):
            raise _unexpected(operation, f"the answer is {_kind(response.body)}, not an event stream")
        try:
            return collect(response.body)
        except StreamError as exc:
            raise ClusterError(f"{operation}: {exc}") from None

    # ---------------------------------------------------------------- errors

    @contextmanager
    def _call(self, operation: str, extra_secrets: Sequence[str] = ()) -> Iterator[None]:
        """Translate client errors into one-line ClusterErrors with every known secret redacted."""
        secrets = [*self._secrets, *extra_secrets]
        retried = ""
        try:
            try:
                yield
            except GaveUp as gave_up:
                retried = gave_up.suffix
                # Re-raised with its chain of causes intact (what `_connection_cause` reads); nothing below
                # lets it reach a user.
                raise gave_up.last  # noqa: B904
        # UnsupportedProductError is an ApiError: it must be caught first.
        except UnsupportedProductError:
            raise ClusterError(
                f"{operation}: {self.settings.display_url} did not identify as Elasticsearch "
                "(no X-Elastic-Product header); check ELASTICSEARCH_URL"
            ) from None
        except ApiError as exc:
            raise _retried(_api_error(operation, exc, secrets, self.settings.display_url), retried) from None
        except ConnectionTimeout:
            raise ClusterError(
                f"{operation}: timed out talking to {self.settings.display_url}{retried}", status=None
            ) from None
        except ConnectionError as exc:
            raise ClusterError(
                f"{operation}: cannot reach {self.settings.display_url}: {_connection_cause(exc)}{retried}"
            ) from None
        except SerializationError:
            # Its message quotes the whole body; the body is the server's, not something to print.
            raise _unexpected(operation, "not JSON") from None
        except TransportError as exc:
            raise ClusterError(redact(f"{operation}: {exc.message}", secrets)) from None


def _judge(exc: Exception, *, call: Call, retry_after: Callable[[str | None], float | None]) -> Verdict:
    """Which failures are worth another attempt (see the module docstring for why writes differ)."""
    if isinstance(exc, UnsupportedProductError):
        return Verdict(retry=False)
    if isinstance(exc, ApiError):
        if call.retries_status(exc.meta.status):
            return Verdict(retry=True, retry_after=retry_after(exc.meta.headers.get("retry-after")))
        return Verdict(retry=False)
    if isinstance(exc, ConnectionTimeout):
        return Verdict(retry=call is Call.READ)
    if isinstance(exc, TlsError):
        # A certificate failure never heals; a connection dropped mid-handshake is a reset by another name.
        # A billed call is not sent again: the drop may have come after the request went out.
        return Verdict(retry=call is not Call.NON_IDEMPOTENT and dropped_during_tls(exc))
    if call is Call.NON_IDEMPOTENT:
        return Verdict(retry=isinstance(exc, ConnectionError) and _never_sent(exc))
    return Verdict(retry=isinstance(exc, ConnectionError))


def _never_sent(exc: ConnectionError) -> bool:
    """A connection that was never established (refused, no route, DNS): the request certainly was not sent."""
    # urllib3's NewConnectionError ("Failed to establish a new connection") is raised before a byte is sent;
    # a reset or a closed connection (RemoteDisconnected, ProtocolError) may come after the server read it.
    text = f"{exc.message} {exc}"
    return "Failed to establish a new connection" in text or "Connection refused" in text


def _retried(error: ClusterError, suffix: str) -> ClusterError:
    if not suffix:
        return error
    return type(error)(f"{error.message}{suffix}", status=error.status, error_type=error.error_type)


# ---------------------------------------------------------------- answer shapes


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, Mapping) else type(value).__name__


def _unexpected(operation: str, what: str) -> ClusterError:
    return ClusterError(f"{operation}: unexpected answer: {what}")


def _object(value: Any, operation: str, what: str = "the answer") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _unexpected(operation, f"{what} is {_kind(value)}, not an object")
    return value


def _objects(value: Any, operation: str, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        raise _unexpected(operation, f"{what} is {_kind(value)}, not a list")
    for index, item in enumerate(value):
        _object(item, operation, f"{what}[{index}]")
    return value


def _string(value: Any, operation: str, what: str) -> str:
    if not isinstance(value, str):
        raise _unexpected(operation, f"{what} is {_kind(value)}, not a string")
    return value


def _strings(value: Any, operation: str, what: str) -> list[str]:
    """An optional list of strings (absent or null is empty)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _unexpected(operation, f"{what} is not a list of strings")
    return value


def _endpoints(answer: Any, operation: str) -> list[Mapping[str, Any]]:
    """GET _inference: `{"endpoints": [{inference_id, task_type, service, *_settings}, ...]}`."""
    listed = _object(answer, operation).get("endpoints")
    if listed is None:
        raise _unexpected(operation, "endpoints is missing")
    items = _objects(listed, operation, "endpoints")
    for index, item in enumerate(items):
        where = f"endpoints[{index}]"
        for key in ("inference_id", "task_type", "service"):
            _string(item.get(key), operation, f"{where}.{key}")
        for key in ("service_settings", "task_settings", "chunking_settings"):
            if item.get(key) is not None:
                _object(item[key], operation, f"{where}.{key}")
    return items


def _role_mapping(body: Any, operation: str, name: str) -> Mapping[str, Any]:
    """One role mapping as GET _security/role_mapping lists it (docs/upstream-sources.md §8)."""
    where = f"role mapping {name}"
    mapping = _object(body, operation, where)
    if not isinstance(mapping.get("enabled", True), bool):
        raise _unexpected(operation, f"{where}: enabled is {_kind(mapping['enabled'])}, not true or false")
    _strings(mapping.get("roles"), operation, f"{where}: roles")
    if mapping.get("role_templates") is not None:
        _objects(mapping["role_templates"], operation, f"{where}: role_templates")
    for key in ("rules", "metadata"):
        if mapping.get(key) is not None:
            _object(mapping[key], operation, f"{where}: {key}")
    return mapping


def _api_error(operation: str, exc: ApiError, secrets: Sequence[str], url: str) -> ClusterError:
    status = exc.meta.status
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    error_type = reason = None
    cause = ""
    if isinstance(error, dict):
        error_type, reason = error.get("type"), error.get("reason")
        caused_by = error.get("caused_by")
        if isinstance(caused_by, dict) and caused_by.get("reason"):
            cause = f" (caused by: {caused_by['reason']})"
    elif isinstance(error, str):
        reason = error
    if isinstance(exc, AuthenticationException):
        message = (
            f"{operation}: authentication to {url} failed (HTTP 401); "
            "check ELASTICSEARCH_API_KEY or ELASTICSEARCH_USERNAME/PASSWORD"
        )
    elif isinstance(exc, AuthorizationException):
        message = f"{operation}: permission denied (HTTP 403): {reason or 'forbidden'}"
    elif isinstance(exc, NotFoundError) and reason is None:
        message = f"{operation}: not found (HTTP 404)"
    else:
        # Redact before shortening: a secret cut in half would escape redaction.
        detail = reason or _short(redact(str(body), secrets))
        message = f"{operation}: HTTP {status} {error_type or 'error'}: {detail}{cause}"
    return ClusterError(redact(message, secrets), status=status, error_type=error_type)


def _connection_cause(exc: ConnectionError) -> str:
    # Without the transport's retries the cause is in `message`, not in `str()` or `errors`.
    text = f"{exc.message} {exc}"
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return "TLS certificate verification failed; set ELASTICSEARCH_CA_CERTS to the cluster's CA certificate"
    if "Connection refused" in text:
        return "connection refused"
    if isinstance(exc, TlsError) and dropped_during_tls(exc):
        return DROPPED_DURING_TLS
    if "reset" in text.lower():
        return "connection reset"
    return type(exc.errors[0]).__name__ if getattr(exc, "errors", None) else "connection failed"


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:197] + "..."
