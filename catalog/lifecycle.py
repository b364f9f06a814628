"""Model lifecycle on a given day: the one-line findings plan, verify and the stack give on Legacy and EOL models.

The catalog holds the dates (AWS's model-lifecycle page, Elastic's supported-models table); this module turns
them into findings for `today`, which every caller reads through `today()` so no date is ever fixed in code.
A model the catalog does not know gets no lifecycle claim, only a pointer to `managed-llm models`, which
reads Bedrock's live `modelLifecycle`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from catalog.models import Catalog, CatalogModel, Preset

State = Literal["ACTIVE", "LEGACY", "EOL", "UNKNOWN"]
UNKNOWN_HINT = "unknown lifecycle: run managed-llm models"


def today() -> date:
    """Today's date in UTC: Bedrock's lifecycle dates are calendar days, and CI runners live in UTC."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Assessment:
    """A model id, its catalog entry (None when unknown) and its state on the day assessed."""

    model: str
    entry: CatalogModel | None
    state: State

    @property
    def eol_date(self) -> date | None:
        return self.entry.lifecycle.eol_date if self.entry is not None else None

    @property
    def successor(self) -> str | None:
        return self.entry.lifecycle.successor if self.entry is not None else None

    def describe(self) -> str:
        """`<model> (<name>) is past EOL since <date>; successor <id>` and the like; one line, no period."""
        if self.entry is None:
            return f"{self.model}: {UNKNOWN_HINT}"
        name = f"{self.model} ({self.entry.name})"
        eol = self.eol_date.isoformat() if self.eol_date else "not announced"
        move = (
            f"successor {self.successor}" if self.successor else "no successor in the catalog (run managed-llm models)"
        )
        if self.state == "EOL":
            return f"{name} is past EOL since {eol}: Bedrock refuses calls to it; {move}"
        if self.state == "LEGACY":
            return f"{name} is Legacy on Bedrock, EOL {eol}; {move}"
        return f"{name} is Active on Bedrock"


def assess(model: str, catalog: Catalog, on: date) -> Assessment:
    entry = catalog.model(model)
    return Assessment(model, entry, entry.state(on) if entry is not None else "UNKNOWN")


def elastic_meaning(preset: Preset, catalog: Catalog, on: date) -> str | None:
    """`Elastic's General Purpose LLM v1 was Claude 3.7 Sonnet, past EOL 2026-04-28`, computed for `on`."""
    if preset.elastic_model is None:
        return None
    found = assess(preset.elastic_model, catalog, on)
    if found.entry is None:
        return None
    eol = found.eol_date.isoformat() if found.eol_date else "not announced"
    match found.state:
        case "EOL":
            return f"Elastic's {preset.name} was {found.entry.name}, past EOL {eol}"
        case "LEGACY":
            return f"Elastic's {preset.name} is {found.entry.name}, Legacy on Bedrock, EOL {eol}"
        case _:
            return f"Elastic's {preset.name} is {found.entry.name}, Active on Bedrock"


@dataclass(frozen=True)
class Finding:
    """What a plan says about one endpoint's model: `refuse` stops the plan, `warn` and `note` do not."""

    endpoint: str
    level: Literal["refuse", "warn", "note"]
    assessment: Assessment
    message: str


def endpoint_findings(endpoints: Iterable[tuple[str, str, bool]], catalog: Catalog, on: date) -> tuple[Finding, ...]:
    """Findings for (endpoint id, model, written) triples, `written` when the plan creates or replaces it.

    Writing onto a model past EOL is refused: Elasticsearch's create makes a validation call Bedrock refuses.
    An endpoint that already exists on such a model and is not rewritten is only warned about (loudly: every
    call through it fails), so that a plan can still show it, prune it or move it to the successor.
    """
    found = []
    for endpoint, model, written in endpoints:
        seen = assess(model, catalog, on)
        if seen.state == "EOL" and written:
            found.append(Finding(endpoint, "refuse", seen, f"inference endpoint {endpoint}: {seen.describe()}"))
        elif seen.state == "EOL":
            message = (
                f"inference endpoint {endpoint} is BROKEN: {seen.describe()}; change its model in the file "
                "(plan shows a replace) or prune it"
            )
            found.append(Finding(endpoint, "warn", seen, message))
        elif seen.state == "LEGACY":
            found.append(Finding(endpoint, "warn", seen, f"inference endpoint {endpoint}: {seen.describe()}"))
        elif seen.state == "UNKNOWN":
            found.append(Finding(endpoint, "note", seen, f"inference endpoint {endpoint}: {seen.describe()}"))
    return tuple(found)


@dataclass(frozen=True)
class PresetResolution:
    """What a preset resolved to for one endpoint, and what Elastic means by the same name."""

    endpoint: str
    preset: str
    model: str
    overridden: bool
    elastic: str | None

    @property
    def line(self) -> str:
        target = f"{self.model} (model set by the file)" if self.overridden else self.model
        elastic = f" ({self.elastic})" if self.elastic else ""
        return f"preset {self.preset} -> {target}{elastic}; endpoint {self.endpoint}"


def resolve_presets(
    endpoints: Iterable[tuple[str, str, str]], catalog: Catalog, on: date
) -> tuple[PresetResolution, ...]:
    """One resolution per (endpoint id, preset id, model) of the file's preset endpoints."""
    resolved = []
    for endpoint, name, model in endpoints:
        preset = catalog.preset(name)
        if preset is None:
            continue
        elastic = elastic_meaning(preset, catalog, on)
        resolved.append(PresetResolution(endpoint, preset.id, model, model != preset.model, elastic))
    return tuple(resolved)
