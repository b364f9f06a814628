"""The stack's configuration (namespace `managed-llm`), read once, typed and validated.

`parse_stack_config` is pure (a mapping of raw Pulumi config strings in, a frozen `StackConfig` out) so
every rule is unit-tested without Pulumi; `StackConfig.load()` feeds it the real config and turns a
refusal into `pulumi.RunError`, which Pulumi prints as one line before any resource is declared.

Pulumi hands every value over as a string (structured values as JSON), and the stack file that holds
them is edited in pull requests, so parsing is strict in one place: the model validates in pydantic's
strict mode, whole numbers are digits 0-9 only and bounded, JSON has no NaN/Infinity or repeated keys,
strings are matched whole (`fullmatch`), and only the documented camelCase keys are accepted. A
refusal names the key and the rule; it repeats a value only when the value's shape shows it is no
secret (a region name, a model id, a number).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

import pulumi
import pulumi_aws as aws
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from catalog import lifecycle
from catalog.deployments import DEFAULT_DEPLOYMENT, DEPLOYMENT_NAME
from catalog.models import Price, load_catalog, parse_model_id
from infra import constants
from infra.policies import MAX_MANAGED_POLICY_SIZE, worst_case_policy_size

# One address for the SNS email subscription: a dot-atom local part (RFC 5322 atext without the quote
# characters ' and `) of at most 64 characters and an LDH domain with an alphabetic TLD, at most 254 in
# all. No quoted local parts, display names, lists, whitespace or control characters.
_EMAIL = re.compile(
    r"(?=[^@]{1,64}@)(?=.{6,254}\Z)"
    r"[A-Za-z0-9!#$%&*+/=?^_{|}~-]+(?:\.[A-Za-z0-9!#$%&*+/=?^_{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}",
    re.ASCII,
)
# The characters `parse_model_id` accepts, matched whole: a trailing newline is not a model id.
_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9_:\-]*(?:\.[a-z0-9][a-z0-9_:\-]*)+", re.ASCII)
_REGION_NAME = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}", re.ASCII)
_SHOWN_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}", re.ASCII)
# Config keys that would switch on prompt/output storage. Zero data retention is an invariant: such a
# key is refused with its own message rather than silently ignored.
_DATA_RETENTION_KEY = re.compile(r"data.?delivery|prompt|s3|bucket|payload", re.IGNORECASE)
# A generous bound for a hand-written JSON value; also keeps the decoder's recursion shallow.
_MAX_JSON_CHARS = 65_536
# USD per million tokens; the most expensive Bedrock model costs well under 1% of this.
MAX_PRICE = 10_000.0
MAX_CREDENTIALS_GENERATION = 999_999
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}", re.ASCII)


class StackConfigError(ValueError):
    """A refused configuration value; the message is one line naming the key."""


def _whole_number(low: int, high: int) -> BeforeValidator:
    """Digits 0-9 only, within [low, high]: no sign, point, exponent, `_`, spaces or other scripts' digits."""
    rule = f"expected a whole number from {low} to {high}, written with digits 0-9 only"

    def parse(value: object) -> int:
        # bool is an int in Python; `True` is no count of anything.
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
            number = int(value)
        else:
            raise ValueError(rule)
        if not low <= number <= high:
            raise ValueError(rule)
        return number

    return BeforeValidator(parse)


def _model_id(value: str) -> str:
    """Refuse without repeating a value that is not model-id shaped (it may be a pasted secret)."""
    if not _MODEL_ID.fullmatch(value):
        if any(c in value for c in "*?"):
            raise ValueError("wildcards are not allowed; list exact model ids")
        if value.startswith("arn:"):
            raise ValueError("give the model or inference-profile id, not an ARN")
        raise ValueError(
            "this is not a Bedrock model id (expected e.g. us.anthropic.claude-...: lowercase letters, "
            "digits, '.', '-', '_', ':' and no whitespace)"
        )
    parse_model_id(value)  # ModelIdError is a ValueError: pydantic reports its message
    return value


def _json_value(value: object, info: ValidationInfo) -> object:
    """Pulumi passes structured config as a JSON string; values given directly (tests) pass through."""
    if not isinstance(value, str):
        return tuple(value) if isinstance(value, list) else value
    if len(value) > _MAX_JSON_CHARS:
        raise ValueError(f"expected a JSON value of at most {_MAX_JSON_CHARS} characters")
    try:
        decoded = json.loads(value, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except (json.JSONDecodeError, RecursionError):
        key = to_camel(info.field_name or "key")
        raise ValueError(f"expected a JSON value (set it with `pulumi config set --path '{key}[0]' ...`)") from None
    # JSON arrays become tuples: strict mode accepts no list for a tuple field.
    return tuple(decoded) if isinstance(decoded, list) else decoded


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number; give finite numbers")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a JSON object repeats a key")
    return dict(pairs)


