"""`models`: the account's live view of Bedrock's models joined with the shipped catalog and what is in use.

One row per model in the catalog, in the file's endpoints (presets resolved) or in the stack's allow-list.
Live facts beat shipped ones: lifecycle from `ListFoundationModels` (`modelLifecycle`: status ACTIVE or
LEGACY, and `legacyTime` / `publicExtendedAccessTime` / `endOfLifeTime` from botocore 1.42.59), `us.`
profiles from `ListInferenceProfiles`, access from `GetFoundationModelAvailability`
(botocore/data/bedrock/2023-04-20/service-2.json). Where live and shipped disagree, both are shown.

Access is granted when `authorizationStatus` is AUTHORIZED and `entitlementAvailability` and
`regionAvailability` are AVAILABLE; an agreement that is PENDING or in ERROR also blocks it (AWS does not
document what NOT_AVAILABLE means for models that need no Marketplace agreement, so that value alone does
not). A model that is past EOL, or that the caller cannot use, fails the command only when the file or the
stack uses it. Everything but `read_models` is pure.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from catalog.models import Catalog, CatalogModel, ModelIdError, Price, load_catalog, parse_model_id
from provisioning.core.errors import EXIT_ERROR, EXIT_OK, ConfigError
from provisioning.core.model import DesiredState
from provisioning.core.stack_outputs import StackOutputs

LIFECYCLE_STATUSES = ("ACTIVE", "LEGACY")
# Server strings end up in tables and pull-request comments: shown clipped and printable only.
MAX_SHOWN = 120


class Access(StrEnum):
    GRANTED = "granted"
    NOT_GRANTED = "not granted"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LiveModel:
    """One FoundationModelSummary: its lifecycle status and dates as Bedrock reports them."""

    model_id: str
    status: str | None
    legacy: date | None = None
    public_extended_access: date | None = None
    eol: date | None = None


@dataclass(frozen=True)
class LiveView:
    """What Bedrock answered in one region: models by id, `us.` profiles by id (-> regions), availability."""

    region: str
    models: Mapping[str, LiveModel]
    profiles: Mapping[str, tuple[str, ...]]
    availability: Mapping[str, Mapping[str, Any] | str]


@dataclass(frozen=True)
class Dated:
    """A date as Bedrock reports it and as the catalog ships it; Bedrock's wins."""

    live: date | None
    catalog: date | None

    @property
    def value(self) -> date | None:
        return self.live if self.live is not None else self.catalog

    def label(self) -> str | None:
        if self.value is None:
            return None
        if self.live is not None and self.catalog is not None and self.live != self.catalog:
            return f"{self.live} (catalog: {self.catalog})"
        return str(self.value)


@dataclass(frozen=True)
class ModelRow:
    model: str
    name: str | None
    foundation_model_id: str
    task_types: tuple[str, ...]
    us_profile: str | None
    # Regions the `us.` profile routes to; None when Bedrock does not list the profile in this region.
    profile_regions: tuple[str, ...] | None
    state: str
    live_status: str | None
    catalog_state: str | None
    legacy: Dated
    public_extended_access: Dated
    eol: Dated
    successor: str | None
    access: Access
    access_reason: str
    price: Price | None
    used_by: tuple[str, ...]
    listed: bool

    def lifecycle_label(self) -> str:
        """The state, with each source that says otherwise: "LEGACY (catalog: ACTIVE)"."""
        others = []
        if self.live_status is not None and self.live_status != self.state:
            others.append(f"Bedrock: {self.live_status}")
        if self.catalog_state is not None and self.catalog_state != self.state:
            others.append(f"catalog: {self.catalog_state}")
        return f"{self.state} ({', '.join(others)})" if others else self.state

    def dates_label(self) -> str:
        parts = [
            f"{what} {dated.label()}"
            for what, dated in (
                ("legacy", self.legacy),
                ("extended access", self.public_extended_access),
                ("EOL", self.eol),
            )
            if dated.value is not None
        ]
        return ", ".join(parts) if parts else "-"

    def access_label(self) -> str:
        return f"{self.access.value} ({self.access_reason})" if self.access_reason else self.access.value

    def profile_label(self) -> str:
        """The `us.` profile and where it routes; "this id" when the row's model is the profile itself."""
        if self.us_profile is None:
            return "-"
        name = "this id" if self.us_profile == self.model else self.us_profile
        if self.profile_regions is None:
            return f"{name}: not listed"
        return f"{name} -> {', '.join(self.profile_regions)}"

    def problems(self) -> list[str]:
        """Why this model cannot serve (EOL, no access), whether or not anything uses it."""
        found = []
        if self.state == "EOL":
            successor = f"; successor {self.successor}" if self.successor else ""
            found.append(f"{self.model} is past EOL (since {self.eol.value}){successor}")
        if self.access is Access.NOT_GRANTED:
            found.append(f"{self.model}: no access ({self.access_reason})")
        return found


