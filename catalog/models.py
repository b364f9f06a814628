"""The shipped catalog of Bedrock models, US regions and prices (`data/catalog.json`).

One data file is the single source of truth for both halves of the project: the Pulumi stack's default
model allow-list and price table, and the CLI's region, provider and lifecycle checks. Everything here is
pure: parsing a model id needs no AWS call, and lifecycle questions take today's date as an argument.

Every fact about a model (ids, lifecycle dates, Elastic's name for it, price) carries its source and the
date it was checked; `verified: false` marks what could not be confirmed on the vendor's own page. Live
answers from Bedrock (`managed-llm models`) beat the shipped facts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TaskType = Literal["chat_completion", "completion", "text_embedding"]

# A US region by name (us-east-1, us-west-2, ...), for ARNs and policies: the allowed ones are `regions.allowed`.
_US_REGION = re.compile(r"^us-(east|west)-\d+$")


def is_us_region(region: str) -> bool:
    """Whether `region` names a US commercial region (the shape, not whether Bedrock serves it)."""
    return _US_REGION.fullmatch(region) is not None


# The only geographic prefix whose cross-region profile stays inside the US (`eu.`, `apac.`, `global.` do not).
US_PROFILE_PREFIX = "us"
_SEGMENT = r"[a-z0-9][a-z0-9_:\-]*"
# Two or more dot-separated segments, checked in one match (a file repeats the same few ids thousands of times).
_MODEL_ID = re.compile(rf"{_SEGMENT}(?:\.{_SEGMENT})+")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Frozen):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class SourcedPrice(Price):
    """A shipped price: where it comes from, when it was checked, and whether the vendor's page confirmed it."""

    source: str
    checked: date
    verified: bool
    note: str = ""

    def plain(self) -> Price:
        return Price(input=self.input, output=self.output)


LifecycleState = Literal["ACTIVE", "LEGACY", "EOL"]


class Lifecycle(_Frozen):
    """Bedrock's lifecycle of a model: `status` as `modelLifecycle.status` reported it (ACTIVE or LEGACY),
    with the dates from AWS's model-lifecycle page. EOL is not a status Bedrock reports: it is a date."""

    status: Literal["ACTIVE", "LEGACY"]
    legacy_date: date | None = None
    public_extended_access_date: date | None = None
    eol_date: date | None = None
    successor: str | None = None
    source: str
    checked: date
    verified: bool
    note: str = ""

    def state(self, today: date) -> LifecycleState:
        """EOL once the EOL date is reached; LEGACY once Bedrock says so or the legacy date is reached."""
        if self.eol_date is not None and today >= self.eol_date:
            return "EOL"
        if self.status == "LEGACY" or (self.legacy_date is not None and today >= self.legacy_date):
            return "LEGACY"
        return "ACTIVE"


class Modalities(_Frozen):
    input: tuple[str, ...]
    output: tuple[str, ...]


class ElasticOffering(_Frozen):
    """How Elastic offers the same model on its Inference Service (name, endpoint id, status, its own EOL)."""

    name: str
    id: str
    status: str
    eol_date: date | None
    source: str
    checked: date


class CatalogModel(_Frozen):
    id: str = Field(description="The id a file or the stack uses: the `us.` profile id, else the in-region model id")
    bedrock_model_id: str
    us_profile_id: str | None
    name: str
    provider: str
    task_types: tuple[TaskType, ...]
    modalities: Modalities
    lifecycle: Lifecycle
    elastic: ElasticOffering | None
    price: SourcedPrice
    ids_source: str
    ids_checked: date

    def state(self, today: date) -> LifecycleState:
        return self.lifecycle.state(today)


class PresetVersion(_Frozen):
    since: str = Field(description="managed-llm version from which the preset means this model")
    model: str


class Preset(_Frozen):
    """A name for a model choice, as Elastic Cloud names its managed LLMs ("General Purpose LLM v2")."""

    id: str
    name: str
    aliases: tuple[str, ...]
    description: str
    model: str
    provider: str
    task_types: tuple[TaskType, ...]
    default_task_type: TaskType
    history: tuple[PresetVersion, ...]
    elastic_meaning: str = Field(description="The model Elastic means by this name, and its lifecycle")
    elastic_model: str | None = Field(
        default=None, description="Catalog id of the model Elastic means by this name (its lifecycle is computed)"
    )

    def previous_models(self) -> tuple[str, ...]:
        """Models this preset meant in earlier versions of managed-llm (not the current one)."""
        return tuple(v.model for v in self.history if v.model != self.model)


class Feature(_Frozen):
    service: str
    task_type: TaskType
    since: str
    source: str


