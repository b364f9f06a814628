"""Layering rules that keep the core testable: which modules may import which libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "provisioning"
PURE = ["diff.py", "plan.py", "model.py", "planner.py", *(f"kinds/{p.name}" for p in (PACKAGE / "kinds").glob("*.py"))]
FORBIDDEN_IN_CORE = {"click", "rich", "elasticsearch", "elastic_transport", "boto3", "botocore"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("relative", PURE)
def test_core_modules_know_nothing_of_terminal_client_or_aws(relative: str) -> None:
    assert not imported_modules(PACKAGE / relative) & FORBIDDEN_IN_CORE


@pytest.mark.parametrize(
    ("library", "home"), [("elasticsearch", "es_client.py"), ("boto3", "aws.py"), ("rich", "render.py")]
)
def test_each_library_has_one_home(library: str, home: str) -> None:
    users = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if library in imported_modules(p))
    assert users == [home]


def test_only_config_catches_pydantic_validation_errors() -> None:
    users = sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if "ValidationError" in p.read_text() and p.name != "errors.py"
    )
    assert users == ["config.py"]


# Catching `Exception` elsewhere, each for a reason: a write's failure of any kind must become a failed
# result so the ownership ledger still records it; an exception escaping the lock-renewal daemon thread
# would print a traceback and end the renewal silently while apply went on.
RECORDS_ANY_FAILURE = {("apply.py", "_execute"), ("lock.py", "_renew")}


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
        for function, node in _handlers(ast.parse(path.read_text())):
            caught = ast.unparse(node.type) if node.type is not None else "everything"
            body = ast.unparse(node)
            top_level = path.name == "cli.py" and caught == "Exception" and "internal_error" in body
            top_level |= path.name == "cli.py" and caught == "Exception" and "report_unexpected" in body
            top_level |= caught == "Exception" and (path.name, function) in RECORDS_ANY_FAILURE
            assert top_level or caught not in ("Exception", "BaseException", "everything"), f"{path}:{node.lineno}"
