"""mypy follows only the pulumi_aws service packages listed in pyproject.toml: a service infra/ starts using
must be added there, or mypy would treat it as Any and stop checking our calls into it."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pulumi_aws

ROOT = Path(__file__).resolve().parent.parent
PULUMI_AWS = Path(pulumi_aws.__file__).parent


def _followed() -> set[str]:
    overrides = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    return {m for o in overrides if o.get("follow_imports") == "normal" for m in o["module"]}


def _services_used(tree: ast.AST) -> set[str]:
    """`aws.<service>` attribute reads where <service> is a pulumi_aws subpackage."""
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "aws"
        and (PULUMI_AWS / node.attr / "__init__.py").is_file()
    }


def _missing(tree: ast.AST) -> set[str]:
    return {s for s in _services_used(tree) if f"pulumi_aws.{s}.*" not in _followed()}


def test_every_pulumi_aws_service_infra_uses_is_followed_by_mypy() -> None:
    used = set[str]()
    for path in (ROOT / "infra").rglob("*.py"):
        used |= _missing(ast.parse(path.read_text(), str(path)))
    assert used == set(), f"add pulumi_aws.<service>.* to the follow_imports='normal' override: {sorted(used)}"


def test_a_service_missing_from_the_list_is_reported() -> None:
    assert _missing(ast.parse("import pulumi_aws as aws\naws.s3.Bucket('b')\naws.iam.Role('r')")) == {"s3"}


def test_every_top_level_module_is_followed() -> None:
    """Top-level modules (Provider, get_caller_identity, ...) are star-imported by pulumi_aws/__init__."""
    top = {f"pulumi_aws.{p.stem}" for p in PULUMI_AWS.glob("*.py") if p.stem != "__init__"}
    assert top - _followed() == set()
