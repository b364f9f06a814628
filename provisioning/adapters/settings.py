"""Connection settings for Elasticsearch and Kibana, read from the environment and refused when unsafe to send."""

from __future__ import annotations

import ipaddress
import re
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from provisioning.adapters.environment import clean as clean_env
from provisioning.adapters.retry import DEFAULT_TIMEOUT
from provisioning.core.auth_method import auth_method_problem
from provisioning.core.errors import ConnectionSettingsError

# elastic-transport's own default `connections_per_node`: what every command but apply needs.
DEFAULT_CONNECTIONS = 10


@dataclass(frozen=True)
class ConnectionSettings:
    """How to reach Elasticsearch (or Kibana): URL, one auth method, TLS trust, the bound on each call.

    Values from the environment are stripped of surrounding whitespace (CI secret variables often end
    in a newline) and refused, naming the variable and never its value, when they still cannot be
    sent: control characters anywhere, an API key that is not printable ASCII (HTTP headers are
    Latin-1 on the wire and API keys are base64), a `:` in a username (RFC 7617). Basic-auth values
    may be any other Unicode: the client sends them UTF-8 inside base64.

    Transport policy: plain `http://` is refused for any host but loopback unless `allow_http` is
    given (the API key and the Bedrock keys of a create would cross the network in clear text), and a
    CA file with an http URL is refused (it would be silently unused). Proxy variables (`HTTPS_PROXY`,
    `NO_PROXY`) are not honoured: the Elasticsearch client's urllib3 transport has no proxy support,
    and sending credentials through whatever proxy the environment names is a choice this tool does
    not make for you; `proxy_ignored` reports when they are set so the CLI can say so.
    """

    url: str
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_certs: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    proxy_ignored: bool = False
    # HTTP connections kept to the node. Its pool blocks when all are busy (elastic-transport's
    # Urllib3HttpNode, `block=True`), so apply sizes it from `--concurrency` or parallel writes would cap
    # at elastic-transport's default of 10.
    connections: int = DEFAULT_CONNECTIONS

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str],
        url: str | None = None,
        *,
        prefix: str = "ELASTICSEARCH",
        missing: str = "no Elasticsearch URL: set ELASTICSEARCH_URL or pass --es-url",
        timeout: float = DEFAULT_TIMEOUT,
        allow_http: bool = False,
    ) -> ConnectionSettings:
        """`<prefix>_URL` (or `url`), `<prefix>_API_KEY` or `<prefix>_USERNAME` + `<prefix>_PASSWORD`,
        `<prefix>_CA_CERTS`; the prefix is ELASTICSEARCH, or KIBANA for Kibana."""
        url_name = f"{prefix}_URL" if url is None else "--es-url"
        url = clean_env(url if url is not None else environ.get(f"{prefix}_URL"), url_name)
        if not url:
            raise ConnectionSettingsError(missing)
        if any(c.isspace() for c in url):
            raise ConnectionSettingsError(f"{url_name} must not contain spaces or control characters")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (parsing the port is the check: ":99999" or ":92OO" raise here)
        except ValueError:
            raise ConnectionSettingsError(f"{url_name} is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectionSettingsError(f"{url_name} must be an http(s) URL such as https://host.example.com:9200")
        if parts.username or parts.password:
            raise ConnectionSettingsError(
                f"{url_name} must not embed credentials; use {prefix}_API_KEY or {prefix}_USERNAME/PASSWORD"
            )
        api_key = clean_env(environ.get(f"{prefix}_API_KEY"), f"{prefix}_API_KEY")
        username = clean_env(environ.get(f"{prefix}_USERNAME"), f"{prefix}_USERNAME")
        password = clean_env(environ.get(f"{prefix}_PASSWORD"), f"{prefix}_PASSWORD")
        names = (f"{prefix}_API_KEY", f"{prefix}_USERNAME", f"{prefix}_PASSWORD")
        problem = auth_method_problem(api_key, username, password, names=names)
        if problem is not None:
            raise ConnectionSettingsError(problem)
        if api_key and not _API_KEY.fullmatch(api_key):
            raise ConnectionSettingsError(
                f"{prefix}_API_KEY cannot be sent in an HTTP header (it holds spaces or non-ASCII characters); "
                "use the base64 `encoded` value Elasticsearch returned"
            )
        if username and ":" in username:
            raise ConnectionSettingsError(f"{prefix}_USERNAME must not contain ':' (HTTP basic authentication)")
        ca = clean_env(environ.get(f"{prefix}_CA_CERTS"), f"{prefix}_CA_CERTS")
        if ca and parts.scheme == "http":
            raise ConnectionSettingsError(
                f"{prefix}_CA_CERTS is set but {url_name} is http://, so it would be ignored; use https://"
            )
        if ca and not Path(ca).is_file():
            raise ConnectionSettingsError(f"{prefix}_CA_CERTS: no such file (the path is not shown)")
        if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname):
            raise ConnectionSettingsError(
                f"{url_name} is plain http:// to a remote host: credentials would cross the network in clear "
                "text; use https://, or pass --allow-http to accept that"
            )
        # urlsplit lower-cases the scheme: `HTTPS://` must not lose its CA file further on.
        normalized = urlunsplit(parts._replace(scheme=parts.scheme)).rstrip("/")
        return cls(
            url=normalized,
            api_key=SecretStr(api_key) if api_key else None,
            username=username or None,
            password=SecretStr(password) if password else None,
            ca_certs=Path(ca) if ca else None,
            timeout=timeout,
            proxy_ignored=_proxy_applies(environ, parts.hostname),
        )

    @property
    def cleartext(self) -> bool:
        """True for plain http to a host other than loopback (allowed only with --allow-http)."""
        parts = urlsplit(self.url)
        return parts.scheme == "http" and not is_loopback(parts.hostname or "")

    @property
    def display_url(self) -> str:
        """The URL as shown in output: scheme, host, port, path (never credentials or query)."""
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


# What an Elasticsearch or Kibana API key can be: base64 (`encoded`) or `id:key`, printable ASCII.
_API_KEY = re.compile(r"[!-~]+")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _proxy_applies(environ: Mapping[str, str], host: str) -> bool:
    """True when the environment names a proxy that would apply to `host` (which this tool does not use)."""
    proxies = {k.lower(): v for k, v in environ.items() if k.lower() in ("https_proxy", "http_proxy", "all_proxy")}
    if not any(v.strip() for v in proxies.values()):
        return False
    no_proxy = environ.get("NO_PROXY", environ.get("no_proxy", ""))
    # Undocumented in typeshed but stable since Python 3.0: the NO_PROXY matching every HTTP library copies.
    bypass: bool = getattr(urllib.request, "proxy_bypass_environment")(host, {"no": no_proxy})  # noqa: B009
    return not bypass
