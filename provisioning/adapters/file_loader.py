"""Read untrusted files (the declarative YAML file, stack-output JSON) within fixed bounds of size, depth and expansion.

A pull request controls the file, so whatever it holds must end quickly in one `ConfigError` line. Reading:
only regular files (a directory, FIFO or device is refused from `stat` before any read, and again from the
open descriptor, which is opened non-blocking), never more than `MAX_FILE_BYTES` (1 MiB, or the operator's
`MANAGED_LLM_MAX_FILE_MIB`) + 1 bytes, and UTF-8 only: a UTF-8 BOM is allowed;
UTF-16/32, Latin-1, NUL bytes or other binary content are refused as
"not UTF-8 text" with the line where decoding failed. YAML: the safe loader, with bounds enforced while
events stream (nesting depth `MAX_DEPTH`, `MAX_NODES` values) and again on the composed node graph, where
aliases are allowed but may not expand the document past `MAX_NODES` values nor refer to themselves (the
"billion laughs"). With libyaml, a text without anchors is composed by libyaml in C (`CFastLoader`, as
`yaml.CSafeLoader` does) with a tripwire counting nodes and depth as the graph is built; at a bound or on any
YAML error the text is read again by the streaming loader: libyaml's parser under PyYAML's composer, which
pulls each event through `_Bounds.get_event` and words every refusal, with its line (libyaml's own
1,000-level flow limit words as ours). Without libyaml, PyYAML's parser does the same. Bad
scalar values (`2024-13-45`, a 5,000-digit int) are refused with their line instead of escaping as `ValueError`.

`load_file`/`parse_document` turn the YAML into a validated `DesiredState`: duplicate keys, keys that are not
strings, tags beyond plain data (`!!binary`, `!!set`, `!!python/...`), secrets written in the file and every
schema error become one `ConfigError` line `file:line: path: message`. Messages name the field and the rule,
never the value (pydantic's input is dropped and our validators do not interpolate it), so a secret pasted
into any field cannot leak through an error. This is the only module that catches pydantic errors.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from catalog.models import Catalog
from provisioning.adapters import environment
from provisioning.core import cycles
from provisioning.core.credential_keys import names_credential
from provisioning.core.errors import ConfigError
from provisioning.core.model import DesiredState
from provisioning.core.stack_outputs import StackOutputs

MAX_FILE_BYTES = 1024 * 1024
# A real file nests about a dozen levels (role-mapping rules add two per any/all/except); 64 leaves room
# and keeps every recursive walk (composer, validators) far from Python's recursion limit.
MAX_DEPTH = 64
# Every key, value, list item and alias counts once: 1,000 endpoints with 100 role mappings are ~15,000.
# The pure-Python composer spends ~0.7 KB and ~25 µs per value, so a 1 MiB file stays under 2 s and 200 MB.
MAX_NODES = 20_000
# A platform team with a bigger fleet raises both limits in the pipeline's environment, which the file (a
# pull request edits it) cannot set. The worst-case cost of a hostile file grows with them: about 25 µs and
# 0.7 KB per value (libyaml parsing, the bounded composer and validation).
ENV_MAX_FILE_MIB = "MANAGED_LLM_MAX_FILE_MIB"
ENV_MAX_FILE_VALUES = "MANAGED_LLM_MAX_FILE_VALUES"
_MIB_RANGE = (1, 64)
_VALUES_RANGE = (1_000, 2_000_000)
_READ_CHUNK = 64 * 1024
_LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _limit(name: str, default: int, low: int, high: int) -> int:
    """An operator's limit from the environment (digits only, within [low, high]), else `default`."""
    raw = environment.read(os.environ, name, ConfigError)
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high} (the value is not shown)")
    return int(raw)


