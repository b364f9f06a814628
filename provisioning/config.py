"""Load the declarative file into a validated `DesiredState`, and read connection settings from the environment.

YAML is parsed with the safe loader within the bounds of `file_loader` (regular files of at most 1 MiB,
UTF-8 only with an optional BOM, bounded depth and alias expansion). Duplicate keys, keys that are not
strings, tags beyond plain data (`!!binary`, `!!set`, `!!python/...`), secrets written in the file and every
schema error become one `ConfigError` line `file:line: path: message` (the value itself is never echoed, so
a mistyped secret cannot leak through an error). This is the only module that catches pydantic errors.
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
from provisioning.errors import ConfigError, ConnectionSettingsError
from provisioning.file_loader import clip, load_yaml, read_text
from provisioning.model import DesiredState
from provisioning.stack_outputs import StackOutputs

PathKey = tuple[str | int, ...]

# Keys that hold secrets anywhere in the file (`secret_arn` names a secret; it is not one).
SECRET_KEYS = frozenset(
    {
        "access_key",
        "secret_key",
        "access_key_id",
        "secret_access_key",
        "aws_access_key_id",
        "aws_secret_access_key",
        "session_token",
        "api_key",
        "apikey",
        "password",
        "secret",
        "token",
        "private_key",
    }
)
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


def _refuse_secrets(value: Any, path: PathKey, lines: Mapping[PathKey, int], name: str) -> None:
    hint = (
        "secrets do not belong in the file; "
        "set BEDROCK_ACCESS_KEY_ID/BEDROCK_SECRET_ACCESS_KEY or bedrock.credentials.secret_arn"
    )
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = (*path, key)
            if isinstance(key, str) and key.lower() in SECRET_KEYS:
                raise ConfigError.at(name, _render_path(child_path), hint, _line(lines, child_path))
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