ModelId = Annotated[str, AfterValidator(_model_id)]


class PriceOverride(BaseModel):
    """USD per million tokens, finite and bounded: the dashboard's metric math multiplies by it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    input: float = Field(ge=0, le=MAX_PRICE)
    output: float = Field(ge=0, le=MAX_PRICE)


MAX_DEPLOYMENTS = 100
MAX_MONTHLY_BUDGET_USD = 1_000_000.0
# AWS tag rules (IAM, Bedrock, Budgets share them): key 1-128, value 0-256 characters of letters, digits,
# spaces and + - = . _ : / @; keys starting with `aws:` are reserved, and `managed-llm:` is this project's.
_TAG_KEY = re.compile(r"[\w .:/=+@-]{1,128}", re.ASCII)
_TAG_VALUE = re.compile(r"[\w .:/=+@-]{0,256}", re.ASCII)
DEPLOYMENT_TAG = f"{constants.PROJECT}:deployment"
MAX_USER_TAGS = 40


def _tuple(value: object) -> object:
    """JSON arrays inside a JSON value arrive as lists; strict mode accepts only a tuple for a tuple field."""
    return tuple(value) if isinstance(value, list) else value


class DeploymentConfig(BaseModel):
    """One Elasticsearch deployment served by the stack: its own principal, profiles, budget and alarms."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    name: str = Field(alias="name")
    # None: every model of the stack's `models`.
    models: Annotated[tuple[ModelId, ...] | None, BeforeValidator(_tuple)] = Field(default=None, alias="models")
    monthly_budget_usd: float | None = Field(default=None, gt=0, le=MAX_MONTHLY_BUDGET_USD, alias="monthlyBudgetUsd")
    tags: dict[str, str] = Field(default_factory=dict, alias="tags")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not DEPLOYMENT_NAME.fullmatch(value):
            raise ValueError(
                "a deployment name is lower-case letters, digits and '-', starts with a letter, at most 32 characters"
            )
        return value

    @field_validator("models")
    @classmethod
    def _some_models(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and (not value or len(set(value)) != len(value)):
            raise ValueError("a deployment's models are a non-empty list of unique model ids")
        return value

    @field_validator("tags")
    @classmethod
    def _aws_tags(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_USER_TAGS:
            raise ValueError(f"at most {MAX_USER_TAGS} tags per deployment")
        for key, tag in value.items():
            if not _TAG_KEY.fullmatch(key) or key.lower().startswith(("aws:", f"{constants.PROJECT}:")):
                raise ValueError(
                    "a tag key is 1-128 letters, digits, spaces or + - = . _ : / @, not starting with aws: or "
                    f"{constants.PROJECT}:"
                )
            if not _TAG_VALUE.fullmatch(tag):
                raise ValueError("a tag value is at most 256 letters, digits, spaces or + - = . _ : / @")
        return value


class StackConfig(BaseModel):
    """Validated stack configuration. Field names are snake_case; config keys are their camelCase aliases."""

    # strict: no lax coercion ("1_8_0" -> 180, True -> 1, "2.0" -> 2) reaches any field, present or future.
    # Aliases are spelled out (no generator, no populate-by-name): a field's snake_case name is no key.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    stack: str = Field(exclude=True)
    region: str = Field(default=constants.DEFAULT_REGION, alias="region")
    models: Annotated[tuple[ModelId, ...], BeforeValidator(_json_value)] = Field(
        default=constants.DEFAULT_MODELS, alias="models"
    )
    log_retention_days: Annotated[int, _whole_number(1, max(constants.VALID_LOG_RETENTION_DAYS))] = Field(
        default=constants.DEFAULT_LOG_RETENTION_DAYS, alias="logRetentionDays"
    )
    alarm_email: str | None = Field(default=None, alias="alarmEmail")
    prices: Annotated[dict[ModelId, PriceOverride], BeforeValidator(_json_value)] = Field(
        default_factory=dict, alias="prices"
    )
    credentials_generation: Annotated[int, _whole_number(1, MAX_CREDENTIALS_GENERATION)] = Field(
        default=1, alias="credentialsGeneration"
    )
    # Empty: the stack serves one deployment named `default` with every model (as before deployments existed).
    deployments: Annotated[tuple[DeploymentConfig, ...], BeforeValidator(_json_value)] = Field(
        default=(), alias="deployments"
    )

    @field_validator("region")
    @classmethod
    def _us_region(cls, value: str) -> str:
        if value not in constants.US_REGIONS:
            shown = f"{value!r} is" if _REGION_NAME.fullmatch(value) else "this is"
            raise ValueError(f"{shown} not an allowed Bedrock region; allowed: {', '.join(constants.US_REGIONS)}")
        return value

    @field_validator("models")
    @classmethod
    def _exact_models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one model id is required")
        if len(set(value)) != len(value):
            raise ValueError("model ids must be unique")
        worst = worst_case_policy_size(value)
        if worst > MAX_MANAGED_POLICY_SIZE:
            raise ValueError(
                f"{len(value)} models make an invoke policy of up to {worst} characters; "
                f"IAM allows {MAX_MANAGED_POLICY_SIZE}: allow fewer models"
            )
        # Granting a model past its EOL date grants nothing Bedrock still serves: refuse it, naming the successor.
        today = lifecycle.today()
        for model in value:
            seen = lifecycle.assess(model, load_catalog(), today)
            if seen.state == "EOL":
                raise ValueError(seen.describe())
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _cloudwatch_retention(cls, value: int) -> int:
        if value not in constants.VALID_LOG_RETENTION_DAYS:
            allowed = ", ".join(str(v) for v in sorted(constants.VALID_LOG_RETENTION_DAYS))
            raise ValueError(f"{value} is not a CloudWatch Logs retention; allowed: {allowed}")
        return value

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        # The value is not repeated: a refused address may be anything, including a pasted secret.
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError(
                "expected one email address (name@example.com; no spaces, quotes, commas or control characters)"
            )
        return value

    @field_validator("deployments")
    @classmethod
    def _unique_deployments(cls, value: tuple[DeploymentConfig, ...]) -> tuple[DeploymentConfig, ...]:
        if len(value) > MAX_DEPLOYMENTS:
            raise ValueError(f"at most {MAX_DEPLOYMENTS} deployments per stack")
        names = [d.name for d in value]
        if len(set(names)) != len(names):
            raise ValueError("deployment names must be unique")
        return value

    @model_validator(mode="after")
    def _deployment_models_are_allowed(self) -> StackConfig:
        for index, deployment in enumerate(self.deployments):
            outside = sorted(set(deployment.models or ()) - set(self.models))
            if outside:
                raise ValueError(
                    f"deployments[{index}].models: {', '.join(outside)} not in `models` (the stack's allow-list)"
                )
        return self

    @property
    def effective_deployments(self) -> tuple[DeploymentConfig, ...]:
        """The deployments the stack serves: the configured ones, or one `default` deployment with every model.

        Each has its `models` filled in (the stack's `models` when it named none)."""
        configured = self.deployments or (DeploymentConfig.model_validate({"name": DEFAULT_DEPLOYMENT}),)
        return tuple(d if d.models is not None else d.model_copy(update={"models": self.models}) for d in configured)

    @model_validator(mode="after")
    def _prices_for_allowed_models(self) -> StackConfig:
        unknown = sorted(set(self.prices) - set(self.models))
        if unknown:
            raise ValueError(f"prices given for models not in `models`: {', '.join(unknown)}")
        return self

    def lifecycle_warnings(self, today: date) -> tuple[str, ...]:
        """One line per allowed model that is Legacy on `today` (its EOL date and successor)."""
        found = (lifecycle.assess(m, load_catalog(), today) for m in self.models)
        return tuple(f"{constants.CONFIG_NAMESPACE}:models: {a.describe()}" for a in found if a.state == "LEGACY")

    @property
    def resolved_prices(self) -> dict[str, Price]:
        """USD per million tokens for each allowed model: overrides over the shipped defaults."""
        shipped = load_catalog().default_prices()
        overrides = {m: Price(input=p.input, output=p.output) for m, p in self.prices.items()}
        merged = {m: overrides.get(m, shipped.get(m)) for m in self.models}
        return {m: p for m, p in merged.items() if p is not None}

    @property
    def default_tags(self) -> aws.ProviderDefaultTagsArgs:
        """The provider's default tags: every resource says which project and stack declared it."""
        return aws.ProviderDefaultTagsArgs(tags={"managed-by": constants.PROJECT, "stack": self.stack})

    @property
    def log_group_name(self) -> str:
        """Known before deployment, so the KMS key policy can name the group without a cycle."""
        return f"/{constants.PROJECT}/{self.stack}/bedrock-invocations"

    @property
    def resource_prefix(self) -> str:
        """Account-unique names (dashboards, aliases) accept [A-Za-z0-9_-] only."""
        return re.sub(r"[^A-Za-z0-9_-]", "-", f"{constants.PROJECT}-{self.stack}")

    @classmethod
    def load(cls) -> StackConfig:
        """Read the stack's config once; a bad value stops the program as a one-line RunError."""
        try:
            config = parse_stack_config(_raw_project_config(), stack=pulumi.get_stack())
        except StackConfigError as exc:
            raise pulumi.RunError(str(exc)) from None
        for warning in config.lifecycle_warnings(lifecycle.today()):
            pulumi.log.warn(warning)
        return config


def config_keys() -> tuple[str, ...]:
    """The accepted config keys (camelCase), sorted. `stack` is not one: `pulumi stack select` picks it."""
    return tuple(sorted(f.alias or n for n, f in StackConfig.model_fields.items() if n != "stack"))


def parse_stack_config(raw: Mapping[str, Any], *, stack: str) -> StackConfig:
    """Validate raw config (keys without namespace, values as Pulumi stores them) or raise StackConfigError."""
    refused = [message for key in sorted(raw, key=str) if (message := _key_refusal(key)) is not None]
    if refused:
        raise StackConfigError("; ".join(refused))
    try:
        return StackConfig.model_validate({**raw, "stack": stack})
    except ValidationError as exc:
        raise StackConfigError(_one_line(exc)) from None


def _key_refusal(key: object) -> str | None:
    """Why `key` is not accepted (None if it is): only the documented camelCase spelling of each key."""
    known = config_keys()
    if isinstance(key, str) and key in known:
        return None
    shown = _show_key(key)
    if isinstance(key, str) and _DATA_RETENTION_KEY.search(key):
        return (
            f"{constants.CONFIG_NAMESPACE}:{shown}: zero data retention is an invariant; "
            "prompt, output and payload logging cannot be configured"
        )
    if key == "stack":
        hint = "the stack name comes from `pulumi stack select`; "
    elif isinstance(key, str) and (twin := _twin(key, known)):
        hint = f"did you mean {twin}? "
    else:
        hint = ""
    return f"{constants.CONFIG_NAMESPACE}:{shown}: unknown key; {hint}known keys: {', '.join(known)}"


def _twin(key: str, known: tuple[str, ...]) -> str | None:
    """The known key `key` is another spelling of (alarm_email, AlarmEmail), or a close misspelling."""
    folded = {k.lower(): k for k in known}
    same = folded.get(re.sub(r"[_\-.\s]", "", key).lower())
    if same is not None:
        return same
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
    return close[0] if close else None


def _show_key(key: object) -> str:
    """A key as it can appear in a one-line message (keys are names, never secrets, but may hold newlines)."""
    text = str(key)
    return text if _SHOWN_KEY.fullmatch(text) else repr(text[:64])


_Loc = tuple[int | str, ...]


def _one_line(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = _location(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{constants.CONFIG_NAMESPACE}:{location}: {message}")
    return "; ".join(parts)


def _location(loc: _Loc) -> str:
    """`models[0]`, `prices.<model id>.input`: config keys by their camelCase name, items by index."""
    if not loc:
        return "config"
    head, *rest = loc
    text = str(head)  # pydantic reports a field by its alias: the config key
    for part in rest:
        if part == "[key]":
            continue  # pydantic marks an invalid dict key with an extra location part
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            # A dict key is shown only when model-id or name shaped: it may be anything, even a secret.
            text += f".{part}" if _MODEL_ID.fullmatch(part) or _SHOWN_KEY.fullmatch(part) else ".<key>"
    return text


def _raw_project_config() -> dict[str, Any]:
    """Every `managed-llm:*` key the engine passed, so unknown (mistyped) keys are refused, not ignored."""
    # The SDK exposes no public "list config keys"; the runtime map it fills from the engine is the source.
    from pulumi.runtime.config import CONFIG, get_config_env

    prefix = f"{constants.CONFIG_NAMESPACE}:"
    merged = {**get_config_env(), **CONFIG.get()}
    return {k.removeprefix(prefix): v for k, v in merged.items() if k.startswith(prefix)}
