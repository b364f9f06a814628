"""The dispatch behind `emit`: (report type, format) -> renderer. Loaded on first use (it imports rich)."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from provisioning.core.outcome import Applied, Clusters
from provisioning.core.plan import Plan
from provisioning.ops.models_report import ModelsReport
from provisioning.ops.rotate import RotationReport
from provisioning.ops.smoke import SmokeReport
from provisioning.ops.usage import UsageReport
from provisioning.ops.verify import VerifyReport
from provisioning.render import View, csv, json, markdown, text

Renderer = Callable[[Any, IO[str], View], None]


def _json(document: Callable[[Any], dict[str, Any]]) -> Renderer:
    return lambda report, out, _view: json.write(document(report), out)


def _markdown(render: Callable[[Any, View], str]) -> Renderer:
    def write(report: Any, out: IO[str], view: View) -> None:
        out.write(render(report, view))

    return write


def _text(render: Callable[[Any, IO[str]], None]) -> Renderer:
    return lambda report, out, _view: render(report, out)


RENDERERS: dict[type, dict[str, Renderer]] = {
    Plan: {
        "text": lambda plan, out, view: text.plan_text(plan, out, credentials_source=view.credentials_source),
        "json": _json(json.plan_document),
        "markdown": _markdown(lambda plan, view: markdown.plan_markdown(plan, view.title, view.secrets)),
    },
    Applied: {
        "text": _text(lambda applied, out: text.apply_text(applied.report, out)),
        "json": _json(lambda applied: json.apply_document(applied.plan, applied.report)),
    },
    Clusters: {
        "text": _text(text.clusters_text),
        "json": _json(json.clusters_document),
        "markdown": _markdown(lambda clusters, _view: markdown.clusters_markdown(clusters)),
    },
    VerifyReport: {
        "text": _text(text.verify_text),
        "json": _json(json.verify_document),
        "markdown": _markdown(lambda report, view: markdown.verify_markdown(report, view.secrets)),
    },
    SmokeReport: {"text": _text(text.smoke_text), "json": _json(json.smoke_document)},
    RotationReport: {"text": _text(text.rotation_text), "json": _json(json.rotation_document)},
    UsageReport: {
        "text": _text(text.usage_text),
        "json": _json(json.usage_document),
        "csv": _text(csv.usage_csv),
        "markdown": _markdown(lambda report, _view: markdown.usage_markdown(report)),
    },
    ModelsReport: {
        "text": _text(text.models_text),
        "json": _json(json.models_document),
        "markdown": _markdown(lambda report, _view: markdown.models_markdown(report)),
    },
}


def renderer(report: type, fmt: str) -> Renderer:
    """The renderer of `fmt` for `report`; a pair the CLI never offers is a bug, not a user error."""
    return RENDERERS[report][fmt]
