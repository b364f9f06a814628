"""Formats reports for people and pipelines (text, json, markdown, csv); holds no client.

`emit(report, fmt, out)` is the one way a command prints its result. `FORMATS` says which formats each
report renders; commands build their `--output` choices from it, so a command never offers a format it
cannot print. This module imports nothing heavy: the renderers (rich, the report types) load on first
`emit`, which keeps `--help` fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

# Report type name -> the formats `emit` renders it in, the default first. tests/provisioning/render checks
# that this table and the renderers in render/dispatch.py agree.
FORMATS: dict[str, tuple[str, ...]] = {
    "Plan": ("text", "json", "markdown"),
    "Applied": ("text", "json"),
    "Clusters": ("text", "json", "markdown"),
    "VerifyReport": ("text", "json", "markdown"),
    "SmokeReport": ("text", "json"),
    "RotationReport": ("text", "json"),
    "UsageReport": ("text", "json", "csv", "markdown"),
    "ModelsReport": ("text", "json", "markdown"),
}


@dataclass(frozen=True)
class View:
    """What a renderer may need besides the report: a title, secrets to mask, where credentials come from."""

    title: str | None = None
    secrets: tuple[str, ...] = ()
    credentials_source: str | None = None


def formats(report: str) -> tuple[str, ...]:
    """The formats a report type (by class name) renders in."""
    return FORMATS[report]


def emit(report: object, fmt: str, out: IO[str], view: View | None = None) -> None:
    """Print `report` in `fmt` to `out`."""
    from provisioning.render.dispatch import renderer

    renderer(type(report), fmt)(report, out, view or View())


__all__ = ["FORMATS", "View", "emit", "formats"]
