"""The declarative file's schema (pydantic): what a platform engineer writes, validated before any request.

Unknown keys are refused at every level, types are strict (a quoted number is a wrong type), and the
rules Elasticsearch would apply at PUT time are checked here, so a bad file never reaches the cluster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from catalog.deployments import DEPLOYMENT_NAME_PATTERN
from catalog.models import Catalog, Price, TaskType, load_catalog, parse_model_id
from provisioning.core.arns import is_application_profile_arn
from provisioning.core.auth_method import auth_method_problem
from provisioning.core.credential_keys import names_credential
from provisioning.core.role_mapping_rules import check_rule, matches_everyone

Provider = Literal["amazontitan", "anthropic", "ai21labs", "cohere", "meta", "mistral"]
Similarity = Literal["cosine", "dot_product", "l2_norm"]

MANAGED_BY_KEY = "managed_by"
MANAGED_BY_VALUE = "managed-llm"
# The role mapping that records which endpoints managed-llm owns (kinds/ownership.py): no file may use it.
LEDGER_NAME = "managed-llm-ownership"
# Providers with a top_k parameter: AmazonBedrockProviderCapabilities.java (elastic/elasticsearch,
# x-pack/plugin/inference/.../services/amazonbedrock/), `chatCompletionProviderHasTopKParameter`.
TOP_K_PROVIDERS: frozenset[str] = frozenset({"anthropic", "cohere", "mistral"})
# Which task types each provider offers is data: the catalog's `elasticsearch.providers` table (one home).
EMBEDDING_PROVIDERS: frozenset[str] = frozenset(
    p.provider for p in load_catalog().elasticsearch.providers if "text_embedding" in p.task_types
)
# Elasticsearch's id rule, minus the undocumented dots: never a leading `.` (preconfigured endpoints).
ENDPOINT_ID_PATTERN = r"^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$"
OPERATOR_MAPPING_SUFFIX = "-read-only-operator-mapping"
ROLE_MAPPING_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_@.\-]*$"
# The only role a file may grant to every user, and only with `everyone: true` on the mapping.
EVERYONE_ROLE = "inference_user"
# Bounds Elasticsearch enforces by type where it has no explicit limit: `max_new_tokens`, `max_input_tokens`,
# chunk sizes are Java ints (ServiceUtils.extractOptionalPositiveInteger), `requests_per_minute` a Java long
# (x-pack/plugin/inference/.../services/settings/RateLimitSettings.java: extractOptionalPositiveLong).
JAVA_INT_MAX = 2**31 - 1
JAVA_LONG_MAX = 2**63 - 1

RoleName = Annotated[str, StringConstraints(min_length=1, pattern=r"^\S(.*\S)?$")]
# The stack config's rule for a deployment's name (infra/config.py), so the file can name only what can exist.
DeploymentName = Annotated[str, StringConstraints(pattern=DEPLOYMENT_NAME_PATTERN)]
DEPLOYMENT_HELP = (
    "The deployment of the stack config this cluster belongs to (lower-case letters, digits, '-'; at most 32): "
    "with --stack-outputs, endpoint models resolve to its application inference profiles"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def catalog_of(info: ValidationInfo | None) -> Catalog:
    """The catalog validation resolves presets against: the shipped one, or one a caller passes as context."""
    context = info.context if info is not None else None
    given = context.get("catalog") if isinstance(context, dict) else None
    return given if isinstance(given, Catalog) else load_catalog()


def _preset_schema(schema: dict[str, Any]) -> None:
    """Editors: an endpoint needs either a preset or task_type + model + provider."""
    schema["required"] = [r for r in schema.get("required", []) if r not in ("task_type", "model", "provider")]
    schema["anyOf"] = [{"required": ["preset"]}, {"required": ["task_type", "model", "provider"]}]
    names = [name for p in load_catalog().presets for name in (p.id, *p.aliases)]
    schema["properties"]["preset"]["anyOf"] = [{"enum": names}, {"type": "null"}]


class SecretsManagerCredentials(_Strict):
    """Where the Bedrock access key lives: the stack output `credentialsSecretArn`."""

    secret_arn: Annotated[
        str, StringConstraints(pattern=r"^arn:aws:secretsmanager:us-[a-z]+-\d+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$")
    ] = Field(description="ARN of the Secrets Manager secret holding {access_key_id, secret_access_key}")


class Bedrock(_Strict):
    region: str = Field(description="AWS region of the Bedrock endpoints (US only)")
    credentials: SecretsManagerCredentials | None = Field(
        default=None, description="Omit to use BEDROCK_ACCESS_KEY_ID / BEDROCK_SECRET_ACCESS_KEY"
    )

    @field_validator("region")
    @classmethod
    def _us_region(cls, value: str) -> str:
        allowed = load_catalog().regions.allowed
        if value not in allowed:
            # The value is not echoed: a secret pasted into the wrong field would end up in a PR comment.
            raise ValueError(f"not an allowed Bedrock region; allowed: {', '.join(allowed)}")
        return value


class RateLimit(_Strict):
    requests_per_minute: int = Field(gt=0, le=JAVA_LONG_MAX)


class TaskSettings(_Strict):
    """Completion and chat_completion: max_new_tokens, temperature, top_p, top_k. Embeddings: truncate."""

    # AmazonBedrockChatCompletionTaskSettings.fromMap (x-pack/plugin/inference/.../services/amazonbedrock/
    # completion/): max_new_tokens a positive Java int; temperature, top_p, top_k doubles in
    # [MIN_TEMPERATURE_TOP_P_TOP_K_VALUE, MAX_TEMPERATURE_TOP_P_TOP_K_VALUE] = [0.0, 1.0] (AmazonBedrockConstants).
    max_new_tokens: int | None = Field(default=None, gt=0, le=JAVA_INT_MAX)
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: float | None = Field(default=None, ge=0, le=1)
    truncate: Literal["NONE", "START", "END"] | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ChunkingSettings(_Strict):
    strategy: Literal["sentence", "word", "none"]
    # Java ints in Word/SentenceBoundaryChunkingSettings (x-pack/plugin/inference/.../chunking/).
    max_chunk_size: int | None = Field(default=None, gt=0, le=JAVA_INT_MAX)
    sentence_overlap: Literal[0, 1] | None = None
    overlap: int | None = Field(default=None, ge=0, le=JAVA_INT_MAX)

    @model_validator(mode="after")
    def _fields_for_strategy(self) -> ChunkingSettings:
        wanted = {"sentence": {"max_chunk_size"}, "word": {"max_chunk_size", "overlap"}, "none": set()}[self.strategy]
        allowed = wanted | ({"sentence_overlap"} if self.strategy == "sentence" else set())
        given = {k for k, v in self.model_dump().items() if v is not None and k != "strategy"}
        if missing := sorted(wanted - given):
            raise ValueError(f"strategy {self.strategy} needs {', '.join(missing)}")
        if extra := sorted(given - allowed):
            raise ValueError(f"strategy {self.strategy} does not take {', '.join(extra)}")
        return self


class InferenceEndpoint(_Strict):
    """One `amazonbedrock` inference endpoint: a preset, explicit fields, or a preset with overrides."""

    model_config = ConfigDict(json_schema_extra=_preset_schema)

    preset: str | None = Field(
        default=None, description="general-purpose-llm-v1 or general-purpose-llm-v2 instead of model/provider/task_type"
    )
    id: str = Field(
        description="Inference endpoint id: a-z, 0-9, '-', '_', starting and ending alphanumeric",
        json_schema_extra={"pattern": ENDPOINT_ID_PATTERN},
    )
    task_type: TaskType
    model: str = Field(
        description="Bedrock model id: a `us.` inference profile or an in-region model id "
        "(or the application inference profile ARN of this file's deployment)"
    )
    provider: Provider
    rate_limit: RateLimit | None = None
    task_settings: TaskSettings | None = None
    similarity: Similarity | None = Field(default=None, description="text_embedding only")
    max_input_tokens: int | None = Field(default=None, gt=0, le=JAVA_INT_MAX, description="text_embedding only")
    chunking_settings: ChunkingSettings | None = Field(default=None, description="text_embedding only")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any, info: ValidationInfo) -> Any:
        """Fill model, provider and task_type from the preset; fields written in the file win."""
        if not isinstance(data, dict) or not isinstance(data.get("preset"), str):
            return data
        catalog = catalog_of(info)
        preset = catalog.preset(data["preset"])
        if preset is None:
            known = ", ".join(name for p in catalog.presets for name in (p.id, *p.aliases))
            raise ValueError(f"preset: not a known preset; known presets: {known}")
        defaults = {"task_type": preset.default_task_type, "model": preset.model, "provider": preset.provider}
        return {**defaults, **data, "preset": preset.id}

    @field_validator("id")
    @classmethod
    def _elasticsearch_id(cls, value: str) -> str:
        if value.startswith("."):
            raise ValueError("ids starting with '.' are reserved for preconfigured endpoints")
        if not re.fullmatch(ENDPOINT_ID_PATTERN, value) or len(value) > 255:
            raise ValueError(
                "not a valid inference endpoint id: use lowercase a-z, 0-9, '-' and '_', "
                "starting and ending with a letter or digit"
            )
        return value

    @field_validator("model")
    @classmethod
    def _bedrock_model(cls, value: str) -> str:
        if is_application_profile_arn(value):
            return value  # which model it serves is known only from the stack outputs (core/deployments.py)
        parse_model_id(value)  # ModelIdError is a ValueError: pydantic reports its message
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> InferenceEndpoint:
        if self.preset is not None:
            preset = catalog_of(info).preset(self.preset)
            if preset is not None and self.model == preset.model and self.task_type not in preset.task_types:
                raise ValueError(
                    f"preset {preset.id} serves {', '.join(preset.task_types)}, not task_type {self.task_type}"
                )
        expected = None if is_application_profile_arn(self.model) else _vendor_provider(self.model)
        if expected is not None and self.provider != expected:
            raise ValueError(f"provider does not match the model's vendor: this model needs provider {expected}")
        offered = catalog_of(info).elasticsearch.provider_task_types(self.provider)
        if self.task_type not in offered:
            # The specification's table, not the server's code: 9.4's Java lets amazontitan through for
            # chat_completion, and what the specification does not promise can vanish in any release.
            raise ValueError(
                f"provider {self.provider} has no {self.task_type} task on Bedrock in Elasticsearch "
                f"(the amazonbedrock service offers it {', '.join(offered) or 'nothing'})"
            )
        embedding = self.task_type == "text_embedding"
        if not embedding:
            for name in ("similarity", "max_input_tokens", "chunking_settings"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} is only valid for task_type text_embedding")
        settings = self.task_settings.as_dict() if self.task_settings else {}
        if embedding and (wrong := sorted(set(settings) - {"truncate"})):
            raise ValueError(f"task_settings.{wrong[0]} is not valid for text_embedding")
        if not embedding and "truncate" in settings:
            raise ValueError("task_settings.truncate is only valid for text_embedding")
        if "truncate" in settings and self.provider != "cohere":
            raise ValueError(f"task_settings.truncate is not available for provider {self.provider}")
        if "top_k" in settings and self.provider not in TOP_K_PROVIDERS:
            raise ValueError(f"task_settings.top_k is not available for provider {self.provider}")
        return self


def _vendor_provider(model: str) -> str:
    return load_catalog().vendors[parse_model_id(model).vendor]


class RoleMapping(_Strict):
    """A role mapping granting (typically) `inference_admin` or `inference_user`."""

    name: str = Field(pattern=ROLE_MAPPING_NAME_PATTERN, max_length=1024)
    roles: list[RoleName] = Field(min_length=1, description="Roles granted, e.g. inference_admin, inference_user")
    rules: dict[str, Any] = Field(description="Elasticsearch role-mapping rules (any / all / field / except)")
    enabled: bool = True
    metadata: dict[str, Any] = Field(default_factory=dict)
    everyone: bool = Field(
        default=False,
        description=f"Acknowledge that the rules match every user; only {EVERYONE_ROLE} may be granted so",
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed_acknowledgement(cls, data: Any) -> Any:
        if isinstance(data, dict) and "allow_broad_rule" in data:
            raise ValueError(
                f"allow_broad_rule is gone: no role but {EVERYONE_ROLE} may go to every user; "
                "acknowledge that with everyone: true"
            )
        return data

    @field_validator("name")
    @classmethod
    def _not_operator(cls, value: str) -> str:
        if value.endswith(OPERATOR_MAPPING_SUFFIX):
            raise ValueError(f"names ending in {OPERATOR_MAPPING_SUFFIX!r} are operator-defined and read-only")
        if value == LEDGER_NAME:
            raise ValueError(f"{LEDGER_NAME!r} is the mapping where managed-llm records what it owns")
        return value

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("roles must be unique")
        return value

    @field_validator("rules")
    @classmethod
    def _rule_syntax(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_rule(value)
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if key.startswith("_"):
                raise ValueError("metadata: keys may not start with '_' (Elasticsearch reserves them)")
            if key == MANAGED_BY_KEY:
                raise ValueError(f"metadata: the key {MANAGED_BY_KEY} is set by managed-llm")
        if (where := _not_json(value, "metadata")) is not None:
            raise ValueError(
                f"{where}: values must be strings, numbers, booleans, null, lists or mappings (quote dates)"
            )
        if (where := _credential_key(value, "metadata")) is not None:
            # Metadata is stored in the cluster and shown to every reader of role mappings; never echo the value.
            raise ValueError(f"{where}: the key names a credential; secrets do not belong in role-mapping metadata")
        return value

    @model_validator(mode="after")
    def _no_silent_grant_to_everyone(self) -> RoleMapping:
        if not self.enabled or not matches_everyone(self.rules):
            return self
        if others := sorted(set(self.roles) - {EVERYONE_ROLE}):
            raise ValueError(
                f"rules match every user and grant {', '.join(others)}; "
                f"only {EVERYONE_ROLE} may be granted to everyone: narrow the rule"
            )
        if not self.everyone:
            raise ValueError(
                f"rules match every user: set everyone: true to grant {EVERYONE_ROLE} to every user, or narrow the rule"
            )
        return self


# Connector ids Kibana itself uses (and remaps between versions) for Elastic's own managed LLMs.
RESERVED_CONNECTOR_IDS = frozenset(
    {
        "Elastic-Managed-LLM",
        "General-Purpose-LLM-v1",
        "General-Purpose-LLM-v2",
        "Anthropic-Claude-Sonnet-3-7",
        "Anthropic-Claude-Sonnet-4-5",
    }
)


class KibanaConnector(_Strict):
    """Show one inference endpoint of this file in Kibana as an AI connector (`.inference`)."""

    endpoint: str = Field(description="Id of an inference endpoint declared in this file")
    id: str | None = Field(default=None, description="Connector id (default: managed-llm-<endpoint>)")
    name: str | None = Field(
        default=None, description="Display name (default: the preset's, e.g. General Purpose LLM v2)"
    )

    @field_validator("id")
    @classmethod
    def _not_elastics(cls, value: str | None) -> str | None:
        if value is not None and value in RESERVED_CONNECTOR_IDS:
            raise ValueError("this connector id is one Kibana reserves (and remaps) for Elastic's own LLMs")
        if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError("not a valid connector id: use letters, digits, '.', '_' and '-'")
        return value


class Kibana(_Strict):
    """Kibana AI connectors for endpoints of this file (URL and auth from KIBANA_URL, KIBANA_API_KEY...)."""

    connectors: list[KibanaConnector] = Field(min_length=1)


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
EnvName = Annotated[str, StringConstraints(pattern=_ENV_NAME)]


ENV_NAMESPACE = "MANAGED_LLM_"
# Each `<field>_env` of a cluster names exactly `MANAGED_LLM_<NAME>_<ROLE>`: the file chooses which cluster's
# variables a cluster reads, never which variables. A pull request editing only the file therefore cannot
# send a key to a URL it controls (`url_env: CI_COMMIT_TITLE`), print a token through an error
# (`ca_certs_env: GITHUB_TOKEN`), or pair one cluster's key with another's URL.
CLUSTER_ENV_ROLES: dict[str, str] = {
    "url_env": "URL",
    "api_key_env": "API_KEY",
    "username_env": "USERNAME",
    "password_env": "PASSWORD",
    "ca_certs_env": "CA_CERTS",
    "kibana_url_env": "KIBANA_URL",
    "kibana_api_key_env": "KIBANA_API_KEY",
    "kibana_username_env": "KIBANA_USERNAME",
    "kibana_password_env": "KIBANA_PASSWORD",
    "kibana_ca_certs_env": "KIBANA_CA_CERTS",
}


def cluster_env_prefix(name: str) -> str:
    """The variables a cluster may read: `MANAGED_LLM_<NAME upper-cased, '-' as '_'>_`."""
    return f"{ENV_NAMESPACE}{name.upper().replace('-', '_')}_"


class Cluster(_Strict):
    """One of several clusters the file applies to; its settings come from the environment variables named here,
    each `MANAGED_LLM_<NAME>_<ROLE>` (e.g. MANAGED_LLM_PROD_US_API_KEY for cluster prod-us's api_key_env)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    url_env: EnvName = Field(description="MANAGED_LLM_<NAME>_URL: variable holding this cluster's URL")
    api_key_env: EnvName | None = Field(default=None, description="MANAGED_LLM_<NAME>_API_KEY")
    username_env: EnvName | None = Field(default=None, description="MANAGED_LLM_<NAME>_USERNAME")
    password_env: EnvName | None = Field(default=None, description="MANAGED_LLM_<NAME>_PASSWORD")
    ca_certs_env: EnvName | None = Field(default=None, description="MANAGED_LLM_<NAME>_CA_CERTS")
    kibana_url_env: EnvName | None = Field(default=None, description="MANAGED_LLM_<NAME>_KIBANA_URL")
    kibana_api_key_env: EnvName | None = Field(default=None, description="MANAGED_LLM_<NAME>_KIBANA_API_KEY")
    kibana_username_env: EnvName | None = Field(default=None, description="MANAGED_LLM_<NAME>_KIBANA_USERNAME")
    kibana_password_env: EnvName | None = Field(default=None, description="MANAGED_LLM_<NAME>_KIBANA_PASSWORD")
    kibana_ca_certs_env: EnvName | None = Field(default=None, description="MANAGED_LLM_<NAME>_KIBANA_CA_CERTS")
    deployment: DeploymentName | None = Field(default=None, description=DEPLOYMENT_HELP + " (over the file's)")

    @field_validator("name")
    @classmethod
    def _unambiguous_name(cls, value: str) -> str:
        # `<a>-kibana` + `_URL` would read cluster <a>'s KIBANA_URL: names ending so are refused.
        if value.replace("-", "_").endswith("_kibana"):
            raise ValueError("a cluster name must not end in -kibana or _kibana (its variables would be another's)")
        return value

    @field_validator(*CLUSTER_ENV_ROLES, mode="after")
    @classmethod
    def _own_namespace(cls, value: str | None, info: ValidationInfo) -> str | None:
        name = info.data.get("name")
        if value is None or not isinstance(name, str) or info.field_name is None:
            return value
        expected = cluster_env_prefix(name) + CLUSTER_ENV_ROLES[info.field_name]
        if value != expected:
            raise ValueError(f"must be {expected}: a cluster reads only its own MANAGED_LLM_<NAME>_<ROLE> variables")
        return value

    @model_validator(mode="after")
    def _one_auth(self) -> Cluster:
        for prefix in ("", "kibana_"):
            api_key = getattr(self, f"{prefix}api_key_env")
            username, password = getattr(self, f"{prefix}username_env"), getattr(self, f"{prefix}password_env")
            names = (f"{prefix}api_key_env", f"{prefix}username_env", f"{prefix}password_env")
            problem = auth_method_problem(api_key, username, password, names=names)
            if problem is not None:
                raise ValueError(problem)
        return self

    def environ(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The single-cluster environment for this cluster: ELASTICSEARCH_* and KIBANA_* read from the variables
        it names; everything else (BEDROCK_*, AWS_*) is shared by all clusters."""
        out = {k: v for k, v in environ.items() if not k.startswith(("ELASTICSEARCH_", "KIBANA_"))}
        for target, source in (
            ("ELASTICSEARCH_URL", self.url_env),
            ("ELASTICSEARCH_API_KEY", self.api_key_env),
            ("ELASTICSEARCH_USERNAME", self.username_env),
            ("ELASTICSEARCH_PASSWORD", self.password_env),
            ("ELASTICSEARCH_CA_CERTS", self.ca_certs_env),
            ("KIBANA_URL", self.kibana_url_env),
            ("KIBANA_API_KEY", self.kibana_api_key_env),
            ("KIBANA_USERNAME", self.kibana_username_env),
            ("KIBANA_PASSWORD", self.kibana_password_env),
            ("KIBANA_CA_CERTS", self.kibana_ca_certs_env),
        ):
            if source and environ.get(source):
                out[target] = environ[source]
        return out


class DesiredState(_Strict):
    """The whole file."""

    deployment: DeploymentName | None = Field(default=None, description=DEPLOYMENT_HELP)
    bedrock: Bedrock | None = None
    inference_endpoints: list[InferenceEndpoint] = Field(default_factory=list)
    role_mappings: list[RoleMapping] = Field(default_factory=list)
    prices: dict[str, Price] = Field(
        default_factory=dict, description="USD per million input/output tokens by model id, over the shipped prices"
    )
    kibana: Kibana | None = None
    clusters: list[Cluster] = Field(
        default_factory=list, description="Apply the same file to several clusters (default: ELASTICSEARCH_*)"
    )

    def deployment_of(self, cluster: str | None) -> str | None:
        """The deployment a cluster belongs to: its own `deployment`, else the file's (None: no deployment)."""
        chosen = next((c for c in self.clusters if c.name == cluster), None)
        return chosen.deployment if chosen is not None and chosen.deployment is not None else self.deployment

    @field_validator("clusters")
    @classmethod
    def _unique_clusters(cls, value: list[Cluster]) -> list[Cluster]:
        _require_unique([c.name for c in value], "cluster name")
        _require_unique([cluster_env_prefix(c.name) for c in value], "cluster variable prefix")
        return value

    @field_validator("prices")
    @classmethod
    def _priced_models(cls, value: dict[str, Price]) -> dict[str, Price]:
        for model in value:
            parse_model_id(model)
        return value

    @field_validator("inference_endpoints")
    @classmethod
    def _unique_ids(cls, value: list[InferenceEndpoint]) -> list[InferenceEndpoint]:
        _require_unique([e.id for e in value], "inference endpoint id")
        return value

    @field_validator("role_mappings")
    @classmethod
    def _unique_names(cls, value: list[RoleMapping]) -> list[RoleMapping]:
        _require_unique([m.name for m in value], "role mapping name")
        return value

    @model_validator(mode="after")
    def _complete(self) -> DesiredState:
        if self.kibana is not None:
            declared = {e.id for e in self.inference_endpoints}
            for index, connector in enumerate(self.kibana.connectors):
                if connector.endpoint not in declared:
                    raise ValueError(f"kibana.connectors[{index}].endpoint: not an inference endpoint of this file")
                task_type = next(e.task_type for e in self.inference_endpoints if e.id == connector.endpoint)
                if task_type != "chat_completion":
                    # Kibana's AI features offer an `.inference` connector only for chat_completion
                    # (isSupportedConnector, kbn-inference-common): anything else would be a connector no one sees.
                    raise ValueError(
                        f"kibana.connectors[{index}].endpoint: a {task_type} endpoint; "
                        "Kibana's AI features offer an .inference connector only for chat_completion endpoints"
                    )
            _require_unique([c.id or c.endpoint for c in self.kibana.connectors], "Kibana connector")
        if self.inference_endpoints and self.bedrock is None:
            raise ValueError("bedrock: required when inference_endpoints are declared")
        return self


def _not_json(value: Any, path: str) -> str | None:
    """The path of the first value JSON cannot hold (YAML dates, sets, ...), or None."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return None
    if isinstance(value, list):
        return next((w for i, v in enumerate(value) if (w := _not_json(v, f"{path}[{i}]")) is not None), None)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return next((w for k, v in value.items() if (w := _not_json(v, f"{path}.{k}")) is not None), None)
    return path


def _require_unique(values: list[str], what: str) -> None:
    first: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in first:
            raise ValueError(f"duplicate {what} (items {first[value]} and {index})")
        first[value] = index


def _credential_key(value: Any, path: str) -> str | None:
    """The path of the first mapping key, at any depth, that names a credential, or None."""
    if isinstance(value, list):
        return next((w for i, v in enumerate(value) if (w := _credential_key(v, f"{path}[{i}]")) is not None), None)
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(key, str) and names_credential(key):
                return f"{path}.{key}"
            if (where := _credential_key(child, f"{path}.{key}")) is not None:
                return where
    return None


def rule_matches_everyone(rule: dict[str, Any]) -> bool:
    """Whether a rule cannot exclude an arbitrary user (see role_mapping_rules)."""
    return matches_everyone(rule)
