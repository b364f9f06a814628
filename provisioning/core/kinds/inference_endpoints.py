"""Inference endpoints (`amazonbedrock` service): canonical Specs and request bodies.

Elasticsearch stores what it is given in its own form: the provider comes back upper-case, the rate
limit default (240/min) is filled in, text-embedding endpoints gain `dimensions`, `similarity` and the
default chunking settings, task settings come back as doubles, and secrets never come back
(elastic/elasticsearch x-pack/plugin/inference/.../services/amazonbedrock/AmazonBedrockServiceSettings.java
and its completion/ and embeddings/ settings; elasticsearch-specification AmazonBedrockTypes.ts). `normalize`
and `desired` produce the same canonical `EndpointSpec` for the same intent, so a plan right after an apply
is empty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provisioning.core.model import InferenceEndpoint

KIND = "inference_endpoint"
SERVICE = "amazonbedrock"
RESERVED_PREFIX = "."
DEFAULT_RATE_LIMIT = 240
DEFAULT_CHUNKING: dict[str, Any] = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
# Fields the server chooses when the file leaves them out (provider-dependent): compared only when the
# file sets them. `dimensions` is always the server's (filled from the validation call).
SERVER_DECIDES = frozenset({"service_settings.similarity", "service_settings.max_input_tokens"})
SERVER_ONLY = frozenset({"service_settings.dimensions"})
# Fields the `_update` API can change in place on every 9.x version: task settings only
# (elastic/elasticsearch TransportUpdateInferenceModelAction.java). The rest
# need delete + create. (rate_limit is updatable only from the version with ES PR #144749.)
UPDATABLE_PREFIX = "task_settings."
_FLOAT_TASK_SETTINGS = frozenset({"temperature", "top_p", "top_k"})

Scalar = str | int | float | bool | None
Fields = tuple[tuple[str, Scalar], ...]


@dataclass(frozen=True)
class EndpointSpec:
    """An endpoint in canonical form: flattened, sorted `(path, value)` pairs plus its identity."""

    id: str
    task_type: str
    service: str
    fields: Fields

    def field_map(self) -> dict[str, Scalar]:
        return dict(self.fields)

    def get(self, path: str) -> Scalar:
        return self.field_map().get(path)


def is_reserved(endpoint_id: str) -> bool:
    """Preconfigured endpoints (`.elser-2-elasticsearch`, ...) are never created, changed or deleted."""
    return endpoint_id.startswith(RESERVED_PREFIX)


def _flatten(prefix: str, value: Any, out: dict[str, Scalar]) -> None:
    # Scalars first: most values are, and `isinstance(x, Mapping)` (an ABC) is the slow check.
    if value is None or isinstance(value, str | int | float):
        out[prefix] = value
    elif isinstance(value, list):
        out[prefix] = json.dumps(value, sort_keys=True)
    elif isinstance(value, Mapping):
        for key, child in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), child, out)
    else:
        out[prefix] = value


def _spec(endpoint_id: str, task_type: str, service: str, tree: Mapping[str, Any]) -> EndpointSpec:
    flat: dict[str, Scalar] = {}
    _flatten("", tree, flat)
    for path, value in list(flat.items()):
        name = path.rsplit(".", 1)[-1]
        if path.startswith(UPDATABLE_PREFIX) and name in _FLOAT_TASK_SETTINGS and isinstance(value, int):
            flat[path] = float(value)
    return EndpointSpec(endpoint_id, task_type, service, tuple(sorted(flat.items())))


def normalize(body: Mapping[str, Any]) -> EndpointSpec:
    """Canonical form of one endpoint as GET `_inference` returns it (secrets are never there)."""
    service = str(body.get("service", ""))
    task_type = str(body.get("task_type", ""))
    settings = dict(body.get("service_settings") or {})
    if service == SERVICE:
        if isinstance(settings.get("provider"), str):
            settings["provider"] = settings["provider"].lower()
        settings.setdefault("rate_limit", {"requests_per_minute": DEFAULT_RATE_LIMIT})
    tree: dict[str, Any] = {"service_settings": settings, "task_settings": dict(body.get("task_settings") or {})}
    if task_type == "text_embedding" and service == SERVICE:
        tree["chunking_settings"] = dict(body.get("chunking_settings") or DEFAULT_CHUNKING)
    elif body.get("chunking_settings"):
        tree["chunking_settings"] = dict(body["chunking_settings"])
    return _spec(str(body.get("inference_id", "")), task_type, service, tree)


def desired(endpoint: InferenceEndpoint, region: str, model: str | None = None) -> EndpointSpec:
    """Canonical form of what the file asks for, with the server defaults it would fill in; `model` is what
    Elasticsearch stores instead of the file's (a deployment's application-profile ARN: core/deployments.py)."""
    return _spec(endpoint.id, endpoint.task_type, SERVICE, _tree(endpoint, region, model or endpoint.model))


def _tree(endpoint: InferenceEndpoint, region: str, model: str) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "region": region,
        "model": model,
        "provider": endpoint.provider,
        "rate_limit": {
            "requests_per_minute": endpoint.rate_limit.requests_per_minute
            if endpoint.rate_limit
            else DEFAULT_RATE_LIMIT
        },
    }
    if endpoint.similarity is not None:
        settings["similarity"] = endpoint.similarity
    if endpoint.max_input_tokens is not None:
        settings["max_input_tokens"] = endpoint.max_input_tokens
    tree: dict[str, Any] = {
        "service_settings": settings,
        "task_settings": endpoint.task_settings.as_dict() if endpoint.task_settings else {},
    }
    if endpoint.task_type == "text_embedding":
        chunking = endpoint.chunking_settings
        if chunking is None:
            tree["chunking_settings"] = dict(DEFAULT_CHUNKING)
        else:
            values = chunking.model_dump(exclude_none=True)
            if chunking.strategy == "sentence":
                values.setdefault("sentence_overlap", 1)
            tree["chunking_settings"] = values
    return tree


def _unflatten(spec: EndpointSpec, prefix: str) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in spec.fields:
        if not path.startswith(f"{prefix}."):
            continue
        node = tree
        *parents, leaf = path[len(prefix) + 1 :].split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def create_body(spec: EndpointSpec) -> dict[str, Any]:
    """PUT `_inference/{task_type}/{id}` body without the credentials (es_client adds them at send time)."""
    body: dict[str, Any] = {"service": spec.service, "service_settings": _unflatten(spec, "service_settings")}
    if task_settings := _unflatten(spec, "task_settings"):
        body["task_settings"] = task_settings
    if chunking := _unflatten(spec, "chunking_settings"):
        body["chunking_settings"] = chunking
    return body


def update_body(spec: EndpointSpec) -> dict[str, Any]:
    """`_update` body: task settings only (merged field by field by TransportUpdateInferenceModelAction)."""
    return {"task_settings": _unflatten(spec, "task_settings")}
