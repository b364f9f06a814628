"""The only module that imports `elasticsearch`: connection, one GET per kind, writes, error translation.

Retries (429/502/503/504, connection errors) use the transport's exponential backoff with jitter; reads
also retry timeouts, writes do not (a create that timed out may have happened: apply verifies instead).
PUT of a Bedrock endpoint waits for Elasticsearch's own validation call to Bedrock, so writes get a long
request timeout (the client default of 10 s is too short; reference §4, §12).
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from elastic_transport import ApiResponse
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

from provisioning.config import ConnectionSettings
from provisioning.credentials import BedrockCredentials
from provisioning.diff import References
from provisioning.errors import AlreadyExists, ClusterError
from provisioning.inference_stream import StreamError, StreamResult, collect
from provisioning.kinds import inference_endpoints as endpoints
from provisioning.kinds.inference_endpoints import EndpointSpec
from provisioning.planner import ClusterState
from provisioning.redact import redact

RETRY_ON_STATUS = (429, 502, 503, 504)

# The transport logs each retry and dead-node timeout at WARNING. With no handler configured Python would
# print them to stderr, breaking the "one line per error" contract; a NullHandler keeps them available
# to anyone who configures logging.
for _logger in ("elastic_transport", "elasticsearch"):
    logging.getLogger(_logger).addHandler(logging.NullHandler())
# Elasticsearch's own timeout for the validation call; the HTTP timeout leaves room around it.
SERVER_WRITE_TIMEOUT = "120s"


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    read_timeout: float = 30.0
    write_timeout: float = 150.0


# The client re-raises each `Warning` header as a Python ElasticsearchWarning, which would print raw and
# unredacted on stderr. They are read from the responses instead (`EsClient.warnings`), so the Python
# warnings are silenced once, process-wide (catch_warnings per call is not thread-safe).
warnings.filterwarnings("ignore", category=ElasticsearchWarning)


@dataclass
class EsClient:
    settings: ConnectionSettings
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        auth: dict[str, Any] = {}
        if self.settings.api_key is not None:
            auth["api_key"] = self.settings.api_key.get_secret_value()
        elif self.settings.username is not None and self.settings.password is not None:
            auth["basic_auth"] = (self.settings.username, self.settings.password.get_secret_value())
        tls: dict[str, Any] = {}
        if self.settings.url.startswith("https") and self.settings.ca_certs is not None:
            tls["ca_certs"] = str(self.settings.ca_certs)
        self._es = Elasticsearch(
            self.settings.url,
            **auth,
            **tls,
            verify_certs=True,
            request_timeout=self.retry.read_timeout,
            max_retries=self.retry.max_retries,
            retry_on_status=RETRY_ON_STATUS,
            retry_on_timeout=True,
            retry_backoff_base=self.retry.backoff_base,
            retry_backoff_cap=self.retry.backoff_cap,
        )
        self._writer = self._es.options(request_timeout=self.retry.write_timeout, retry_on_timeout=False)
        self._warnings: list[str] = []
        self._warnings_lock = threading.Lock()
        self._secrets: list[str] = [
            s.get_secret_value() for s in (self.settings.api_key, self.settings.password) if s is not None
        ]

    def close(self) -> None:
        self._es.close()

    @property
    def warnings(self) -> list[str]:
        """The `Warning` headers Elasticsearch sent to this client (redacted), in arrival order."""
        with self._warnings_lock:
            return [_redact(m, self._secrets) for m in self._warnings]

    def _remember(self, response: ApiResponse[Any]) -> None:
        header = (response.meta.headers.get("warning") or "").strip()
        if header:
            with self._warnings_lock:
                self._warnings.append(header)

    # ---------------------------------------------------------------- reads

    def version(self) -> str | None:
        """The cluster's version from GET /, or None when the caller lacks the `monitor` privilege for it."""
        try:
            with self._call("read cluster version"):
                info = self._es.info().body
        except ClusterError as exc:
            if exc.status == 403:
                return None
            raise
        return str(info.get("version", {}).get("number", ""))

    def read_all(self) -> ClusterState:
        """Every inference endpoint and every role mapping: exactly two GETs, whatever their number."""
        with self._call("read inference endpoints"):
            endpoint_bodies = self._es.inference.get().body.get("endpoints", [])
        with self._call("read role mappings"):
            mapping_bodies = self._es.security.get_role_mapping().body
        return ClusterState(tuple(endpoint_bodies), dict(mapping_bodies))

    def get_endpoint(self, endpoint_id: str) -> Mapping[str, Any] | None:
        try:
            with self._call(f"read inference endpoint {endpoint_id}"):
                found = self._es.inference.get(inference_id=endpoint_id).body.get("endpoints", [])
        except ClusterError as exc:
            if exc.status == 404:
                return None
            raise
        return found[0] if found else None

    def get_role_mapping(self, name: str) -> Mapping[str, Any] | None:
        try:
            with self._call(f"read role mapping {name}"):
                found: Mapping[str, Mapping[str, Any]] = self._es.security.get_role_mapping(name=name).body
        except ClusterError as exc:
            if exc.status == 404:
                return None
            raise
        return found.get(name)

    def references(self, endpoint_id: str, task_type: str) -> References:
        """Pipelines and indexes using an endpoint, from a dry-run DELETE (which deletes nothing)."""
        try:
            with self._call(f"check references of {endpoint_id}"):
                body = self._es.inference.delete(inference_id=endpoint_id, task_type=task_type, dry_run=True).body
        except ClusterError as exc:
            if exc.status == 404:
                return References()
            if exc.status == 403:
                return References(known=False)
            raise
        return References(tuple(body.get("pipelines") or ()), tuple(body.get("indexes") or ()))

    def missing_privileges(self, privileges: Sequence[str]) -> list[str]:
        with self._call("check privileges"):
            answer = self._es.security.has_privileges(cluster=list(privileges)).body
        held = answer.get("cluster") or {}
        return [p for p in privileges if not held.get(p, False)]

    # ---------------------------------------------------------------- writes

    def create_endpoint(self, spec: EndpointSpec, credentials: BedrockCredentials) -> None:
        body = endpoints.create_body(spec)
        service_settings = {
            **body["service_settings"],
            "access_key": credentials.access_key_id.get_secret_value(),
            "secret_key": credentials.secret_access_key.get_secret_value(),
        }
        try:
            with self._call(f"create inference endpoint {spec.id}", extra_secrets=credentials.values()):
                response = self._writer.inference.put_amazonbedrock(
                    task_type=spec.task_type,
                    amazonbedrock_inference_id=spec.id,
                    service=endpoints.SERVICE,
                    service_settings=service_settings,
                    task_settings=body.get("task_settings"),
                    chunking_settings=body.get("chunking_settings"),
                    timeout=SERVER_WRITE_TIMEOUT,
                )
            self._remember(response)
        except ClusterError as exc:
            if exc.error_type == "resource_already_exists_exception":
                raise AlreadyExists(exc.message, status=exc.status, error_type=exc.error_type) from None
            raise

    def update_endpoint(self, spec: EndpointSpec) -> None:
        with self._call(f"update inference endpoint {spec.id}"):
            response = self._writer.inference.update(
                inference_id=spec.id, task_type=spec.task_type, inference_config=endpoints.update_body(spec)
            )
        self._remember(response)

    def delete_endpoint(self, endpoint_id: str, task_type: str, *, force: bool) -> None:
        """Delete; already gone counts as done (a retried DELETE whose first attempt succeeded)."""
        try:
            with self._call(f"delete inference endpoint {endpoint_id}"):
                response = self._writer.inference.delete(
                    inference_id=endpoint_id, task_type=task_type, force=force or None
                )
            self._remember(response)
        except ClusterError as exc:
            if exc.status != 404:
                raise

    def put_role_mapping(self, name: str, body: Mapping[str, Any]) -> None:
        with self._call(f"write role mapping {name}"):
            response = self._writer.security.put_role_mapping(
                name=name,
                enabled=body["enabled"],
                roles=body["roles"],
                rules=body["rules"],
                metadata=body["metadata"],
            )
        self._remember(response)

    def delete_role_mapping(self, name: str) -> None:
        try:
            with self._call(f"delete role mapping {name}"):
                response = self._writer.security.delete_role_mapping(name=name)
            self._remember(response)
        except ClusterError as exc:
            if exc.status != 404:
                raise

    def update_credentials(self, endpoint_id: str, task_type: str, credentials: BedrockCredentials) -> None:
        """Replace an endpoint's key pair through `_update` (both keys, nothing else; reference §6)."""
        settings = {
            "access_key": credentials.access_key_id.get_secret_value(),
            "secret_key": credentials.secret_access_key.get_secret_value(),
        }
        with self._call(f"update credentials of {endpoint_id}", extra_secrets=credentials.values()):
            self._writer.inference.update(
                inference_id=endpoint_id, task_type=task_type, inference_config={"service_settings": settings}
            )

    # ---------------------------------------------------------------- performing inference

    def complete(self, endpoint_id: str, text: str, max_tokens: int) -> str:
        with self._call(f"completion through {endpoint_id}"):
            body = self._writer.inference.completion(
                inference_id=endpoint_id, input=text, task_settings={"max_new_tokens": max_tokens}
            ).body
        return "".join(str(r.get("result", "")) for r in body.get("completion", []))

    def embed(self, endpoint_id: str, text: str) -> int:
        """The number of dimensions of the embedding of `text`."""
        with self._call(f"embedding through {endpoint_id}"):
            body = self._writer.inference.text_embedding(inference_id=endpoint_id, input=text).body
        vectors = body.get("text_embedding") or []
        return len(vectors[0].get("embedding", [])) if vectors else 0

    def chat(self, endpoint_id: str, text: str, max_tokens: int) -> StreamResult:
        """Chat completion through the streaming API (the only one Bedrock's chat_completion serves).

        The 9.x Python client has no typed method for `_stream`, so this is the one `perform_request`.
        """
        with self._call(f"chat completion through {endpoint_id}"):
            response = self._writer.perform_request(
                "POST",
                f"/_inference/chat_completion/{endpoint_id}/_stream",
                headers={"accept": "text/event-stream", "content-type": "application/json"},
                body={"messages": [{"role": "user", "content": text}], "max_completion_tokens": max_tokens},
            )
        try:
            return collect(str(response.body))
        except StreamError as exc:
            raise ClusterError(f"chat completion through {endpoint_id}: {exc}") from None

    # ---------------------------------------------------------------- errors

    @contextmanager
    def _call(self, operation: str, extra_secrets: Sequence[str] = ()) -> Iterator[None]:
        """Translate client errors into one-line ClusterErrors with every known secret redacted."""
        secrets = [*self._secrets, *extra_secrets]
        try:
            yield
        # UnsupportedProductError is an ApiError: it must be caught first.
        except UnsupportedProductError:
            raise ClusterError(
                f"{operation}: {self.settings.display_url} did not identify as Elasticsearch "
                "(no X-Elastic-Product header); check ELASTICSEARCH_URL"
            ) from None
        except ApiError as exc:
            raise _api_error(operation, exc, secrets, self.settings.display_url) from None
        except ConnectionTimeout:
            raise ClusterError(f"{operation}: timed out talking to {self.settings.display_url}") from None
        except ConnectionError as exc:
            raise ClusterError(
                f"{operation}: cannot reach {self.settings.display_url}: {_connection_cause(exc)}"
            ) from None
        except TransportError as exc:
            raise ClusterError(_redact(f"{operation}: {exc.message}", secrets)) from None


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
        detail = reason or _short(_redact(str(body), secrets))
        message = f"{operation}: HTTP {status} {error_type or 'error'}: {detail}{cause}"
    return ClusterError(_redact(message, secrets), status=status, error_type=error_type)


def _connection_cause(exc: ConnectionError) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return "TLS certificate verification failed; set ELASTICSEARCH_CA_CERTS to the cluster's CA certificate"
    if "Connection refused" in text:
        return "connection refused"
    if "reset" in text.lower():
        return "connection reset"
    return type(exc.errors[0]).__name__ if getattr(exc, "errors", None) else "connection failed"


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:197] + "..."


def _redact(text: str, secrets: Sequence[str]) -> str:
    return redact(text, secrets)  # the shared redaction: every secret in play, not only this client's
