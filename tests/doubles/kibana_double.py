"""A Kibana connectors-API double over HTTP on loopback: the behaviour that shapes managed-llm's design.

Modelled on Kibana's actions plugin and `.inference` connector type:
- GET /api/actions/connectors lists API-created and preconfigured connectors; a preconfigured `.inference`
  connector is left out while no Elasticsearch endpoint has its `config.inferenceId`, all are kept when
  Kibana cannot read the endpoints (`filterInferenceConnectors` in elastic/kibana x-pack/platform/plugins/
  shared/actions/server/application/connector/methods/get_all/get_all.ts, PR #217641), and a preconfigured
  connector's config shows only with `exposeConfig` (same file, getAllHelper);
- POST /api/actions/connector needs `kbn-xsrf`; for `.inference` Kibana creates the endpoint itself and
  fails if it exists; DELETE of an API-created `.inference` connector deletes the endpoint;
- preconfigured connectors cannot be updated or deleted (400);
- errors have Kibana's Boom shape {"statusCode", "error", "message"}.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from provisioning.sandbox import Request, Response

BOOM = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 500: "Internal Server Error"}


def boom(status: int, message: str) -> Response:
    return Response(status, {"statusCode": status, "error": BOOM[status], "message": message})


@dataclass
class KibanaDouble:
    authorization: str
    endpoint_exists: Callable[[str], bool]
    delete_endpoint: Callable[[str], None]
    preconfigured: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Kibana's own `GET _inference` fails (e.g. its user lacks monitor_inference): filterInferenceConnectors
    # catches the error and keeps every preconfigured connector (get_all.ts, "we just return all connectors").
    inference_read_fails: bool = False
    saved: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Deliberately hostile: answer every request with a Boom 400 whose message, and a Warning header, echo the
    # request's headers (Authorization included). Kibana's Boom errors carry free text in `message`
    # (@hapi/boom, wrapped by src/core/packages/http/router-server-internal/src/response.ts); no real Kibana
    # echoes credentials, a proxy in front of it might.
    echo: bool = False

    def load_kibana_yml(self, text: str) -> None:
        """Restart with this kibana.yml (only xpack.actions.preconfigured matters here)."""
        self.preconfigured = dict((yaml.safe_load(text) or {}).get("xpack.actions.preconfigured") or {})

    def handle(self, request: Request) -> Response:
        if self.echo:
            seen = json.dumps({"path": request.path, "headers": dict(request.headers)})
            answer = boom(400, f"cannot handle {seen}")
            answer.headers["Warning"] = f'199 kibana "{seen.replace(chr(34), chr(39))}"'
            return answer
        if request.headers.get("authorization") != self.authorization:
            return boom(401, "[security_exception]: unable to authenticate user")
        if request.method != "GET" and "kbn-xsrf" not in request.headers:
            return boom(400, "Request must contain a kbn-xsrf header.")
        parts = [p for p in request.path.split("/") if p]
        if request.method == "GET" and parts == ["api", "actions", "connectors"]:
            return Response(200, self._list())
        if parts[:3] == ["api", "actions", "connector"] and len(parts) <= 4:
            connector_id = parts[3] if len(parts) == 4 else None
            body = json.loads(request.body or b"{}")
            if request.method == "POST":
                return self._create(connector_id or str(uuid.uuid4()), body)
            if request.method == "PUT" and connector_id in self.preconfigured:
                return boom(400, f"Preconfigured action {connector_id} can not be updated.")
            if request.method == "DELETE" and connector_id is not None:
                return self._delete(connector_id)
        return boom(404, "Not Found")

    def _item(self, connector_id: str, connector: dict[str, Any], preconfigured: bool) -> dict[str, Any]:
        item = {
            "id": connector_id,
            "name": connector["name"],
            "connector_type_id": connector.get("actionTypeId") or connector.get("connector_type_id"),
            "is_preconfigured": preconfigured,
            "is_deprecated": False,
            "is_missing_secrets": False,
            "is_system_action": False,
            "referenced_by_count": 0,
        }
        if not preconfigured or connector.get("exposeConfig"):
            item["config"] = connector.get("config", {})
        return item

    def _list(self) -> list[dict[str, Any]]:
        listed = [self._item(i, c, False) for i, c in self.saved.items()]
        for connector_id, connector in self.preconfigured.items():
            inference_id = (connector.get("config") or {}).get("inferenceId")
            hidden = not self.inference_read_fails and not self.endpoint_exists(str(inference_id))
            if connector.get("actionTypeId") == ".inference" and hidden:
                continue  # filterInferenceConnectors (get_all.ts): dropped while its endpoint does not exist
            listed.append(self._item(connector_id, connector, True))
        return listed

    def _create(self, connector_id: str, body: dict[str, Any]) -> Response:
        if connector_id in self.preconfigured:
            return boom(400, f"This {connector_id} already exists in a preconfigured action.")
        config = body.get("config") or {}
        if body.get("connector_type_id") == ".inference" and self.endpoint_exists(str(config.get("inferenceId"))):
            # The pre-save hook throws a plain Error, which the route turns into a 500.
            return boom(500, "An internal server error occurred.")
        self.saved[connector_id] = {
            "name": body.get("name"),
            "connector_type_id": body.get("connector_type_id"),
            "config": config,
        }
        return Response(200, self._item(connector_id, self.saved[connector_id], False))

    def _delete(self, connector_id: str) -> Response:
        if connector_id in self.preconfigured:
            return boom(400, f"Preconfigured action {connector_id} is not allowed to delete.")
        connector = self.saved.pop(connector_id, None)
        if connector is None:
            return boom(404, f"Saved object [action/{connector_id}] not found")
        if connector.get("connector_type_id") == ".inference":
            self.delete_endpoint(str(connector["config"].get("inferenceId")))  # the post-delete hook
        return Response(204)
