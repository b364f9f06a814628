"""Load the declarative file into a validated `DesiredState`, and read connection settings from the environment.

YAML is parsed with the safe loader within the bounds of `file_loader` (regular files of at most 1 MiB,
UTF-8 only with an optional BOM, bounded depth and alias expansion). Duplicate keys, keys that are not
strings, tags beyond plain data (`!!binary`, `!!set`, `!!python/...`), secrets written in the file and every
schema error become one `ConfigError` line `file:line: path: message`. Messages name the field and the rule,
never the value (pydantic's input is dropped and our validators do not interpolate it), so a secret pasted
into any field cannot leak through an error. This is the only module that catches pydantic errors.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import SecretStr, ValidationError

from provisioning.catalog import Catalog
from provisioning.credential_keys import names_credential
from provisioning.environment import clean as clean_env
from provisioning.errors import ConfigError, ConnectionSettingsError
from provisioning.file_loader import clip, load_yaml, read_text
from provisioning.model import DesiredState
from provisioning.retry import DEFAULT_TIMEOUT
from provisioning.stack_outputs import StackOutputs

PathKey = tuple[str | int, ...]

_AWS_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_YAML_TAG = "tag:yaml.org,2002:"
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"  # `<<: *defaults`, resolved by the safe loader
# Plain data only; dates stay so the model can say "quote dates" where it reads them.
_KINDS = {
    _STR: "a string",
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "a date",
}
_DATA_TAGS = frozenset({*_KINDS, "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})
_PLAIN = "the file holds only strings, numbers, booleans, null, lists and mappings"


def load_file(path: str | Path) -> DesiredState:
    """Parse and validate the declarative file, or raise ConfigError (one line, no value echoed)."""
    name = str(path)
    return parse_document(read_text(path), name)


def parse_document(text: str, name: str, catalog: Catalog | None = None) -> DesiredState:
    lines: dict[PathKey, int] = {}
    loaded = load_yaml(text, name, lambda node: _index(node, (), lines, name))
    if loaded is None:
        raise ConfigError(
            f"{name}: the file is empty; expected a mapping with bedrock, inference_endpoints, role_mappings"
        )
    _, data = loaded
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a mapping at the top level, found {type(data).__name__}")
    _refuse_secrets(data, (), lines, name)
    try:
        return DesiredState.model_validate(data, context={"catalog": catalog} if catalog is not None else None)
    except ValidationError as exc:
        raise _config_error(exc, lines, name) from None


def _index(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], name: str) -> None:
    """Record the line of every path; refuse duplicate keys (YAML's last-one-wins hides typos), keys that are
    not strings and tags outside plain data. Runs after `check_graph`, so walking aliases as a tree is bounded."""
    line = node.start_mark.line + 1
    lines[path] = line
    if node.tag not in _DATA_TAGS:
        raise ConfigError.at(
            name, _render_path(path), f"the tag {clip(_short_tag(node.tag), 40)} is not allowed; {_PLAIN}", line
        )
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in (_STR, _MERGE):
                found = _KINDS.get(key_node.tag, "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping")
                raise ConfigError.at(
                    name, _render_path(path), f"keys must be strings, found {found} (quote the key)", key_line
                )
            key = str(key_node.value)
            if key in seen:
                raise ConfigError.at(name, _render_path((*path, key)), "duplicate key", key_line)
            seen.add(key)
            _index(value_node, (*path, key), lines, name)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(item, (*path, index), lines, name)


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag


# Role-mapping metadata is stored in the cluster and returned to every reader of role mappings.
_METADATA_HINT = "secrets do not belong in role-mapping metadata, which any reader of role mappings sees"


def _refuse_secrets(value: Any, path: PathKey, lines: Mapping[PathKey, int], name: str) -> None:
    hint = (
        "secrets do not belong in the file; "
        "set BEDROCK_ACCESS_KEY_ID/BEDROCK_SECRET_ACCESS_KEY or bedrock.credentials.secret_arn"
    )
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = (*path, key)
            # Any depth, any spelling (camelCase, kebab-case, ...): provisioning/credential_keys.py.
            if isinstance(key, str) and names_credential(key):
                message = hint if "metadata" not in path else "the key names a credential; " + _METADATA_HINT
                raise ConfigError.at(name, _render_path(child_path), message, _line(lines, child_path))
            _refuse_secrets(child, child_path, lines, name)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _refuse_secrets(child, (*path, index), lines, name)
    elif isinstance(value, str) and _AWS_ACCESS_KEY_ID.search(value):
        raise ConfigError.at(name, _render_path(path), f"looks like an AWS access key id; {hint}", _line(lines, path))


def _config_error(exc: ValidationError, lines: Mapping[PathKey, int], name: str) -> ConfigError:
    errors = exc.errors(include_input=False, include_url=False)
    first = errors[0]
    loc: PathKey = tuple(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required key is missing"
    more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return ConfigError.at(name, _render_path(loc), f"{message}{more}", _line(lines, loc))


def _line(lines: Mapping[PathKey, int], path: PathKey) -> int | None:
    """The line of `path`, or of its closest ancestor present in the file (a missing key's parent)."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _render_path(path: PathKey) -> str:
    out = ""
    for part in path:
        part = part if isinstance(part, int) else clip(str(part), 64)
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


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
        if api_key and (username or password):
            raise ConnectionSettingsError(
                f"set either {prefix}_API_KEY or {prefix}_USERNAME/{prefix}_PASSWORD, not both"
            )
        if bool(username) != bool(password):
            raise ConnectionSettingsError(f"{prefix}_USERNAME and {prefix}_PASSWORD must be set together")
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


def load_stack_outputs(path: str | Path) -> StackOutputs:
    """`pulumi stack output --json`, read with the declarative file's bounds (regular file, 1 MiB, UTF-8)."""
    name = str(path)
    text = read_text(path, "stack outputs")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name}:{exc.lineno}: not JSON (expected `pulumi stack output --json`)") from None
    except (ValueError, RecursionError):  # a 5,000-digit number, or nesting past the decoder's limit
        raise ConfigError(f"{name}: not JSON the tool can read (expected `pulumi stack output --json`)") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{name}: expected a JSON object of stack outputs")
    try:
        return StackOutputs.model_validate({**document, "source": f"stack outputs {name}"})
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = clip(".".join(str(p) for p in first["loc"]))
        raise ConfigError(f"{name}: {where}: {first['msg']}") from None