def max_file_bytes() -> int:
    """MAX_FILE_BYTES, or the operator's `MANAGED_LLM_MAX_FILE_MIB`."""
    return _limit(ENV_MAX_FILE_MIB, MAX_FILE_BYTES // (1024 * 1024), *_MIB_RANGE) * 1024 * 1024


def max_nodes() -> int:
    """MAX_NODES, or the operator's `MANAGED_LLM_MAX_FILE_VALUES`."""
    return _limit(ENV_MAX_FILE_VALUES, MAX_NODES, *_VALUES_RANGE)


def read_text(path: str | Path, what: str = "file") -> str:
    """The UTF-8 text of a regular file of at most MAX_FILE_BYTES, or ConfigError (`<file>[:line]: ...`)."""
    name = str(path)
    limit = max_file_bytes()
    try:
        # stat first: opening a FIFO or a device can block or have side effects.
        _require_regular(os.stat(path), name, what, limit)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            # Checked again on the descriptor: the path may have been swapped since the stat.
            _require_regular(os.fstat(fd), name, what, limit)
            data = _read_at_most(fd, limit + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {what}: {exc.strerror or exc}") from None
    except MemoryError:
        raise ConfigError(f"{name}: cannot read {what}: out of memory") from None
    if len(data) > limit:
        raise ConfigError(f"{name}: {what} larger than {_mib(limit)}; nothing was read past the limit")
    return _decode(data, name)


def _require_regular(status: os.stat_result, name: str, what: str, limit: int) -> None:
    if stat.S_ISDIR(status.st_mode):
        raise ConfigError(f"{name}: cannot read {what}: is a directory")
    if not stat.S_ISREG(status.st_mode):
        raise ConfigError(f"{name}: cannot read {what}: not a regular file (a FIFO, socket or device)")
    if status.st_size > limit:
        raise ConfigError(f"{name}: {what} larger than {_mib(limit)} ({status.st_size} bytes)")


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _decode(data: bytes, name: str) -> str:
    for bom, encoding in _WIDE_BOMS:
        if data.startswith(bom):
            raise ConfigError(f"{name}:1: not UTF-8 text ({encoding} byte-order mark); save the file as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{name}:{line}: not UTF-8 text (byte {data[exc.start]:#04x} cannot be decoded); save the file as UTF-8"
        ) from None
    if (nul := text.find("\0")) >= 0:
        line = text.count("\n", 0, nul) + 1
        raise ConfigError(f"{name}:{line}: not UTF-8 text (a NUL byte: binary or UTF-16 content)")
    return text


def _mib(size: int) -> str:
    return f"{size // (1024 * 1024)} MiB"


class _Scalars:
    """A scalar its type cannot hold (`2024-13-45`, 5,000 digits) is one line, in every loader below."""

    file_name: str

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """As the safe loader's, but a ValueError or OverflowError becomes a ConfigError with the line."""
        try:
            return super().construct_object(node, deep=deep)  # type: ignore[misc]  # SafeConstructor's
        except (ValueError, OverflowError):
            kind = {"int": "integer", "float": "number", "timestamp": "date"}.get(
                str(node.tag).rsplit(":", 1)[-1], "value"
            )
            raise ConfigError.at(
                self.file_name, "", f"not a valid {kind}; quote the value to make it a string", _line(node)
            ) from None


class _Bounds(_Scalars):
    """Depth and size bounds checked on each event, before the composer recurses; shared by both loaders below.

    Mixed in ahead of a parser: `get_event` wraps the parser's (libyaml's or PyYAML's) and the composer is always
    PyYAML's Python `Composer`, which pulls every event through this hook. (The C loader's own composer would
    build the whole graph in C without it.)
    """

    depth: int
    nodes: int
    max_nodes: int
    aliases: bool

    def _start_bounds(self, name: str) -> None:
        self.file_name = name
        self.depth = 0
        self.nodes = 0
        self.max_nodes = max_nodes()
        self.aliases = False

    def get_event(self) -> Any:
        event = super().get_event()  # type: ignore[misc]  # the parser's, next in the MRO
        if isinstance(event, yaml.NodeEvent):
            self.nodes += 1
            if self.nodes > self.max_nodes:
                raise ConfigError.at(
                    self.file_name, "", f"more than {self.max_nodes} keys, values and list items", _line(event)
                )
            if isinstance(event, yaml.AliasEvent):
                self.aliases = True
        if isinstance(event, yaml.CollectionStartEvent):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ConfigError.at(self.file_name, "", f"nested deeper than {MAX_DEPTH} levels", _line(event))
        elif isinstance(event, yaml.CollectionEndEvent):
            self.depth -= 1
        return event


class BoundedLoader(_Bounds, yaml.SafeLoader):
    """The pure-Python safe loader within the bounds: used when PyYAML was built without libyaml."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self._start_bounds(name)


class _Tripped(Exception):
    """The fast loader met a bound: the streaming loader reads the text again and words the refusal."""


# PyYAML exposes libyaml only when it was built with it; without, BoundedLoader alone reads the file.
LIBYAML = yaml.__with_libyaml__
if LIBYAML:
    from yaml._yaml import CParser  # what yaml.CSafeLoader is built on

    class CBoundedLoader(_Bounds, Composer, CParser, SafeConstructor, Resolver):
        """libyaml's scanner and parser (4-5x faster than PyYAML's) under PyYAML's composer, within the bounds.

        Same resolver and constructor as `yaml.CSafeLoader`, so the same data; only composition stays in Python so
        that every event passes `_Bounds.get_event` (streamed: a megabyte of `[` stops at the 65th).
        """

        def __init__(self, text: str, name: str) -> None:
            CParser.__init__(self, text)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)
            self._start_bounds(name)

    class CFastLoader(_Scalars, CParser, SafeConstructor, Resolver):
        """`yaml.CSafeLoader` itself (libyaml composes in C, ~2x faster than CBoundedLoader) with a tripwire.

        libyaml's composer calls the resolver's `descend_resolver` before it composes each node that is not an
        alias, so counting there bounds the node count and depth while the graph is built (a megabyte of `[1,`
        stops at MAX_NODES, not at 150 MB). Nothing is refused here: at a bound, or on any YAML error,
        `load_yaml` reads the text again with CBoundedLoader, whose streamed checks word the refusal (line
        included) exactly as before. Used only for text without an anchor (`&`), so there is no alias and the
        graph is a tree whose size and depth these counts are. PyYAML registers no path resolvers for the
        safe loader, so the resolver's own descend/ascend have nothing to do.
        """

        def __init__(self, text: str, name: str) -> None:
            CParser.__init__(self, text)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self.file_name = name
            self.nodes = 0
            self.depth = 0
            self.max_nodes = max_nodes()

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            self.nodes += 1
            self.depth += 1
            # A scalar at depth MAX_DEPTH + 1 is legal (inside MAX_DEPTH collections); the exact loader decides.
            if self.nodes > self.max_nodes or self.depth > MAX_DEPTH:
                raise _Tripped

        def ascend_resolver(self) -> None:
            self.depth -= 1


def _loader_class() -> type[BoundedLoader | CBoundedLoader]:
    """libyaml's parser when PyYAML has it (`LIBYAML`, which tests switch off to check the fallback)."""
    return CBoundedLoader if LIBYAML else BoundedLoader


def _fast(text: str, name: str) -> tuple[yaml.Node | None, Any] | None:
    """(root node, loader) from the fast C loader, or None when the streaming loader must read the text instead."""
    if not LIBYAML or "&" in text:
        return None
    loader = CFastLoader(text, name)
    try:
        return loader.get_single_node(), loader
    except (_Tripped, yaml.YAMLError):
        loader.dispose()
        return None


def load_yaml(text: str, name: str, check: Callable[[yaml.Node], None]) -> tuple[yaml.Node, Any] | None:
    """Compose `text` within the bounds, run `check` on the node graph, then build the data (None when empty).

    The fast loader first when it can; else, or when it trips, the streaming loader. Only ConfigError leaves:
    YAML errors, RecursionError and MemoryError become one line.
    """
    loader: Any = None
    loader_class = _loader_class()
    try:
        fast = _fast(text, name)
        aliases = False
        if fast is not None:
            node, loader = fast
        else:
            loader = loader_class(text, name)  # PyYAML's reader refuses control characters here, libyaml's later
            node = loader.get_single_node()
            aliases = loader.aliases
        if node is None:
            return None
        if aliases:  # without an alias the graph is a tree the streamed counts already bounded
            check_graph(node, name)
        check(node)
        return node, loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        if exc.problem == _LIBYAML_TOO_DEEP:  # libyaml's scanner stops at 1,000 levels, before an event passes ours
            raise ConfigError.at(name, "", f"nested deeper than {MAX_DEPTH} levels", line) from None
        # PyYAML splits some messages in two: context "expected a single document", problem "but found ...".
        split = exc.context and exc.problem and exc.problem.startswith("but ")
        what = f"{exc.context}, {exc.problem}" if split else str(exc.problem or exc.context)
        raise ConfigError.at(name, "", f"malformed YAML: {clip(what, 120)}", line) from None
    except yaml.reader.ReaderError as exc:
        if loader_class is BoundedLoader:
            line = text.count("\n", 0, exc.position) + 1
        else:  # libyaml reports the offset in the UTF-8 bytes it reads, not in characters
            line = text.encode().count(b"\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ConfigError.at(name, "", f"character {char:#06x} is not allowed in YAML", line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: malformed YAML: {clip(str(exc))}") from None
    except RecursionError:
        raise ConfigError(f"{name}: nested too deeply") from None
    except MemoryError:
        raise ConfigError(f"{name}: out of memory while reading the file") from None
    finally:
        if loader is not None:
            loader.dispose()


def check_graph(root: yaml.Node, name: str) -> None:
    """Refuse aliases that refer to themselves or expand the document past MAX_NODES values or MAX_DEPTH levels.

    Aliases make the composed graph a DAG; walking it as a tree (as every later step does) costs its
    expanded size, which grows exponentially with nested aliases. Sizes are counted once per node here.
    """
    limit = max_nodes()
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[yaml.Node, list[yaml.Node] | None]] = [(root, None)]
    while stack:
        node, kids = stack.pop()
        key = id(node)
        if kids is not None:  # leaving: every kid is measured
            size[key] = 1 + sum(size[id(kid)] for kid in kids)
            # Collections count as levels, scalars do not: the streamed depth rule, so an alias elsewhere in
            # the file never changes whether a value is too deep.
            height[key] = (0 if isinstance(node, yaml.ScalarNode) else 1) + max(
                (height[id(kid)] for kid in kids), default=0
            )
            if size[key] > limit:
                raise ConfigError.at(
                    name,
                    "",
                    f"aliases expand this value to more than {limit} keys, values and list items",
                    _line(node),
                )
            if height[key] > MAX_DEPTH:
                raise ConfigError.at(name, "", f"aliases nest this value deeper than {MAX_DEPTH} levels", _line(node))
            continue
        if key in size:
            continue
        if key in entered:
            raise ConfigError.at(
                name, "", "the anchor on this line is used inside itself (a recursive alias)", _line(node)
            )
        entered.add(key)
        kids = _children(node)
        stack.append((node, kids))
        stack.extend((kid, None) for kid in reversed(kids))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _line(item: yaml.Node | yaml.Event) -> int | None:
    mark = item.start_mark
    return mark.line + 1 if mark is not None else None


def clip(text: str, limit: int = 80) -> str:
    """`text` cut to `limit` characters: keys, tags and parser messages come from the file and may be huge."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    with cycles.paused():  # pure and allocation-heavy (provisioning/core/cycles.py)
        return _parse_document(text, name, catalog)


def _parse_document(text: str, name: str, catalog: Catalog | None) -> DesiredState:
    lines: dict[PathKey, int] = {}
    loaded = load_yaml(text, name, lambda node: _index(node, (), lines, name))
    if loaded is None:
        raise ConfigError(
            f"{name}: the file is empty; expected a mapping with bedrock, inference_endpoints, role_mappings"
        )
    data = loaded[1]
    # The node graph (a node and two marks per value, ~40 % of the peak at 10,000 objects) is not needed past here.
    del loaded
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
            # Any depth, any spelling (camelCase, kebab-case, ...): provisioning/core/credential_keys.py.
            if isinstance(key, str) and names_credential(key):
                message = hint if "metadata" not in path else "the key names a credential; " + _METADATA_HINT
                raise ConfigError.at(name, _render_path(child_path), message, _path_line(lines, child_path))
            _refuse_secrets(child, child_path, lines, name)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _refuse_secrets(child, (*path, index), lines, name)
    elif isinstance(value, str) and _AWS_ACCESS_KEY_ID.search(value):
        raise ConfigError.at(
            name, _render_path(path), f"looks like an AWS access key id; {hint}", _path_line(lines, path)
        )


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
    return ConfigError.at(name, _render_path(loc), f"{message}{more}", _path_line(lines, loc))


def _path_line(lines: Mapping[PathKey, int], path: PathKey) -> int | None:
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
