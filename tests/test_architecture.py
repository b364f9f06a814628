"""Layering rules that keep the core testable: which modules may import which libraries and which layers.

Layers (provisioning/): `core` (pure: model, kinds, diff, plan, planning, apply, ...) < `ops` and `adapters`
< `render` < `cli`; `sandbox` serves the stand-in. `catalog/` is shared by `infra/` and `provisioning/` and
imports neither; `infra/` (the Pulumi program) imports nothing from `provisioning`. Imports are read with the
AST, including those inside functions, so a lazy import cannot slip past a rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "provisioning"
CLIENT_LIBRARIES = frozenset({"elasticsearch", "elastic_transport", "urllib3", "boto3", "botocore"})


@dataclass(frozen=True)
class Import:
    name: str  # dotted: `from a.b import c` is `a.b.c`, `import a.b` is `a.b`
    line: int
    type_only: bool  # inside `if TYPE_CHECKING:`


@dataclass(frozen=True)
class Rule:
    """Files under `folder` import none of `libraries` (top-level names) nor any module under `layers`,
    except `allowed` names (a prefix) and `type_only` (relative path, name) pairs used only for annotations."""

    folder: str
    libraries: frozenset[str] = frozenset()
    layers: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    type_only: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    def breaks(self, relative: str, imported: Import) -> bool:
        name = imported.name
        if name.split(".")[0] in self.libraries:
            return True
        if any(name == a or name.startswith(a + ".") for a in self.allowed):
            return False
        if imported.type_only and (relative, name) in self.type_only:
            return False
        return any(name == layer or name.startswith(layer + ".") for layer in self.layers)


INTERNAL = (
    "provisioning.cli",
    "provisioning.ops",
    "provisioning.adapters",
    "provisioning.render",
    "provisioning.sandbox",
)
RULES = {
    # The core decides; it neither talks to a terminal, a cluster nor AWS, nor reaches up a layer.
    "core": Rule(
        "provisioning/core",
        libraries=frozenset({"click", "rich"}) | CLIENT_LIBRARIES,
        layers=INTERNAL,
        # apply's writer Protocol names the credentials type; the adapter resolves and hands in the keys.
        type_only=frozenset({("provisioning/core/apply.py", "provisioning.adapters.credentials.BedrockCredentials")}),
    ),
    # Rendering formats reports; it never holds a client. Redaction is the one adapter it needs: every
    # rendered value passes through it (markdown cells are masked before the output boundary masks again).
    "render": Rule(
        "provisioning/render",
        libraries=CLIENT_LIBRARIES,
        layers=("provisioning.adapters", "provisioning.cli", "provisioning.sandbox"),
        allowed=("provisioning.adapters.redact",),
    ),
    "ops": Rule(
        "provisioning/ops",
        libraries=frozenset({"click", "rich"}),
        layers=("provisioning.cli", "provisioning.render", "provisioning.sandbox"),
    ),
    "adapters": Rule(
        "provisioning/adapters",
        libraries=frozenset({"click", "rich"}),
        layers=("provisioning.cli", "provisioning.render", "provisioning.sandbox"),
    ),
    "catalog": Rule("catalog", layers=("provisioning", "infra")),
    "infra": Rule("infra", layers=("provisioning",)),
}


def imports_of(source: str) -> Iterator[Import]:
    """Every absolute import in a module, at any depth (function bodies included)."""

    def walk(node: ast.AST, type_only: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            yield from (Import(alias.name, node.lineno, type_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield from (Import(f"{node.module}.{alias.name}", node.lineno, type_only) for alias in node.names)
        guarded = isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for child in ast.iter_child_nodes(node):
            in_body = guarded and isinstance(node, ast.If) and child in node.body
            yield from walk(child, type_only or in_body)

    yield from walk(ast.parse(source), False)


def violations(rule: Rule, relative: str, source: str) -> list[str]:
    return [f"{relative}:{i.line}: {i.name}" for i in imports_of(source) if rule.breaks(relative, i)]


def imported_modules(path: Path) -> set[str]:
    return {i.name.split(".")[0] for i in imports_of(path.read_text())}


@pytest.mark.parametrize("layer", sorted(RULES))
def test_each_layer_imports_only_what_it_may(layer: str) -> None:
    rule = RULES[layer]
    files = sorted((ROOT / rule.folder).rglob("*.py"))
    assert files, f"no modules under {rule.folder}"
    found = [v for path in files for v in violations(rule, str(path.relative_to(ROOT)), path.read_text())]
    assert found == []


@pytest.mark.parametrize(
    ("layer", "source"),
    [
        ("core", "import click"),
        ("core", "def f():\n    import boto3"),
        ("core", "from urllib3 import PoolManager"),
        ("core", "from elastic_transport import ApiResponse"),
        ("core", "from provisioning.adapters import aws"),
        ("core", "from provisioning.render.text import plan_text"),
        ("core", "from provisioning.ops.verify import evaluate"),
        ("core", "from provisioning.cli.app import cli"),
        ("core", "from provisioning.sandbox import StandinServer"),
        # A type-only import is allowed only where listed, and only under TYPE_CHECKING.
        ("core", "from provisioning.adapters.credentials import BedrockCredentials"),
        ("core", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from provisioning.adapters.aws import x"),
        ("render", "from elasticsearch import Elasticsearch"),
        ("render", "import urllib3"),
        ("render", "from provisioning.adapters.es_client import EsClient"),
        ("render", "from provisioning.adapters import aws"),
        ("ops", "import click"),
        ("ops", "from provisioning.render.text import plan_text"),
        ("adapters", "import rich"),
        ("adapters", "import click"),
        ("adapters", "from provisioning.cli.app import CliContext"),
        ("adapters", "from provisioning.render.markdown import cell"),
        ("catalog", "from provisioning.core.model import DesiredState"),
        ("catalog", "import infra.constants"),
        ("infra", "from provisioning.core.model import DesiredState"),
        ("infra", "import provisioning"),
    ],
)
def test_each_rule_catches_a_violating_import(layer: str, source: str) -> None:
    relative = "provisioning/core/apply.py" if layer == "core" else f"{RULES[layer].folder}/x.py"
    assert violations(RULES[layer], relative, source)


def test_the_type_only_exception_holds_only_under_type_checking() -> None:
    allowed = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from provisioning.adapters.credentials import BedrockCredentials"
    )
    assert violations(RULES["core"], "provisioning/core/apply.py", allowed) == []
    assert violations(RULES["core"], "provisioning/core/plan.py", allowed)


def test_render_may_use_redaction() -> None:
    assert violations(RULES["render"], "provisioning/render/x.py", "from provisioning.adapters import redact") == []


@pytest.mark.parametrize(
    ("library", "home"),
    [("elasticsearch", "adapters/es_client.py"), ("boto3", "adapters/aws.py"), ("rich", "render/text.py")],
)
def test_each_library_has_one_home(library: str, home: str) -> None:
    users = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if library in imported_modules(p))
    assert users == [home]


def test_only_the_file_loader_catches_pydantic_validation_errors() -> None:
    users = sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if "ValidationError" in p.read_text() and p.name != "errors.py"
    )
    assert users == ["adapters/file_loader.py"]


# Catching `Exception` elsewhere, each for a reason: a write's failure of any kind must become a failed
# result so the ownership ledger still records it; an exception escaping the lock-renewal daemon thread
# would print a traceback and end the renewal silently while apply went on.
RECORDS_ANY_FAILURE = {("apply.py", "_execute"), ("lock.py", "_renew")}
# The CLI's top-level handlers: the group, `main`, and the per-cluster guard of several clusters.
TOP_LEVEL = {"cli/app.py", "cli/fanout.py"}


def _handlers(node: ast.AST, function: str = "") -> list[tuple[str, ast.ExceptHandler]]:
    """Every except clause with the name of the function it is directly in."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        function = node.name
    found = [(function, node)] if isinstance(node, ast.ExceptHandler) else []
    for child in ast.iter_child_nodes(node):
        found += _handlers(child, function)
    return found


def test_no_bare_exception_handlers_in_the_package() -> None:
    """Only the CLI's top-level handlers catch everything, and each turns it into the one `internal error` line."""
    for path in PACKAGE.rglob("*.py"):
        cli = str(path.relative_to(PACKAGE)) in TOP_LEVEL
        for function, node in _handlers(ast.parse(path.read_text())):
            caught = ast.unparse(node.type) if node.type is not None else "everything"
            body = ast.unparse(node)
            top_level = cli and caught == "Exception" and "internal_error" in body
            top_level |= cli and caught == "Exception" and "report_unexpected" in body
            top_level |= caught == "Exception" and (path.name, function) in RECORDS_ANY_FAILURE
            assert top_level or caught not in ("Exception", "BaseException", "everything"), f"{path}:{node.lineno}"
