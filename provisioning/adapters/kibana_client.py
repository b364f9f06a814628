"""Read-only access to Kibana's connector API (managed-llm never writes to Kibana; see kinds/kibana_connectors).

Connection: `KIBANA_URL`, auth `KIBANA_API_KEY` or `KIBANA_USERNAME` + `KIBANA_PASSWORD`, `KIBANA_CA_CERTS`
for a private CA; certificate verification is always on. 429/502/503/504 and connection failures are
retried with the shared policy of provisioning/adapters/retry.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Self

import urllib3

from provisioning.adapters.redact import redact
from provisioning.adapters.retry import (
    DEFAULT_TIMEOUT,
    DROPPED_DURING_TLS,
    RETRY_ON_STATUS,
    GaveUp,
    RetryPolicy,
    Verdict,
    dropped_during_tls,
)
from provisioning.adapters.settings import ConnectionSettings
from provisioning.core.errors import ClusterError


def kibana_settings(
    environ: Mapping[str, str], *, timeout: float = DEFAULT_TIMEOUT, allow_http: bool = False
) -> ConnectionSettings:
    """`KIBANA_URL`, `KIBANA_API_KEY` or `KIBANA_USERNAME` + `KIBANA_PASSWORD`, `KIBANA_CA_CERTS`."""
    return ConnectionSettings.from_environment(
        environ,
        prefix="KIBANA",
        missing="the file has a kibana section: set KIBANA_URL",
        timeout=timeout,
        allow_http=allow_http,
    )


class _RetryableStatus(Exception):
    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        super().__init__(response.status)
        self.response = response


class KibanaClient:
    """GETs with the same retry policy as Elasticsearch calls (provisioning/adapters/retry.py), urllib3's own off.

    urllib3's `Retry` would honour `Retry-After` but its backoff has no jitter unless asked and it
    cannot bound the total time of repeated timeouts, so one policy serves both clients.
    """

    def __init__(self, settings: ConnectionSettings, *, retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        headers = {"kbn-xsrf": "managed-llm", "accept": "application/json"}
        if settings.api_key is not None:
            headers["authorization"] = f"ApiKey {settings.api_key.get_secret_value()}"
        elif settings.username is not None and settings.password is not None:
            token = base64.b64encode(f"{settings.username}:{settings.password.get_secret_value()}".encode()).decode()
            headers["authorization"] = f"Basic {token}"
        self._secrets = [s.get_secret_value() for s in (settings.api_key, settings.password) if s is not None]
        self._http = urllib3.PoolManager(
            headers=headers,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=str(settings.ca_certs) if settings.ca_certs else None,
        )

    def connectors(self) -> list[Mapping[str, Any]]:
        """GET /api/actions/connectors: every connector Kibana shows (preconfigured ones included)."""
        operation = "read Kibana connectors"
        body = self._get("/api/actions/connectors")
        if not isinstance(body, list):
            raise ClusterError(f"{operation}: unexpected answer: not a list")
        for index, item in enumerate(body):
            if not isinstance(item, dict):
                raise ClusterError(f"{operation}: unexpected answer: connector [{index}] is not an object")
            for key in ("id", "name", "connector_type_id"):
                if not isinstance(item.get(key), str):
                    raise ClusterError(f"{operation}: unexpected answer: connector [{index}].{key} is not a string")
            if item.get("config") is not None and not isinstance(item["config"], dict):
                raise ClusterError(f"{operation}: unexpected answer: connector [{index}].config is not an object")
        return body

    def _attempt(self, path: str, left: float) -> urllib3.BaseHTTPResponse:
        response = self._http.request(
            "GET",
            f"{self.settings.url}{path}",
            timeout=urllib3.Timeout(total=min(self.retry.read_timeout, left)),
        )
        if response.status in RETRY_ON_STATUS:
            raise _RetryableStatus(response)
        return response

    def _judge(self, exc: Exception) -> Verdict:
        if isinstance(exc, _RetryableStatus):
            return Verdict(True, self.retry.retry_after(exc.response.headers.get("retry-after")))
        # Certificate failures do not heal by themselves; refused, reset (during TLS too) and timed-out GETs may.
        return Verdict(not isinstance(exc, urllib3.exceptions.SSLError) or dropped_during_tls(exc))

    def _get(self, path: str) -> Any:
        operation = f"read Kibana {path}"
        try:
            response = self.retry.run(
                self.settings.timeout,
                lambda left: self._attempt(path, left),
                self._judge,
                (_RetryableStatus, urllib3.exceptions.HTTPError),
            )
        except GaveUp as gave_up:
            last = gave_up.last
            if isinstance(last, _RetryableStatus):
                response = last.response
            else:
                if isinstance(last, urllib3.exceptions.SSLError) and dropped_during_tls(last):
                    cause = DROPPED_DURING_TLS
                elif isinstance(last, urllib3.exceptions.SSLError):
                    cause = "TLS certificate verification failed; set KIBANA_CA_CERTS to Kibana's CA certificate"
                elif isinstance(last, urllib3.exceptions.TimeoutError):
                    cause = "timed out"
                else:
                    cause = type(last).__name__
                raise ClusterError(
                    f"{operation}: cannot reach {self.settings.display_url}: {cause}{gave_up.suffix}"
                ) from None
        try:
            body = json.loads(response.data or b"null")
        except ValueError:
            if response.status < 400:
                raise ClusterError(f"{operation}: unexpected answer: not JSON") from None
            body = None
        if response.status >= 400:
            message = body.get("message") if isinstance(body, dict) else None
            text = f"{operation}: HTTP {response.status}: {message or 'error'}"
            raise ClusterError(redact(text, self._secrets), status=response.status)
        return body

    def close(self) -> None:
        self._http.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        """`with context.connect(settings) as client:` closes the connections however the block ends."""
        self.close()
