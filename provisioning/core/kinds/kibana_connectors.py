"""Kibana AI connectors (`.inference`) for the file's chat_completion endpoints, preconfigured in kibana.yml.

Why not Kibana's connector API: creating an `.inference` connector makes Kibana create the inference
endpoint itself and fail if it already exists; updating the connector rewrites the endpoint, and deleting
it deletes the endpoint (the connector's pre-save and post-delete hooks). A connector declared in
`xpack.actions.preconfigured` runs none of those hooks: it only points at an existing endpoint by id,
needs no secrets, and cannot be changed or deleted through the API. So `kibana-config` renders that block,
and plan/apply read Kibana's connector list to show whether Kibana serves what the file asks for.
managed-llm never writes to Kibana.

Only chat_completion endpoints get a connector: Kibana's AI features (assistants, Agent Builder,
Playground) offer an `.inference` connector only when its `taskType` is `chat_completion`
(`isSupportedConnector`, elastic/kibana x-pack/platform/packages/shared/ai-infra/inference-common/src/
connectors/is_supported_connector.ts); the file refuses a connector on any other endpoint.

What `GET /api/actions/connectors` lists decides the status: Kibana drops every preconfigured `.inference`
connector whose endpoint does not exist, and keeps them all when it cannot read the endpoints
(`filterInferenceConnectors`, elastic/kibana x-pack/platform/plugins/shared/actions/server/application/
connector/methods/get_all/get_all.ts, PR #217641). So an absent connector says nothing until its endpoint
exists (`pending`), and means the kibana.yml block is missing once it does (`missing`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml

from catalog.models import Catalog
from provisioning.core.model import DesiredState, InferenceEndpoint, KibanaConnector

# The only task type Kibana's AI features accept from an `.inference` connector (isSupportedConnector).
AI_TASK_TYPE = "chat_completion"
CONNECTOR_TYPE = ".inference"
ID_PREFIX = "managed-llm-"


@dataclass(frozen=True)
class ConnectorSpec:
    id: str
    name: str
    task_type: str
    inference_id: str
    provider_config: str  # canonical JSON

    def config(self) -> dict[str, Any]:
        return {
            "provider": "amazonbedrock",
            "taskType": self.task_type,
            "inferenceId": self.inference_id,
            "providerConfig": json.loads(self.provider_config),
        }


def desired(connector: KibanaConnector, endpoint: InferenceEndpoint, region: str, catalog: Catalog) -> ConnectorSpec:
    preset = catalog.preset(endpoint.preset) if endpoint.preset else None
    name = connector.name or (preset.name if preset else endpoint.id)
    if connector.name is None and preset is not None and endpoint.task_type != preset.default_task_type:
        name = f"{name} ({endpoint.task_type})"
    provider_config = {"region": region, "model": endpoint.model, "provider": endpoint.provider}
    return ConnectorSpec(
        id=connector.id or f"{ID_PREFIX}{endpoint.id}",
        name=name,
        task_type=endpoint.task_type,
        inference_id=endpoint.id,
        provider_config=json.dumps(provider_config, sort_keys=True),
    )


def desired_all(state: DesiredState, catalog: Catalog) -> list[ConnectorSpec]:
    if state.kibana is None or state.bedrock is None:
        return []
    endpoints = {e.id: e for e in state.inference_endpoints}
    return [desired(c, endpoints[c.endpoint], state.bedrock.region, catalog) for c in state.kibana.connectors]


def without_connector(state: DesiredState) -> list[InferenceEndpoint]:
    """The file's endpoints Kibana's AI features cannot use as connectors (any task type but chat_completion)."""
    return [e for e in state.inference_endpoints if e.task_type != AI_TASK_TYPE]


def preconfigured_block(specs: Iterable[ConnectorSpec], skipped: Iterable[InferenceEndpoint] = ()) -> str:
    """The `xpack.actions.preconfigured` block for kibana.yml (no secrets: the endpoint holds them), after one
    comment line per endpoint that gets no connector, saying why."""
    notes = "".join(
        f"# {e.id} ({e.task_type}): no AI connector; Kibana's AI features use only chat_completion endpoints\n"
        for e in skipped
    )
    connectors = {
        spec.id: {
            "name": spec.name,
            "actionTypeId": CONNECTOR_TYPE,
            # Without exposeConfig Kibana's AI features cannot see which endpoint and task the connector serves.
            "exposeConfig": True,
            "config": spec.config(),
        }
        for spec in specs
    }
    block = yaml.safe_dump({"xpack.actions.preconfigured": connectors}, sort_keys=False, default_flow_style=False)
    return notes + block


class State(StrEnum):
    OK = "ok"
    PENDING = "pending"  # not listed, and its endpoint does not exist yet: Kibana would hide it anyway
    MISSING = "missing"  # not listed although its endpoint exists: kibana.yml lacks it (or Kibana not restarted)
    DIFFERENT = "different"
    FOREIGN = "foreign"


@dataclass(frozen=True)
class ConnectorStatus:
    spec: ConnectorSpec
    state: State
    detail: str


def status(
    specs: Iterable[ConnectorSpec], listed: Iterable[Mapping[str, Any]], existing_endpoints: set[str]
) -> tuple[ConnectorStatus, ...]:
    """Compare what the file asks for with `GET /api/actions/connectors` and the endpoints that exist. Pure.

    Every connector points at an endpoint of the file, so an endpoint that does not exist is one apply creates.
    """
    by_id = {str(item.get("id")): item for item in listed}
    out = []
    for spec in specs:
        item = by_id.get(spec.id)
        exists = spec.inference_id in existing_endpoints
        if item is None:
            if exists:
                detail = (
                    f"endpoint {spec.inference_id} exists but Kibana does not list the connector: add "
                    "`managed-llm kibana-config` to kibana.yml and restart Kibana"
                )
                out.append(ConnectorStatus(spec, State.MISSING, detail))
            else:
                detail = f"Kibana lists it only once endpoint {spec.inference_id} exists; re-read after apply"
                out.append(ConnectorStatus(spec, State.PENDING, detail))
            continue
        if not item.get("is_preconfigured"):
            detail = "a connector with this id was created in Kibana, not kibana.yml; it is never touched"
            out.append(ConnectorStatus(spec, State.FOREIGN, detail))
            continue
        # Listed before its endpoint exists: Kibana could not read the endpoints (it then keeps every connector).
        early = "" if exists else f" (listed although endpoint {spec.inference_id} does not exist yet)"
        differences = _differences(spec, item)
        if differences:
            out.append(ConnectorStatus(spec, State.DIFFERENT, f"update kibana.yml: {', '.join(differences)}{early}"))
        else:
            out.append(ConnectorStatus(spec, State.OK, f"listed by Kibana as the file says{early}"))
    return tuple(out)


def _differences(spec: ConnectorSpec, item: Mapping[str, Any]) -> list[str]:
    config = item.get("config") or {}
    found = {
        "name": item.get("name"),
        "connector_type_id": item.get("connector_type_id"),
        "config.inferenceId": config.get("inferenceId"),
        "config.taskType": config.get("taskType"),
        "config.provider": config.get("provider"),
    }
    wanted = {
        "name": spec.name,
        "connector_type_id": CONNECTOR_TYPE,
        "config.inferenceId": spec.inference_id,
        "config.taskType": spec.task_type,
        "config.provider": "amazonbedrock",
    }
    if not config:
        return ["exposeConfig: true is missing (Kibana hides the config)"]
    return [f"{key}: {found[key]} -> {wanted[key]}" for key in wanted if found[key] != wanted[key]]