class ProviderTasks(_Frozen):
    """The task types Elasticsearch's `amazonbedrock` service accepts for one `provider`."""

    provider: str
    task_types: tuple[TaskType, ...]
    source: str


class Parameter(_Frozen):
    """A request parameter an API accepts only from a given Elasticsearch version on."""

    api: str
    name: str
    since: str
    source: str


class ElasticsearchSupport(_Frozen):
    client_major: int
    features: tuple[Feature, ...]
    providers: tuple[ProviderTasks, ...]
    parameters: tuple[Parameter, ...]

    def provider_task_types(self, provider: str) -> tuple[TaskType, ...]:
        return next((p.task_types for p in self.providers if p.provider == provider), ())

    def parameter_since(self, api: str, name: str) -> str | None:
        return next((p.since for p in self.parameters if p.api == api and p.name == name), None)


class Regions(_Frozen):
    default: str
    allowed: tuple[str, ...]
    source: str


class PriceSource(_Frozen):
    currency: Literal["USD"]
    unit: str
    as_of: str
    source: str
    note: str


class Catalog(_Frozen):
    schema_version: Literal[2]
    regions: Regions
    vendors: dict[str, str] = Field(description="Bedrock model-id vendor -> Elasticsearch `provider`")
    presets: tuple[Preset, ...]
    presets_source: str
    models: tuple[CatalogModel, ...]
    prices: PriceSource
    elasticsearch: ElasticsearchSupport

    def stack_default_models(self) -> tuple[str, ...]:
        """Model ids the stack allows when `models` is not configured: the presets' models, in order."""
        return tuple(dict.fromkeys(p.model for p in self.presets))

    def preset(self, name: str) -> Preset | None:
        """A preset by id or alias (aliases compare case-insensitively: "Elastic Managed LLM")."""
        wanted = name.strip().lower()
        for preset in self.presets:
            if wanted == preset.id or wanted in (a.lower() for a in preset.aliases):
                return preset
        return None

    def default_prices(self) -> dict[str, Price]:
        return {m.id: m.price.plain() for m in self.models}

    def model(self, model_id: str) -> CatalogModel | None:
        """The catalog entry for a model id as a file or the stack writes it (`us.` profile or in-region id)."""
        for entry in self.models:
            if model_id in (entry.id, entry.bedrock_model_id, entry.us_profile_id):
                return entry
        return None


@dataclass(frozen=True)
class ModelId:
    """A parsed Bedrock model id: `us.anthropic.claude-...` (US profile) or `amazon.titan-...` (in-region)."""

    raw: str
    vendor: str
    foundation_model_id: str
    via_us_profile: bool


class ModelIdError(ValueError):
    """A model id the project refuses (wildcard, ARN, non-US profile, unknown vendor); never repeats the id."""


@cache
def load_catalog() -> Catalog:
    """Read and validate the packaged catalog once per process."""
    text = resources.files("catalog").joinpath("data/catalog.json").read_text(encoding="utf-8")
    return Catalog.model_validate(json.loads(text))


def parse_model_id(raw: str, vendors: dict[str, str] | None = None) -> ModelId:
    """Parse `raw` or raise ModelIdError with a one-line reason.

    Accepted: `<vendor>.<model>` (a foundation model invoked in-region) and `us.<vendor>.<model>` (the
    US cross-region inference profile). Any other geography is refused: it would route outside the US.
    """
    known = vendors if vendors is not None else load_catalog().vendors
    if any(c in raw for c in "*?"):
        raise ModelIdError("wildcards are not allowed in a model id; list exact model ids")
    if raw.startswith("arn:"):
        raise ModelIdError("give the model or inference-profile id, not an ARN")
    if not _MODEL_ID.fullmatch(raw):
        raise ModelIdError("this is not a Bedrock model id (expected e.g. us.anthropic.claude-...)")
    parts = raw.split(".")
    via_profile = parts[0] not in known
    if via_profile:
        if parts[0] != US_PROFILE_PREFIX:
            raise ModelIdError(
                "only US inference profiles ('us.' prefix) keep requests in US regions; "
                "other geography prefixes are not allowed"
            )
        parts = parts[1:]
    if len(parts) < 2 or parts[0] not in known:
        raise ModelIdError(f"unknown model vendor; known vendors: {', '.join(sorted(known))}")
    return ModelId(raw=raw, vendor=parts[0], foundation_model_id=".".join(parts), via_us_profile=via_profile)


__all__ = [
    "Catalog",
    "CatalogModel",
    "ElasticOffering",
    "Lifecycle",
    "LifecycleState",
    "ModelId",
    "ModelIdError",
    "Price",
    "TaskType",
    "is_us_region",
    "load_catalog",
    "parse_model_id",
]
