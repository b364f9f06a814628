"""Kibana AI connectors (`.inference`) for the file's endpoints, as preconfigured connectors in kibana.yml.

Why not Kibana's connector API: creating an `.inference` connector makes Kibana create the inference
endpoint itself and fail if it already exists; updating the connector rewrites the endpoint, and deleting
it deletes the endpoint (the connector's pre-save and post-delete hooks). A connector declared in
`xpack.actions.preconfigured` runs none of those hooks: it only points at an existing endpoint by id,
needs no secrets, cannot be changed or deleted through the API, and Kibana hides it until the endpoint
exists. So `kibana-config` renders that block, and plan/apply read Kibana's connector list to show
whether Kibana serves what the file asks for. managed-llm never writes to Kibana.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml

from provisioning.catalog import Catalog
from provisioning.model import DesiredState, InferenceEndpoint, KibanaConnector

KIND = "kibana_connector"
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


def preconfigured_block(specs: Iterable[ConnectorSpec]) -> str:
    """The `xpack.actions.preconfigured` block for kibana.yml (no secrets: the endpoint holds them)."""
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
    return yaml.safe_dump({"xpack.actions.preconfigured": connectors}, sort_keys=False, default_flow_style=False)


class State(StrEnum):
    OK = "ok"
    PENDING = "pending"  # Kibana hides a preconfigured connector until its endpoint exists
    MISSING = "missing"
    DIFFERENT = "different"
    FOREIGN = "foreign"


@dataclass(frozen=True)
class ConnectorStatus:
    spec: ConnectorSpec
    state: State
    detail: str

    @property
    def needs_action(self) -> bool:
        return self.state in (State.MISSING, State.DIFFERENT, State.FOREIGN)


def status(
    specs: Iterable[ConnectorSpec], listed: Iterable[Mapping[str, Any]], existing_endpoints: set[str]
) -> tuple[ConnectorStatus, ...]:
    """Compare what the file asks for with `GET /api/actions/connectors`. Pure."""
    by_id = {str(item.get("id")): item for item in listed}
    out = []
    for spec in specs:
        item = by_id.get(spec.id)
        if item is None:
            if spec.inference_id not in existing_endpoints:
                out.append(ConnectorStatus(spec, State.PENDING, "shown by Kibana once the endpoint exists"))
            else:
                out.append(
                    ConnectorStatus(spec, State.MISSING, "not in Kibana: add `managed-llm kibana-config` to kibana.yml")
                )
            continue
        if not item.get("is_preconfigured"):
            detail = "a connector with this id was created in Kibana, not kibana.yml; it is never touched"
            out.append(ConnectorStatus(spec, State.FOREIGN, detail))
            continue
        differences = _differences(spec, item)
        if differences:
            out.append(ConnectorStatus(spec, State.DIFFERENT, f"update kibana.yml: {', '.join(differences)}"))
        else:
            out.append(ConnectorStatus(spec, State.OK, "listed by Kibana as the file says"))
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
