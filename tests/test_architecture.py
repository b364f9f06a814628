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


def test_no_bare_exception_handlers_in_the_package() -> None:
    """Only the CLI's top-level handlers catch everything, and each turns it into the one `internal error` line."""
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ExceptHandler):
                caught = ast.unparse(node.type) if node.type is not None else "everything"
                body = ast.unparse(node)
                top_level = path.name == "cli.py" and caught == "Exception" and "internal_error" in body
                top_level |= path.name == "cli.py" and caught == "Exception" and "report_unexpected" in body
                assert top_level or caught not in ("Exception", "BaseException", "everything"), f"{path}:{node.lineno}"
