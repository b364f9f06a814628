"""Load the declarative file into a validated `DesiredState`, and read connection settings from the environment.

YAML is parsed with the safe loader; duplicate keys, secrets written in the file and every schema error
become one `ConfigError` line `file:line: path: message` (the value itself is never echoed, so a
mistyped secret cannot leak through an error). This is the only module that catches pydantic errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import SecretStr, ValidationError

from provisioning.catalog import Catalog
from provisioning.credential_keys import names_credential
from provisioning.errors import ConfigError, ConnectionSettingsError
from provisioning.model import DesiredState
from provisioning.stack_outputs import StackOutputs

PathKey = tuple[str | int, ...]

_AWS_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")


class _Loader(yaml.SafeLoader):
    """Safe loader; mapping keys are checked for duplicates while indexing line numbers."""


def load_file(path: str | Path) -> DesiredState:
    """Parse and validate the declarative file, or raise ConfigError (one line, no value echoed)."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read file: {exc.strerror or exc}") from None
    return parse_document(text, name)


def parse_document(text: str, name: str, catalog: Catalog | None = None) -> DesiredState:
    lines: dict[PathKey, int] = {}
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError(
                f"{name}: the file is empty; expected a mapping with bedrock, inference_endpoints, role_mappings"
            )
        _index(node, (), lines, name)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError.at(name, "", f"malformed YAML: {exc.problem or exc.context}", line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: malformed YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a mapping at the top level, found {type(data).__name__}")
    _refuse_secrets(data, (), lines, name)
    try:
        return DesiredState.model_validate(data, context={"catalog": catalog} if catalog is not None else None)
    except ValidationError as exc:
        raise _config_error(exc, lines, name) from None


def _index(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], name: str) -> None:
    """Record the line of every path and refuse duplicate mapping keys (YAML's last-one-wins hides typos)."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise ConfigError.at(name, _render_path((*path, key)), "duplicate key", key_node.start_mark.line + 1)
            seen.add(key)
            _index(value_node, (*path, key), lines, name)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(item, (*path, index), lines, name)


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
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class ConnectionSettings:
    """How to reach Elasticsearch (or Kibana): URL, one auth method, TLS trust. Secrets stay SecretStr."""

    url: str
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_certs: Path | None = None

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str],
        url: str | None = None,
        *,
        prefix: str = "ELASTICSEARCH",
        missing: str = "no Elasticsearch URL: set ELASTICSEARCH_URL or pass --es-url",
    ) -> ConnectionSettings:
        """`<prefix>_URL` (or `url`), `<prefix>_API_KEY` or `<prefix>_USERNAME` + `<prefix>_PASSWORD`,
        `<prefix>_CA_CERTS`; the prefix is ELASTICSEARCH, or KIBANA for Kibana."""
        url = url or environ.get(f"{prefix}_URL")
        if not url:
            raise ConnectionSettingsError(missing)
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (parsing the port is the check: ":99999" or ":92OO" raise here)
        except ValueError:
            raise ConnectionSettingsError(f"{prefix}_URL is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectionSettingsError(f"{prefix}_URL must be an http(s) URL such as https://host.example.com:9200")
        if parts.username or parts.password:
            raise ConnectionSettingsError(
                f"{prefix}_URL must not embed credentials; use {prefix}_API_KEY or {prefix}_USERNAME/PASSWORD"
            )
        api_key = environ.get(f"{prefix}_API_KEY") or None
        username = environ.get(f"{prefix}_USERNAME") or None
        password = environ.get(f"{prefix}_PASSWORD") or None
        if api_key and (username or password):
            raise ConnectionSettingsError(
                f"set either {prefix}_API_KEY or {prefix}_USERNAME/{prefix}_PASSWORD, not both"
            )
        if bool(username) != bool(password):
            raise ConnectionSettingsError(f"{prefix}_USERNAME and {prefix}_PASSWORD must be set together")
        ca = environ.get(f"{prefix}_CA_CERTS") or None
        if ca is not None and not Path(ca).is_file():
            raise ConnectionSettingsError(f"{prefix}_CA_CERTS: no such file: {ca}")
        return cls(
            url=url.rstrip("/"),
            api_key=SecretStr(api_key) if api_key else None,
            username=username,
            password=SecretStr(password) if password else None,
            ca_certs=Path(ca) if ca else None,
        )

    @property
    def display_url(self) -> str:
        """The URL as shown in output: scheme, host, port, path (never credentials or query)."""
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def load_stack_outputs(path: str | Path) -> StackOutputs:
    name = str(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read stack outputs: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name}:{exc.lineno}: not JSON (expected `pulumi stack output --json`)") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{name}: expected a JSON object of stack outputs")
    try:
        return StackOutputs.model_validate({**document, "source": f"stack outputs {name}"})
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{name}: {where}: {first['msg']}") from None
