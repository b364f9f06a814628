"""An in-memory stand-in of the Elasticsearch APIs managed-llm uses. It is NOT Elasticsearch.

It answers the inference, role-mapping, `_has_privileges` and root APIs the way Elasticsearch 9.x does
(status codes, error envelopes, secrets omitted from GET, server defaults filled in, upper-case provider),
from the Elasticsearch sources listed in docs/upstream-sources.md (section numbers below). It backs
`managed-llm sandbox` and the test double in `tests/doubles/`; the "validation call" Elasticsearch makes
to Bedrock when an endpoint is created is simulated (configurable latency and failures), so nothing
leaves the machine. Pure request -> response: the HTTP layer is `server.py`.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = Any
SECRET_SETTINGS = ("access_key", "secret_key")
PROVIDERS = ("amazontitan", "anthropic", "ai21labs", "cohere", "meta", "mistral")
EMBEDDING_PROVIDERS = ("amazontitan", "cohere")
TOP_K_PROVIDERS = ("anthropic", "cohere", "mistral")
TASK_TYPES = ("completion", "chat_completion", "text_embedding", "sparse_embedding", "rerank", "embedding")
DEFAULT_RATE_LIMIT = 240
DEFAULT_CHUNKING: dict[str, JSON] = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
EMBEDDING_DIMENSIONS = {"amazontitan": 1024, "cohere": 1024}
_ID = re.compile(r"^[a-z0-9](?:[a-z0-9_\-.]*[a-z0-9])?$")
OPERATOR_SUFFIX = "-read-only-operator-mapping"
# Accepted by every REST handler (BaseRestHandler.ALWAYS_SUPPORTED and RestResponse.RESPONSE_PARAMS).
ALWAYS_SUPPORTED_PARAMETERS = frozenset({"format", "filter_path", "pretty", "human", "error_trace"})

# Privileges that include others (docs/upstream-sources.md §9), for authorization and `_has_privileges` answers.
_IMPLIED: dict[str, set[str]] = {
    "all": {"manage", "monitor", "manage_inference", "monitor_inference", "manage_security", "read_security"},
    "manage": {"monitor", "manage_inference", "monitor_inference"},
    "monitor": {"monitor_inference"},
    "manage_inference": {"monitor_inference"},
    "manage_security": {"read_security"},
}

# Self-managed 9.x lists these even when never used (§5); their ids start with `.`.
PRECONFIGURED: tuple[dict[str, JSON], ...] = (
    {
        "inference_id": ".elser-2-elasticsearch",
        "task_type": "sparse_embedding",
        "service": "elasticsearch",
        "service_settings": {
            "num_threads": 1,
            "model_id": ".elser_model_2",
            "adaptive_allocations": {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 32},
        },
        "chunking_settings": {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1},
    },
    {
        "inference_id": ".multilingual-e5-small-elasticsearch",
        "task_type": "text_embedding",
        "service": "elasticsearch",
        "service_settings": {
            "num_threads": 1,
            "model_id": ".multilingual-e5-small",
            "adaptive_allocations": {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 32},
        },
        "chunking_settings": {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1},
    },
    {
        "inference_id": ".rerank-v1-elasticsearch",
        "task_type": "rerank",
        "service": "elasticsearch",
        "service_settings": {"num_threads": 1, "model_id": ".rerank-v1"},
        "task_settings": {"return_documents": True},
    },
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: JSON = None
    headers: dict[str, str] = field(default_factory=dict)
    # A non-JSON body (server-sent events), sent as is with its own content type.
    raw: bytes | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Invocation:
    """What the simulated Bedrock call saw: tests turn it into an invocation log record."""

    endpoint_id: str
    model: str
    region: str
    operation: str
    input_text: str
    output_text: str
    input_tokens: int
    output_tokens: int
    error_code: str | None = None


@dataclass
class Principal:
    """An authenticated caller and the cluster privileges its roles give it."""

    username: str
    cluster_privileges: frozenset[str]

    def holds(self, privilege: str) -> bool:
        return any(p == privilege or privilege in _IMPLIED.get(p, set()) for p in self.cluster_privileges)


class _Error(Exception):
    def __init__(self, status: int, error_type: str, reason: str, caused_by: JSON = None) -> None:
        super().__init__(reason)
        self.status, self.error_type, self.reason, self.caused_by = status, error_type, reason, caused_by

    def response(self) -> Response:
        error: dict[str, JSON] = {
            "root_cause": [{"type": self.error_type, "reason": self.reason}],
            "type": self.error_type,
            "reason": self.reason,
        }
        if self.caused_by is not None:
            error["caused_by"] = self.caused_by
        return Response(self.status, {"error": error, "status": self.status})


def _validation_failed(message: str, error_type: str = "validation_exception") -> _Error:
    return _Error(400, error_type, f"Validation Failed: 1: {message};")


def api_key_header(key_id: str, key: str) -> str:
    """The Authorization header value Elasticsearch expects for an API key (what the client sends)."""
    return "ApiKey " + base64.b64encode(f"{key_id}:{key}".encode()).decode()


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@dataclass
class _Endpoint:
    inference_id: str
    task_type: str
    service: str
    service_settings: dict[str, JSON]
    task_settings: dict[str, JSON]
    chunking_settings: dict[str, JSON] | None

    def public(self) -> dict[str, JSON]:
        """The filtered view every response uses: no secrets, upper-case provider, defaults shown (§1, §2)."""
        settings = {k: v for k, v in self.service_settings.items() if k not in SECRET_SETTINGS}
        out: dict[str, JSON] = {
            "inference_id": self.inference_id,
            "task_type": self.task_type,
            "service": self.service,
            "service_settings": settings,
        }
        if self.task_settings:
            out["task_settings"] = dict(self.task_settings)
        if self.chunking_settings is not None:
            out["chunking_settings"] = dict(self.chunking_settings)
        return out


class StandinCluster:
    """State and behaviour of the stand-in; `handle` is thread-safe."""

    def __init__(
        self,
        *,
        version: str = "9.4.0",
        principals: Mapping[str, Principal] | None = None,
        validation_latency: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.version = version
        # Authorization header value -> principal. Anything else is refused with 401.
        self.principals: dict[str, Principal] = dict(principals or {})
        self.validation_latency = validation_latency
        self._sleep = sleep
        self.endpoints: dict[str, _Endpoint] = {}
        self.preconfigured: dict[str, dict[str, JSON]] = {e["inference_id"]: copy.deepcopy(e) for e in PRECONFIGURED}
        self.role_mappings: dict[str, dict[str, JSON]] = {}
        self.operator_mappings: dict[str, dict[str, JSON]] = {}
        # Endpoint id -> (pipelines, indexes) that use it (set by tests to model semantic_text / pipelines).
        self.references: dict[str, tuple[list[str], list[str]]] = {}
        # Model id -> Bedrock error message returned by the simulated validation call.
        self.bedrock_failures: dict[str, str] = {}
        # Called with each simulated Bedrock invocation (tests write invocation log records from it).
        self.on_invocation: Callable[[Invocation], None] | None = None
        # Every secret the stand-in was given, so tests can prove none comes back.
        self.received_secrets: list[str] = []
        self.validation_calls = 0
        self.validations_in_flight = 0
        self.max_validations_in_flight = 0
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- dispatch

    def handle(self, request: Request) -> Response:
        try:
            principal = self._authenticate(request)
            body = self._json_body(request)
            return self._route(request, principal, body)
        except _Error as error:
            return error.response()

    def _route(self, request: Request, principal: Principal, body: JSON) -> Response:
        parts = [p for p in request.path.split("/") if p]
        method = request.method.upper()
        if not parts:
            if method in ("GET", "HEAD"):
                self._authorize(principal, "monitor", "cluster:monitor/main")
                return Response(200, self._info())
        elif parts[0] == "_inference":
            return self._route_inference(method, parts[1:], request, principal, body)
        elif parts[:2] == ["_security", "role_mapping"]:
            return self._route_role_mappings(method, parts[2:], request, principal, body)
        elif parts[:3] == ["_security", "user", "_has_privileges"] and method in ("GET", "POST"):
            return Response(200, self._has_privileges(principal, body))
        raise _Error(
            400, "illegal_argument_exception", f"no handler found for uri [{request.path}] and method [{method}]"
        )

    def _route_inference(
        self, method: str, parts: list[str], request: Request, principal: Principal, body: JSON
    ) -> Response:
        query = request.query
        task: str | None
        if method == "GET":
            self._authorize(principal, "monitor_inference", "cluster:monitor/xpack/inference/get")
            if len(parts) == 0 or parts == ["_all"] or parts == ["*"]:
                return Response(200, {"endpoints": self._list(None, None)})
            if len(parts) == 1:
                return Response(200, {"endpoints": self._list(None, parts[0])})
            if len(parts) == 2:
                task = self._task_type(parts[0])
                return Response(200, {"endpoints": self._list(task, None if parts[1] == "_all" else parts[1])})
        if method == "POST" and parts and parts[-1] == "_stream" and len(parts) == 3:
            self._authorize(principal, "monitor_inference", "cluster:monitor/xpack/inference")
            return self._stream(self._task_type(parts[0]), parts[1], body)
        if method == "POST" and len(parts) == 2:
            self._authorize(principal, "monitor_inference", "cluster:monitor/xpack/inference")
            return self._infer(self._task_type(parts[0]), parts[1], body)
        # The update API exists from 8.17.0 (elastic/elasticsearch PR #114457; elasticsearch-specification
        # inference/update/UpdateInferenceRequest.ts `since 8.17.0`); older versions have no such route.
        updatable = self._version_at_least(8, 17)
        if method == "PUT" and updatable and parts and parts[-1] == "_update" and len(parts) in (2, 3):
            self._authorize(principal, "manage_inference", "cluster:admin/xpack/inference/update")
            task = self._task_type(parts[0]) if len(parts) == 3 else None
            return Response(200, self._update(parts[-2], task, body))
        if method == "PUT" and len(parts) in (1, 2):
            self._authorize(principal, "manage_inference", "cluster:admin/xpack/inference/put")
            # `timeout` on PUT _inference arrived with elastic/elasticsearch PR #126805 (RestPutInferenceModelAction
            # parses it from 9.1.0 and 8.19.0 on); a 9.0 handler leaves it unconsumed and is refused.
            self._refuse_unrecognized(request, {"timeout"} if self._version_at_least(9, 1) else set())
            task = self._task_type(parts[0]) if len(parts) == 2 else None
            return Response(200, self._put(parts[-1], task, body))
        if method == "DELETE" and len(parts) in (1, 2):
            self._authorize(principal, "manage_inference", "cluster:admin/xpack/inference/delete")
            task = self._task_type(parts[0]) if len(parts) == 2 else None
            return self._delete(parts[-1], task, _flag(query, "dry_run"), _flag(query, "force"))
        raise _Error(
            400, "illegal_argument_exception", f"no handler found for uri [{request.path}] and method [{method}]"
        )

    def _route_role_mappings(
        self, method: str, parts: list[str], request: Request, principal: Principal, body: JSON
    ) -> Response:
        if method == "GET" and len(parts) <= 1:
            self._authorize(principal, "read_security", "cluster:admin/xpack/security/role_mapping/get")
            return self._get_role_mappings(parts[0].split(",") if parts else None)
        if method in ("PUT", "POST") and len(parts) == 1:
            self._authorize(principal, "manage_security", "cluster:admin/xpack/security/role_mapping/put")
            answer = self._put_role_mapping(parts[0], body)
            headers = {}
            if answer.pop("_warning"):
                # §8: a native mapping named like an operator-defined one is stored, with a Warning header.
                headers["Warning"] = (
                    f'299 Elasticsearch-{self.version} "A read-only role mapping with the same name [{parts[0]}] has '
                    "been previously defined in a configuration file. Both role mappings will be used to determine "
                    'role assignments."'
                )
            return Response(200, answer, headers)
        if method == "DELETE" and len(parts) == 1:
            self._authorize(principal, "manage_security", "cluster:admin/xpack/security/role_mapping/delete")
            with self._lock:
                found = self.role_mappings.pop(parts[0], None) is not None
            return Response(200 if found else 404, {"found": found})
        raise _Error(
            400, "illegal_argument_exception", f"no handler found for uri [{request.path}] and method [{method}]"
        )

    # ---------------------------------------------------------------- security

    def _authenticate(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        principal = self.principals.get(header)
        if principal is None:
            reason = (
                "unable to authenticate with provided credentials and anonymous access is not allowed "
                f"for this request [{request.path}]"
            )
            raise _Error(401, "security_exception", reason)
        return principal

    def _authorize(self, principal: Principal, privilege: str, action: str) -> None:
        if not principal.holds(privilege):
            raise _Error(
                403,
                "security_exception",
                f"action [{action}] is unauthorized for user [{principal.username}] with effective roles [], "
                f"this action is granted by the cluster privileges [{privilege},all]",
            )

    def _has_privileges(self, principal: Principal, body: JSON) -> JSON:
        requested = list((body or {}).get("cluster") or [])
        answers = {p: principal.holds(p) for p in requested}
        return {
            "username": principal.username,
            "has_all_requested": all(answers.values()),
            "cluster": answers,
            "index": {},
            "application": {},
        }

    # ---------------------------------------------------------------- inference

    def _info(self) -> JSON:
        return {
            "name": "managed-llm-standin",
            "cluster_name": "managed-llm-standin",
            "cluster_uuid": "standin-not-elasticsearch",
            "version": {"number": self.version, "build_flavor": "default", "lucene_version": "10.0.0"},
            "tagline": "managed-llm stand-in: NOT Elasticsearch",
        }

    @staticmethod
    def _refuse_unrecognized(request: Request, supported: set[str]) -> None:
        """Elasticsearch refuses a query parameter its handler does not consume: BaseRestHandler.handleRequest
        and `unrecognized` (server/src/main/java/org/elasticsearch/rest/BaseRestHandler.java) throw an
        IllegalArgumentException, a 400 `illegal_argument_exception` naming the path and the parameters."""
        unknown = sorted(set(request.query) - supported - ALWAYS_SUPPORTED_PARAMETERS)
        if unknown:
            names = ", ".join(f"[{name}]" for name in unknown)
            plural = "s" if len(unknown) > 1 else ""
            raise _Error(
                400,
                "illegal_argument_exception",
                f"request [{request.path}] contains unrecognized parameter{plural}: {names}",
            )

    def _version_at_least(self, major: int, minor: int) -> bool:
        numbers = [int(n) for n in re.findall(r"\d+", self.version)[:2]]
        return (numbers[0], numbers[1]) >= (major, minor)

    @staticmethod
    def _task_type(value: str) -> str:
        if value not in TASK_TYPES:
            raise _Error(400, "status_exception", f"Unknown task_type [{value}]")
        return value

    def _list(self, task_type: str | None, inference_id: str | None) -> list[JSON]:
        if inference_id is None:
            with self._lock:
                everything = [copy.deepcopy(e) for e in self.preconfigured.values()]
                everything += [e.public() for e in self.endpoints.values()]
            everything.sort(key=lambda e: e["inference_id"])
            return [e for e in everything if task_type is None or e["task_type"] == task_type]
        with self._lock:
            stored = self.endpoints.get(inference_id)
            preconfigured = self.preconfigured.get(inference_id)
            found = [stored.public()] if stored is not None else [copy.deepcopy(preconfigured)] if preconfigured else []
        if not found:
            raise _Error(404, "resource_not_found_exception", f"Inference endpoint not found [{inference_id}]")
        if task_type is not None and found[0]["task_type"] != task_type:
            raise _Error(
                400,
                "status_exception",
                f"Requested task type [{task_type}] does not match the inference endpoint's task type "
                f"[{found[0]['task_type']}]",
            )
        return found

    def _put(self, inference_id: str, path_task: str | None, body: JSON) -> JSON:
        if not _ID.match(inference_id) or inference_id == "_all":
            raise _validation_failed(
                f"Invalid inference_id; '{inference_id}' can contain lowercase alphanumeric (a-z and 0-9), "
                "hyphens or underscores; must start and end with alphanumeric",
                "action_request_validation_exception",
            )
        if not isinstance(body, dict):
            raise _Error(400, "parse_exception", "request body is required")
        task_type = path_task or body.get("task_type")
        if task_type is None:
            raise _Error(400, "status_exception", "Inference endpoint configuration is missing the [task_type] setting")
        self._task_type(str(task_type))
        config = {k: v for k, v in body.items() if k != "task_type"}
        service = config.pop("service", None)
        if service is None:
            raise _Error(400, "status_exception", "Inference endpoint configuration is missing the [service] setting")
        if service != "amazonbedrock":
            raise _Error(400, "status_exception", f"Unknown service [{service}]")
        endpoint = self._parse_bedrock(inference_id, str(task_type), config)
        self._validation_call(endpoint)
        with self._lock:
            if inference_id in self.endpoints or inference_id in self.preconfigured:
                raise _Error(
                    400, "resource_already_exists_exception", f"Inference endpoint [{inference_id}] already exists"
                )
            self.endpoints[inference_id] = endpoint
            self.received_secrets += [str(endpoint.service_settings[k]) for k in SECRET_SETTINGS]
            return endpoint.public()

    def _parse_bedrock(self, inference_id: str, task_type: str, config: dict[str, JSON]) -> _Endpoint:
        unknown_top = sorted(set(config) - {"service_settings", "task_settings", "chunking_settings"})
        if unknown_top:
            settings = ", ".join(f"{k}={config[k]}" for k in unknown_top)
            raise _Error(
                400,
                "status_exception",
                f"Configuration contains settings [{{{settings}}}] unknown to the [amazonbedrock] service",
            )
        if task_type not in ("completion", "chat_completion", "text_embedding"):
            raise _Error(
                400, "status_exception", f"The [amazonbedrock] service does not support task type [{task_type}]"
            )
        if task_type == "chat_completion" and not self._version_at_least(9, 4):
            raise _Error(
                400, "status_exception", "The [amazonbedrock] service does not support task type [chat_completion]"
            )
        service_settings = dict(config.get("service_settings") or {})
        for required in ("access_key", "secret_key", "region", "model", "provider"):
            if required not in service_settings:
                raise _validation_failed(f"[service_settings] does not contain the required setting [{required}]")
        embedding = task_type == "text_embedding"
        allowed = {"access_key", "secret_key", "region", "model", "provider", "rate_limit"}
        if embedding:
            allowed |= {"similarity", "max_input_tokens"}
        unknown = sorted(set(service_settings) - allowed)
        if unknown:
            settings = ", ".join(f"{k}={service_settings[k]}" for k in unknown)
            raise _Error(
                400,
                "status_exception",
                f"Configuration contains settings [{{{settings}}}] unknown to the [amazonbedrock] service",
            )
        provider = str(service_settings["provider"]).strip().lower()
        if provider not in PROVIDERS:
            raise _validation_failed(
                f"[service_settings] Invalid value [{service_settings['provider']}] received. "
                "[provider] must be one of "
                f"[{', '.join(PROVIDERS)}]"
            )
        if embedding and provider not in EMBEDDING_PROVIDERS:
            raise _Error(
                400, "status_exception", f"The [text_embedding] task type for provider [{provider}] is not available"
            )
        rate_limit = service_settings.get("rate_limit")
        if rate_limit is not None:
            rpm = rate_limit.get("requests_per_minute") if isinstance(rate_limit, dict) else None
            if (
                not isinstance(rpm, int)
                or isinstance(rpm, bool)
                or rpm <= 0
                or set(rate_limit) != {"requests_per_minute"}
            ):
                raise _validation_failed("[rate_limit] Invalid value; [requests_per_minute] must be a positive integer")
        stored: dict[str, JSON] = {
            "access_key": service_settings["access_key"],
            "secret_key": service_settings["secret_key"],
            "region": service_settings["region"],
            "model": service_settings["model"],
            "provider": provider.upper(),
            "rate_limit": rate_limit or {"requests_per_minute": DEFAULT_RATE_LIMIT},
        }
        if embedding:
            stored["dimensions"] = EMBEDDING_DIMENSIONS[provider]
            if "max_input_tokens" in service_settings:
                stored["max_input_tokens"] = service_settings["max_input_tokens"]
            similarity = service_settings.get("similarity", "cosine")
            if similarity not in ("cosine", "dot_product", "l2_norm"):
                raise _validation_failed(
                    f"[service_settings] Invalid value [{similarity}] received. "
                    "[similarity] must be one of [cosine, dot_product, l2_norm]"
                )
            stored["similarity"] = similarity
        task_settings = self._task_settings(task_type, provider, config.get("task_settings") or {})
        chunking = config.get("chunking_settings")
        if chunking is not None and not embedding:
            raise _validation_failed(
                "Chunking settings can only be set for [text_embedding, sparse_embedding, embedding] tasks"
            )
        if embedding:
            chunking = self._chunking(chunking)
        return _Endpoint(inference_id, task_type, "amazonbedrock", stored, task_settings, chunking)

    @staticmethod
    def _task_settings(task_type: str, provider: str, settings: JSON) -> dict[str, JSON]:
        if not isinstance(settings, dict):
            raise _validation_failed("[task_settings] must be an object")
        if task_type == "text_embedding":
            unknown = sorted(set(settings) - {"truncate"})
            if unknown:
                raise _Error(
                    400,
                    "status_exception",
                    _unknown_settings(unknown[0], settings[unknown[0]]),
                )
            if "truncate" in settings and provider != "cohere":
                raise _Error(400, "status_exception", f"The [{provider}] provider does not allow [truncate] field")
            return dict(settings)
        unknown = sorted(set(settings) - {"max_new_tokens", "temperature", "top_p", "top_k"})
        if unknown:
            raise _Error(
                400,
                "status_exception",
                _unknown_settings(unknown[0], settings[unknown[0]]),
            )
        for name in ("temperature", "top_p", "top_k"):
            value = settings.get(name)
            if value is not None and (
                not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value <= 1.0
            ):
                raise _validation_failed(
                    f"[task_settings] Invalid value [{value}]. [{name}] must be a greater than or equal to [0.0] "
                    "and less than or equal to [1.0]"
                )
        if "top_k" in settings and provider not in TOP_K_PROVIDERS:
            raise _Error(
                400, "status_exception", f"The [top_k] task parameter is not available for provider [{provider}]"
            )
        tokens = settings.get("max_new_tokens")
        if tokens is not None and (not isinstance(tokens, int) or isinstance(tokens, bool) or tokens <= 0):
            raise _validation_failed(
                f"[task_settings] Invalid value [{tokens}]. [max_new_tokens] must be a positive integer"
            )
        return {k: (float(v) if k != "max_new_tokens" else v) for k, v in settings.items()}

    @staticmethod
    def _chunking(chunking: JSON) -> dict[str, JSON]:
        if chunking is None:
            return dict(DEFAULT_CHUNKING)
        strategy = chunking.get("strategy")
        result: dict[str, JSON]
        if strategy == "sentence":
            allowed, result = (
                {"strategy", "max_chunk_size", "sentence_overlap"},
                {
                    "strategy": "sentence",
                    "max_chunk_size": chunking.get("max_chunk_size"),
                    "sentence_overlap": chunking.get("sentence_overlap", 1),
                },
            )
        elif strategy == "word":
            allowed, result = (
                {"strategy", "max_chunk_size", "overlap"},
                {
                    "strategy": "word",
                    "max_chunk_size": chunking.get("max_chunk_size"),
                    "overlap": chunking.get("overlap"),
                },
            )
        elif strategy == "none":
            allowed, result = {"strategy"}, {"strategy": "none"}
        else:
            raise _validation_failed(f"Invalid chunkingStrategy {strategy}")
        unknown = sorted(set(chunking) - allowed)
        if unknown or any(v is None for v in result.values()):
            raise _validation_failed(f"[chunking_settings] invalid or missing settings for strategy [{strategy}]")
        return result

    def _validation_call(self, endpoint: _Endpoint) -> None:
        """Elasticsearch calls Bedrock before storing or updating an endpoint (§4); simulated here."""
        with self._lock:
            self.validation_calls += 1
            self.validations_in_flight += 1
            self.max_validations_in_flight = max(self.max_validations_in_flight, self.validations_in_flight)
        try:
            if self.validation_latency:
                self._sleep(self.validation_latency)
        finally:
            with self._lock:
                self.validations_in_flight -= 1
        failure = self.bedrock_failures.get(str(endpoint.service_settings.get("model")))
        if failure is not None:
            raise _Error(
                400,
                "status_exception",
                "Could not complete inference endpoint creation as validation call to service threw an exception.",
                caused_by={"type": "status_exception", "reason": f"AmazonBedrock converse failure: [{failure}]"},
            )

    def _update(self, inference_id: str, path_task: str | None, body: JSON) -> JSON:
        if not body:
            raise _Error(400, "status_exception", "Request body is empty")
        not_updatable = sorted(set(body) - {"service_settings", "task_settings", "task_type"})
        if not_updatable:
            fields = ", ".join(f"{k}={body[k]}" for k in not_updatable)
            raise _Error(
                400,
                "status_exception",
                f"Request contained fields which cannot be updated, remove these fields and try again [{{{fields}}}]",
            )
        with self._lock:
            current = self.endpoints.get(inference_id)
            if current is None:
                raise _Error(404, "resource_not_found_exception", f"Inference endpoint not found [{inference_id}]")
            requested_task = path_task or body.get("task_type")
            if requested_task is not None and requested_task != current.task_type:
                raise _Error(400, "status_exception", "Task type must match the task type of the existing endpoint")
            updated = copy.deepcopy(current)
        # In the version modelled, any service_settings in an update is parsed as new secrets (§6):
        # both keys are required and every other key there is ignored.
        if "service_settings" in body:
            new = body["service_settings"] or {}
            missing = [k for k in SECRET_SETTINGS if k not in new]
            if missing:
                raise _validation_failed(f"[secret_settings] does not contain the required setting [{missing[0]}]")
            for key in SECRET_SETTINGS:
                updated.service_settings[key] = new[key]
        if "task_settings" in body:
            provider = str(updated.service_settings["provider"]).lower()
            merged = {**updated.task_settings, **{k: v for k, v in body["task_settings"].items() if v is not None}}
            updated.task_settings = self._task_settings(updated.task_type, provider, merged)
        if self._version_at_least(9, 4):
            self._validation_call(updated)
        with self._lock:
            self.endpoints[inference_id] = updated
            if "service_settings" in body:
                self.received_secrets += [str(updated.service_settings[k]) for k in SECRET_SETTINGS]
            return updated.public()

    def _delete(self, inference_id: str, path_task: str | None, dry_run: bool, force: bool) -> Response:
        with self._lock:
            if inference_id in self.preconfigured:
                if not force:
                    raise _Error(
                        400,
                        "status_exception",
                        f"[{inference_id}] is a reserved inference endpoint. Use the force=true query parameter "
                        "to delete the inference endpoint.",
                    )
            elif inference_id not in self.endpoints:
                raise _Error(404, "resource_not_found_exception", f"Inference endpoint not found [{inference_id}]")
            self._list(path_task, inference_id)
            pipelines, indexes = self.references.get(inference_id, ([], []))
            message = _reference_message(inference_id, pipelines, indexes)
            if dry_run:
                return Response(
                    200,
                    {
                        "acknowledged": False,
                        "pipelines": list(pipelines),
                        "indexes": list(indexes),
                        "error_message": message,
                    },
                )
            if message and not force:
                raise _Error(409, "status_exception", message)
            self.endpoints.pop(inference_id, None)
            self.preconfigured.pop(inference_id, None)
            return Response(200, {"acknowledged": True, "pipelines": list(pipelines), "indexes": list(indexes)})

    # ---------------------------------------------------------------- performing inference

    def _invoke(self, endpoint: _Endpoint, operation: str, text: str) -> Invocation:
        """The simulated Bedrock call: never echoes the input, so a canary in a prompt stays there."""
        model = str(endpoint.service_settings["model"])
        failure = self.bedrock_failures.get(model)
        output = "" if failure else "OK (stand-in answer, not a model)"
        invocation = Invocation(
            endpoint_id=endpoint.inference_id,
            model=model,
            region=str(endpoint.service_settings["region"]),
            operation=operation,
            input_text=text,
            output_text=output,
            input_tokens=max(1, len(text.split())),
            output_tokens=len(output.split()),
            error_code="AccessDeniedException" if failure else None,
        )
        if self.on_invocation is not None:
            self.on_invocation(invocation)
        if failure:
            raise _Error(500, "status_exception", f"AmazonBedrock converse failure: [{failure}]")
        return invocation

    def _endpoint_for(self, task_type: str, inference_id: str) -> _Endpoint:
        with self._lock:
            endpoint = self.endpoints.get(inference_id)
        if endpoint is None:
            raise _Error(404, "resource_not_found_exception", f"Inference endpoint not found [{inference_id}]")
        if endpoint.task_type != task_type:
            raise _Error(
                400,
                "status_exception",
                f"Incompatible task_type, the requested type [{task_type}] does not match the model type "
                f"[{endpoint.task_type}]",
            )
        return endpoint

    def _infer(self, task_type: str, inference_id: str, body: JSON) -> Response:
        endpoint = self._endpoint_for(task_type, inference_id)
        if task_type == "chat_completion":
            # Bedrock's chat_completion is served only through the streaming API.
            raise _Error(
                400, "status_exception", "The [chat_completion] task type only supports streaming, use _stream"
            )
        texts = _inputs(body)
        if task_type == "completion":
            results = [{"result": self._invoke(endpoint, "Converse", t).output_text} for t in texts]
            return Response(200, {"completion": results})
        dims = int(endpoint.service_settings["dimensions"])
        vectors = []
        for text in texts:
            self._invoke(endpoint, "InvokeModel", text)
            seed = sum(text.encode()) or 1
            vectors.append({"embedding": [round(((seed * (i + 7)) % 997) / 997 - 0.5, 6) for i in range(dims)]})
        return Response(200, {"text_embedding": vectors})

    def _stream(self, task_type: str, inference_id: str, body: JSON) -> Response:
        endpoint = self._endpoint_for(task_type, inference_id)
        if task_type == "chat_completion":
            messages = (body or {}).get("messages")
            if not isinstance(messages, list) or not messages:
                raise _validation_failed("Field [messages] cannot be empty")
            text = " ".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
            invocation = self._invoke(endpoint, "ConverseStream", text)
            chunks: list[JSON] = [
                {
                    "id": None,
                    "choices": [{"delta": {"content": invocation.output_text, "role": "assistant"}, "index": 0}],
                    "model": None,
                    "object": None,
                },
                {
                    "id": None,
                    "choices": [{"delta": {}, "finish_reason": "FinishReasonStop", "index": 0}],
                    "model": None,
                    "object": None,
                },
                {
                    "id": None,
                    "choices": [],
                    "model": None,
                    "object": None,
                    "usage": {
                        "completion_tokens": invocation.output_tokens,
                        "prompt_tokens": invocation.input_tokens,
                        "total_tokens": invocation.input_tokens + invocation.output_tokens,
                    },
                },
            ]
        elif task_type == "completion":
            invocation = self._invoke(endpoint, "ConverseStream", _inputs(body)[0])
            chunks = [{"completion": [{"delta": word + " "} for word in invocation.output_text.split()]}]
        else:
            raise _Error(400, "status_exception", f"Streaming is not allowed for task [{task_type}]")
        # Each event starts with a byte-order mark and the stream ends with [DONE] (ServerSentEvents* in ES).
        events = [f"\ufeffevent: message\ndata: {json.dumps(c)}\n\n" for c in chunks]
        events.append("\ufeffevent: message\ndata: [DONE]\n\n")
        return Response(200, raw="".join(events).encode(), content_type="text/event-stream")

    # ---------------------------------------------------------------- role mappings

    def _get_role_mappings(self, names: list[str] | None) -> Response:
        """GET all mappings, or the named ones (404 when none exists). Only the mappings answered are copied:
        copying every mapping per named GET made per-object reads O(N) each (issue 14)."""
        with self._lock:
            operator_names = {f"{name}{OPERATOR_SUFFIX}": name for name in self.operator_mappings}
            wanted = [*self.role_mappings, *operator_names] if names is None else names
            found: dict[str, JSON] = {}
            for name in wanted:
                if name in self.role_mappings:
                    found[name] = copy.deepcopy(self.role_mappings[name])
                elif name in operator_names:
                    mapping = self.operator_mappings[operator_names[name]]
                    found[name] = {
                        **copy.deepcopy(mapping),
                        "metadata": {**mapping.get("metadata", {}), "_read_only": True},
                    }
        if names is None:
            return Response(200, found)
        return Response(200 if found else 404, found)

    def _put_role_mapping(self, name: str, body: JSON) -> JSON:
        if name.endswith(OPERATOR_SUFFIX):
            raise _validation_failed(
                f"Invalid mapping name [{name}]. [{OPERATOR_SUFFIX}] is not an allowed suffix",
                "action_request_validation_exception",
            )
        if not isinstance(body, dict):
            raise _Error(400, "parsing_exception", f"failed to parse role-mapping [{name}]. expected an object")
        for key in body:
            if key not in ("enabled", "roles", "role_templates", "rules", "metadata", "run_as"):
                raise _Error(
                    400, "parsing_exception", f"failed to parse role-mapping [{name}]. unexpected field [{key}]"
                )
        if "enabled" not in body:
            raise _Error(400, "parsing_exception", f"failed to parse role-mapping [{name}]. missing field [enabled]")
        if not isinstance(body["enabled"], bool):
            raise _Error(
                400, "parsing_exception", f"failed to parse role-mapping [{name}]. [enabled] must be a boolean"
            )
        roles, templates = body.get("roles") or [], body.get("role_templates") or []
        if "rules" not in body:
            raise _validation_failed("role-mapping rules are missing", "action_request_validation_exception")
        if not roles and not templates:
            raise _validation_failed(
                "role-mapping roles or role-templates are missing", "action_request_validation_exception"
            )
        if roles and templates:
            raise _validation_failed(
                "role-mapping cannot have both roles and role-templates", "action_request_validation_exception"
            )
        metadata = body.get("metadata") or {}
        if any(str(k).startswith("_") for k in metadata):
            raise _validation_failed("metadata keys may not start with [_]", "action_request_validation_exception")
        _check_rule(name, body["rules"])
        stored: dict[str, JSON] = {"enabled": body["enabled"]}
        stored["roles" if roles else "role_templates"] = list(roles or templates)
        stored["rules"] = _as_elasticsearch_prints(body["rules"])
        stored["metadata"] = copy.deepcopy(metadata)
        with self._lock:
            created = name not in self.role_mappings
            self.role_mappings[name] = stored
            shadowed = name in self.operator_mappings
        return {"role_mapping": {"created": created}, "_warning": shadowed}

    @staticmethod
    def _json_body(request: Request) -> JSON:
        if not request.body:
            return None
        try:
            return json.loads(request.body)
        except ValueError:
            raise _Error(400, "parse_exception", "request body or source parameter is required") from None


def _check_rule(name: str, rule: JSON) -> None:
    """Role-mapping rule syntax: exactly one of any/all/field/except per object (§8)."""
    if not isinstance(rule, dict) or len(rule) != 1:
        raise _Error(
            400, "parsing_exception", f"failed to parse role-mapping [{name}]. rules must have exactly one field"
        )
    ((kind, value),) = rule.items()
    if kind in ("any", "all"):
        if not isinstance(value, list):
            raise _Error(400, "parsing_exception", f"failed to parse role-mapping [{name}]. [{kind}] must be an array")
        for child in value:
            _check_rule(name, child)
    elif kind == "except":
        _check_rule(name, value)
    elif kind == "field":
        if not isinstance(value, dict) or len(value) != 1:
            raise _Error(
                400, "parsing_exception", f"failed to parse role-mapping [{name}]. [field] must have exactly one field"
            )
        ((_, values),) = value.items()
        if values is None or values == []:
            raise _Error(400, "illegal_argument_exception", f"null or empty values ({values})")
    else:
        raise _Error(400, "parsing_exception", f"failed to parse role-mapping [{name}]. unexpected rule [{kind}]")


def _as_elasticsearch_prints(rule: JSON) -> JSON:
    """Rules come back as FieldExpression.toXContent writes them: a single value is a scalar, not a list."""
    ((kind, value),) = rule.items()
    if kind in ("any", "all"):
        return {kind: [_as_elasticsearch_prints(child) for child in value]}
    if kind == "except":
        return {kind: _as_elasticsearch_prints(value)}
    ((name, values),) = value.items()
    if isinstance(values, list) and len(values) == 1:
        values = values[0]
    return {kind: {name: copy.deepcopy(values)}}


def _reference_message(inference_id: str, pipelines: list[str], indexes: list[str]) -> str:
    parts = []
    if pipelines:
        parts.append(
            f"Inference endpoint {inference_id} is referenced by pipelines: [{', '.join(pipelines)}]. Ensure that no "
            "pipelines are using this inference endpoint, or use force to ignore this warning and delete the "
            "inference endpoint."
        )
    if indexes:
        parts.append(
            f"Inference endpoint {inference_id} is being used in the mapping for indexes: [{', '.join(indexes)}]. "
            "Ensure that no index mappings are using this inference endpoint, or use force to ignore this warning "
            "and delete the inference endpoint."
        )
    return " ".join(parts)


def _unknown_settings(name: str, value: JSON) -> str:
    return f"Configuration contains settings [{{{name}={value}}}] unknown to the [amazonbedrock] service"


def _inputs(body: JSON) -> list[str]:
    value = (body or {}).get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise _validation_failed("Field [input] cannot be empty")


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "false").lower() in ("", "true")
