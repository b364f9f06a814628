"""The stack's configuration (namespace `managed-llm`), read once, typed and validated.

`parse_stack_config` is pure (a mapping of raw Pulumi config strings in, a frozen `StackConfig` out) so
every rule is unit-tested without Pulumi; `StackConfig.load()` feeds it the real config and turns a
refusal into `pulumi.RunError`, which Pulumi prints as one line before any resource is declared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from infra import catalog
from infra.policies import MAX_MANAGED_POLICY_SIZE, worst_case_policy_size
from provisioning.catalog import Price, load_catalog, parse_model_id

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Config keys that would switch on prompt/output storage. Zero data retention is an invariant: such a
# key is refused with its own message rather than silently ignored.
_DATA_RETENTION_KEY = re.compile(r"data.?delivery|prompt|s3|bucket|payload", re.IGNORECASE)
_JSON_KEYS = ("models", "prices")


class StackConfigError(ValueError):
    """A refused configuration value; the message is one line naming the key."""


class StackConfig(BaseModel):
    """Validated stack configuration. Field names are snake_case; config keys are their camelCase."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)

    stack: str = Field(exclude=True)
    region: str = catalog.DEFAULT_REGION
    models: tuple[str, ...] = catalog.DEFAULT_MODELS
    log_retention_days: int = catalog.DEFAULT_LOG_RETENTION_DAYS
    alarm_email: str | None = None
    prices: dict[str, Price] = Field(default_factory=dict)
    credentials_generation: int = Field(default=1, ge=1)

    @field_validator("region")
    @classmethod
    def _us_region(cls, value: str) -> str:
        if value not in catalog.US_REGIONS:
            raise ValueError(f"{value!r} is not an allowed Bedrock region; allowed: {', '.join(catalog.US_REGIONS)}")
        return value

    @field_validator("models")
    @classmethod
    def _exact_models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one model id is required")
        if len(set(value)) != len(value):
            raise ValueError("model ids must be unique")
        for model in value:
            parse_model_id(model)  # ModelIdError is a ValueError: pydantic reports its message
        worst = worst_case_policy_size(value)
        if worst > MAX_MANAGED_POLICY_SIZE:
            raise ValueError(
                f"{len(value)} models make an invoke policy of up to {worst} characters; "
                f"IAM allows {MAX_MANAGED_POLICY_SIZE}: allow fewer models"
            )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _cloudwatch_retention(cls, value: int) -> int:
        if value not in catalog.VALID_LOG_RETENTION_DAYS:
            allowed = ", ".join(str(v) for v in sorted(catalog.VALID_LOG_RETENTION_DAYS))
            raise ValueError(f"{value} is not a CloudWatch Logs retention; allowed: {allowed}")
        return value

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value

    @model_validator(mode="after")
    def _prices_for_allowed_models(self) -> StackConfig:
        unknown = sorted(set(self.prices) - set(self.models))
        if unknown:
            raise ValueError(f"prices given for models not in `models`: {', '.join(unknown)}")
        return self

    @property
    def resolved_prices(self) -> dict[str, Price]:
        """USD per million tokens for each allowed model: overrides over the shipped defaults."""
        shipped = load_catalog().default_prices()
        merged = {m: self.prices.get(m, shipped.get(m)) for m in self.models}
        return {m: p for m, p in merged.items() if p is not None}

    @property
    def log_group_name(self) -> str:
        """Known before deployment, so the KMS key policy can name the group without a cycle."""
        return f"/{catalog.PROJECT}/{self.stack}/bedrock-invocations"

    @property
    def resource_prefix(self) -> str:
        """Account-unique names (dashboards, aliases) accept [A-Za-z0-9_-] only."""
        return re.sub(r"[^A-Za-z0-9_-]", "-", f"{catalog.PROJECT}-{self.stack}")

    @classmethod
    def load(cls) -> StackConfig:
        """Read the stack's config once; a bad value stops the program as a one-line RunError."""
        try:
            return parse_stack_config(_raw_project_config(), stack=pulumi.get_stack())
        except StackConfigError as exc:
            raise pulumi.RunError(str(exc)) from None


def parse_stack_config(raw: Mapping[str, Any], *, stack: str) -> StackConfig:
    """Validate raw config (keys without namespace, values as Pulumi stores them) or raise StackConfigError."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if _DATA_RETENTION_KEY.search(key):
            raise StackConfigError(
                f"{catalog.CONFIG_NAMESPACE}:{key}: zero data retention is an invariant; "
                "prompt, output and payload logging cannot be configured"
            )
        values[key] = _decode_json(key, value) if key in _JSON_KEYS else value
    try:
        return StackConfig.model_validate({**values, "stack": stack})
    except ValidationError as exc:
        raise StackConfigError(_one_line(exc)) from None


def _decode_json(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise StackConfigError(
            f"{catalog.CONFIG_NAMESPACE}:{key}: expected a JSON value "
            f"(set it with `pulumi config set --path '{key}[0]' ...`)"
        ) from None


def _one_line(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"]) or "config"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            known = ", ".join(sorted(to_camel(f) for f in StackConfig.model_fields if f != "stack"))
            message = f"unknown key; known keys: {known}"
        parts.append(f"{catalog.CONFIG_NAMESPACE}:{key}: {message}")
    return "; ".join(parts)


def _raw_project_config() -> dict[str, Any]:
    """Every `managed-llm:*` key the engine passed, so unknown (mistyped) keys are refused, not ignored."""
    # The SDK exposes no public "list config keys"; the runtime map it fills from the engine is the source.
    from pulumi.runtime.config import CONFIG, get_config_env

    prefix = f"{catalog.CONFIG_NAMESPACE}:"
    merged = {**get_config_env(), **CONFIG.get()}
    return {k.removeprefix(prefix): v for k, v in merged.items() if k.startswith(prefix)}