@dataclass(frozen=True)
class ModelsReport:
    """The joined view; exit 1 when a model the file or the stack uses is past EOL or cannot be used."""

    region: str
    today: date
    rows: tuple[ModelRow, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def failures(self) -> list[str]:
        return [problem for row in self.rows if row.used_by for problem in row.problems()]

    @property
    def exit_code(self) -> int:
        return EXIT_ERROR if self.failures else EXIT_OK

    def summary(self) -> str:
        used = [r for r in self.rows if r.used_by]
        unknown = sum(1 for r in used if r.access is Access.UNKNOWN)
        if self.failures:
            return f"{len(self.failures)} problem(s) with the {len(used)} model(s) in use"
        if not used:
            return "no model in use was given"
        if unknown:
            return f"the {len(used)} model(s) in use are current; access of {unknown} unknown"
        return f"the {len(used)} model(s) in use are current and accessible"


def shown(text: object) -> str:
    """A server-supplied value made printable (no control characters) and clipped."""
    clean = "".join(c if unicodedata.category(c)[0] != "C" else "?" for c in str(text))
    return clean if len(clean) <= MAX_SHOWN else clean[: MAX_SHOWN - 1] + "…"


def _day(value: object) -> date | None:
    """botocore parses the iso8601 timestamps into datetimes; anything else is ignored, not trusted."""
    return value.date() if isinstance(value, datetime) else None


def live_models(summaries: Iterable[Mapping[str, Any]]) -> dict[str, LiveModel]:
    models: dict[str, LiveModel] = {}
    for summary in summaries:
        model_id = summary.get("modelId")
        if not isinstance(model_id, str):
            continue
        lifecycle = summary.get("modelLifecycle")
        lifecycle = lifecycle if isinstance(lifecycle, Mapping) else {}
        status = lifecycle.get("status")
        models[model_id] = LiveModel(
            model_id=model_id,
            status=shown(status) if isinstance(status, str) else None,
            legacy=_day(lifecycle.get("legacyTime")),
            public_extended_access=_day(lifecycle.get("publicExtendedAccessTime")),
            eol=_day(lifecycle.get("endOfLifeTime")),
        )
    return models


def live_profiles(summaries: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Profile id -> the regions of the foundation-model ARNs it routes to (arn:aws:bedrock:REGION::...)."""
    profiles: dict[str, tuple[str, ...]] = {}
    for summary in summaries:
        profile_id = summary.get("inferenceProfileId")
        if not isinstance(profile_id, str):
            continue
        regions = set()
        for model in summary.get("models") or []:
            arn = model.get("modelArn") if isinstance(model, Mapping) else None
            parts = arn.split(":") if isinstance(arn, str) else []
            if len(parts) > 3 and parts[3]:
                regions.add(shown(parts[3]))
        profiles[profile_id] = tuple(sorted(regions))
    return profiles


def access_of(answer: Mapping[str, Any] | str | None, region: str) -> tuple[Access, str]:
    """Access from one GetFoundationModelAvailability answer (or its error code)."""
    if answer is None:
        return Access.UNKNOWN, "not asked"
    if isinstance(answer, str):
        if answer == "AccessDeniedException":
            return Access.UNKNOWN, "bedrock:GetFoundationModelAvailability denied"
        if answer == "ResourceNotFoundException":
            return Access.NOT_GRANTED, f"not offered in {region}"
        return Access.UNKNOWN, f"GetFoundationModelAvailability: {shown(answer)}"
    reasons = []
    expected = (
        ("authorizationStatus", "AUTHORIZED", "not authorized"),
        ("entitlementAvailability", "AVAILABLE", "no entitlement"),
        ("regionAvailability", "AVAILABLE", f"not available in {region}"),
    )
    for key, good, meaning in expected:
        if answer.get(key) != good:
            reasons.append(f"{meaning} ({key} {shown(answer.get(key))})")
    agreement = answer.get("agreementAvailability")
    status = agreement.get("status") if isinstance(agreement, Mapping) else None
    if status in ("PENDING", "ERROR"):
        detail = agreement.get("errorMessage") if isinstance(agreement, Mapping) else None
        reasons.append(f"model agreement {status}" + (f": {shown(detail)}" if detail else ""))
    if reasons:
        return Access.NOT_GRANTED, "; ".join(reasons)
    return Access.GRANTED, ""


def _foundation_id(model: str, entry: CatalogModel | None, catalog: Catalog) -> tuple[str, str | None]:
    """(foundation model id, `us.` profile id or None) for a model id as a file, the stack or the catalog writes it."""
    if entry is not None:
        return entry.bedrock_model_id, entry.us_profile_id
    try:
        parsed = parse_model_id(model, catalog.vendors)
    except ModelIdError:
        return model, None
    return parsed.foundation_model_id, model if parsed.via_us_profile else None


def join(
    catalog: Catalog, live: LiveView, used: Mapping[str, Sequence[str]], today: date, notes: Sequence[str] = ()
) -> ModelsReport:
    """One row per model of the catalog, of the file and of the stack (`used`: model id -> where it is used)."""
    ids = [m.id for m in catalog.models] + sorted(m for m in used if m not in {c.id for c in catalog.models})
    rows = []
    for model in ids:
        entry = catalog.model(model)
        foundation, profile = _foundation_id(model, entry, catalog)
        found = live.models.get(foundation)
        lifecycle = entry.lifecycle if entry is not None else None
        legacy = Dated(found.legacy if found else None, lifecycle.legacy_date if lifecycle else None)
        extended = Dated(
            found.public_extended_access if found else None,
            lifecycle.public_extended_access_date if lifecycle else None,
        )
        eol = Dated(found.eol if found else None, lifecycle.eol_date if lifecycle else None)
        catalog_state = entry.state(today) if entry is not None else None
        live_status = found.status if found is not None else None
        past_eol = any(d is not None and today >= d for d in (eol.live, eol.catalog))
        state = "EOL" if past_eol else (live_status or catalog_state or "UNKNOWN")
        if found is None:
            access, reason = Access.NOT_GRANTED, f"not listed by Bedrock in {live.region}"
        else:
            access, reason = access_of(live.availability.get(foundation), live.region)
        regions = live.profiles.get(profile) if profile is not None else None
        if model == profile and regions is None and access is not Access.NOT_GRANTED:
            access, reason = Access.NOT_GRANTED, f"inference profile {model} not listed in {live.region}"
        rows.append(
            ModelRow(
                # Ids from the stack outputs are untrusted text: shown printable, like every server string.
                model=shown(model),
                name=entry.name if entry is not None else None,
                foundation_model_id=shown(foundation),
                task_types=tuple(entry.task_types) if entry is not None else (),
                us_profile=None if profile is None else shown(profile),
                profile_regions=regions,
                state=state,
                live_status=live_status,
                catalog_state=catalog_state,
                legacy=legacy,
                public_extended_access=extended,
                eol=eol,
                successor=lifecycle.successor if lifecycle else None,
                access=access,
                access_reason=reason,
                price=entry.price.plain() if entry is not None else None,
                used_by=tuple(used.get(model, ())),
                listed=found is not None,
            )
        )
    return ModelsReport(live.region, today, tuple(rows), tuple(notes))


def read_models(region: str, catalog: Catalog, used: Mapping[str, Sequence[str]], today: date) -> ModelsReport:
    """Read the three Bedrock APIs in `region` and join them with the catalog and what is in use.

    Listing models or profiles failing is an error (one line); availability being refused makes access
    unknown and the command goes on.
    """
    # Here, not at the top: render imports this module's types and must not pull in boto3 with them.
    from provisioning.adapters import aws

    models = live_models(aws.foundation_models(region))
    profiles = live_profiles(aws.system_inference_profiles(region))
    wanted = sorted(
        {_foundation_id(m, catalog.model(m), catalog)[0] for m in [*(c.id for c in catalog.models), *used]}
        & set(models)
    )
    availability = aws.model_availability(region, wanted)
    unknown = {access_of(a, region) for a in availability.values() if isinstance(a, str)}
    notes = sorted(f"access unknown: {reason}" for state, reason in unknown if state is Access.UNKNOWN)
    return join(catalog, LiveView(region, models, profiles, availability), used, today, notes)


def models_in_use(
    desired: DesiredState | None, stack: StackOutputs | None, region: str | None, today: date
) -> ModelsReport:
    """The `models` report: region (given, else the stack's, else the file's, else the catalog's default, and
    a US region), and which models the file's endpoints and the stack's allow-list use."""
    catalog = load_catalog()
    file_region = desired.bedrock.region if desired is not None and desired.bedrock is not None else None
    region = region or (stack.region if stack is not None else None) or file_region or catalog.regions.default
    if region not in catalog.regions.allowed:
        raise ConfigError(f"region {region!r}: managed-llm works in {', '.join(catalog.regions.allowed)} only")
    used: dict[str, list[str]] = {}
    for model in sorted({e.model for e in desired.inference_endpoints} if desired is not None else set()):
        used.setdefault(model, []).append("file")
    for model in sorted(set(stack.models or ()) if stack is not None else set()):
        used.setdefault(model, []).append("stack")
    return read_models(region, catalog, used, today)
