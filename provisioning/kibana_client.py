"""Read-only access to Kibana's connector API (managed-llm never writes to Kibana; see kinds/kibana_connectors).

Connection: `KIBANA_URL`, auth `KIBANA_API_KEY` or `KIBANA_USERNAME` + `KIBANA_PASSWORD`, `KIBANA_CA_CERTS`
for a private CA; certificate verification is always on. 429 and 5xx are retried with backoff.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import urllib3

from provisioning.config import ConnectionSettings
from provisioning.errors import ClusterError

RETRY_ON_STATUS = (429, 502, 503, 504)


def kibana_settings(environ: Mapping[str, str]) -> ConnectionSettings:
    """`KIBANA_URL`, `KIBANA_API_KEY` or `KIBANA_USERNAME` + `KIBANA_PASSWORD`, `KIBANA_CA_CERTS`."""
    return ConnectionSettings.from_environment(
        environ, prefix="KIBANA", missing="the file has a kibana section: set KIBANA_URL"
    )


class KibanaClient:
    def __init__(self, settings: ConnectionSettings, *, retries: int = 4, backoff: float = 0.5) -> None:
        self.settings = settings
        headers = {"kbn-xsrf": "managed-llm", "accept": "application/json"}
        if settings.api_key is not None:
            headers["authorization"] = f"ApiKey {settings.api_key.get_secret_value()}"
        elif settings.username is not None and settings.password is not None:
            token = base64.b64encode(f"{settings.username}:{settings.password.get_secret_value()}".encode()).decode()
            headers["authorization"] = f"Basic {token}"
        self._secrets = [s.get_secret_value() for s in (settings.api_key, settings.password) if s is not None]
        retry = urllib3.Retry(
            total=retries, backoff_factor=backoff, status_forcelist=RETRY_ON_STATUS, allowed_methods={"GET"}
        )
        self._http = urllib3.PoolManager(
            headers=headers,
            retries=retry,
            timeout=urllib3.Timeout(total=30),
            cert_reqs="CERT_REQUIRED",
            ca_certs=str(settings.ca_certs) if settings.ca_certs else None,
        )

    def connectors(self) -> list[Mapping[str, Any]]:
        """GET /api/actions/connectors: every connector Kibana shows (preconfigured ones included)."""
        body = self._get("/api/actions/connectors")
        if not isinstance(body, list):
            raise ClusterError("read Kibana connectors: unexpected answer (not a list)")
        return [item for item in body if isinstance(item, dict)]

    def _get(self, path: str) -> Any:
        operation = f"read Kibana {path}"
        try:
            response = self._http.request("GET", f"{self.settings.url}{path}", retries=None)
        except urllib3.exceptions.MaxRetryError as exc:
            reason = exc.reason
            if isinstance(reason, urllib3.exceptions.SSLError):
                cause = "TLS certificate verification failed; set KIBANA_CA_CERTS to Kibana's CA certificate"
            elif isinstance(reason, urllib3.exceptions.ResponseError):
                cause = "still failing after retries"
            else:
                cause = type(reason).__name__ if reason else "connection failed"
            raise ClusterError(f"{operation}: cannot reach {self.settings.url}: {cause}") from None
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterError(f"{operation}: {type(exc).__name__}") from None
        try:
            body = json.loads(response.data or b"null")
        except ValueError:
            body = None
        if response.status >= 400:
            message = body.get("message") if isinstance(body, dict) else None
            text = f"{operation}: HTTP {response.status}: {message or 'error'}"
            for secret in self._secrets:
                text = text.replace(secret, "***")
            raise ClusterError(text, status=response.status)
        return body

    def close(self) -> None:
        self._http.clear()
