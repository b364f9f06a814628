"""Malformed 200 answers: each is one `error:` line naming the API and what was wrong, never a traceback.

The bodies are deliberately wrong (no Elasticsearch or Kibana version sends them); the double serves them
as is (`EsDouble.answer`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from provisioning.adapters.es_client import EsClient
from provisioning.adapters.kibana_client import KibanaClient
from provisioning.adapters.settings import ConnectionSettings
from provisioning.core.errors import ClusterError
from provisioning.sandbox import Request, Response, StandinServer
from tests.conftest import Cli, endpoint, fast_connect, mapping, write_file
from tests.doubles.es_double import EsDouble

pytestmark = pytest.mark.double_only

HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
GOOD_ENDPOINT = {"inference_id": "a", "task_type": "completion", "service": "amazonbedrock"}


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


# (path regex, raw body, expected message after "error: ") for `plan`, which reads GET /, _inference and role mappings.
PLAN_CASES = [
    (r"^/$", b"", "read cluster version: unexpected answer: the answer is empty, not an object"),
    (r"^/$", HTML, "read cluster version: unexpected answer: not JSON"),
    (r"^/$", body([1, 2]), "read cluster version: unexpected answer: the answer is a list, not an object"),
    (r"^/$", body({"version": "9.1.0"}), "read cluster version: unexpected answer: version is text, not an object"),
    (r"^/$", body({"version": {"number": 9}}), "read cluster version: unexpected answer: version.number is a number"),
    (r"^/$", body({}), "read cluster version: unexpected answer: version is empty, not an object"),
    (r"^/_inference$", b"", "read inference endpoints: unexpected answer: the answer is empty, not an object"),
    (r"^/_inference$", HTML, "read inference endpoints: unexpected answer: not JSON"),
    (r"^/_inference$", body([GOOD_ENDPOINT]), "read inference endpoints: unexpected answer: the answer is a list"),
    (r"^/_inference$", body({"endpoints": "x"}), "read inference endpoints: unexpected answer: endpoints is text"),
    (r"^/_inference$", body({}), "read inference endpoints: unexpected answer: endpoints is missing"),
    (r"^/_inference$", body({"endpoints": ["x"]}), "unexpected answer: endpoints[0] is text, not an object"),
    (
        r"^/_inference$",
        body({"endpoints": [{**GOOD_ENDPOINT, "service_settings": "x"}]}),
        "read inference endpoints: unexpected answer: endpoints[0].service_settings is text, not an object",
    ),
    (
        r"^/_inference$",
        body({"endpoints": [{**GOOD_ENDPOINT, "task_settings": [1]}]}),
        "unexpected answer: endpoints[0].task_settings is a list, not an object",
    ),
    (
        r"^/_inference$",
        body({"endpoints": [{"task_type": "completion", "service": "amazonbedrock"}]}),
        "unexpected answer: endpoints[0].inference_id is empty, not a string",
    ),
    (r"^/_security/role_mapping$", b"", "read role mappings: unexpected answer: the answer is empty"),
    (r"^/_security/role_mapping$", HTML, "read role mappings: unexpected answer: not JSON"),
    (
        r"^/_security/role_mapping$",
        body([{"roles": []}]),
        "read role mappings: unexpected answer: the answer is a list",
    ),
    (r"^/_security/role_mapping$", body({"m": "x"}), "unexpected answer: role mapping m is text, not an object"),
    (r"^/_security/role_mapping$", body({"m": {"rules": "x"}}), "unexpected answer: role mapping m: rules is text"),
    (r"^/_security/role_mapping$", body({"m": {"roles": "admin"}}), "role mapping m: roles is not a list of strings"),
    (r"^/_security/role_mapping$", body({"m": {"roles": [1]}}), "role mapping m: roles is not a list of strings"),
    (r"^/_security/role_mapping$", body({"m": {"metadata": [1]}}), "role mapping m: metadata is a list"),
    (r"^/_security/role_mapping$", body({"m": {"enabled": "yes"}}), "role mapping m: enabled is text"),
    (r"^/_security/role_mapping$", body({"m": {"role_templates": "x"}}), "role mapping m: role_templates is text"),
]


@pytest.mark.parametrize(("path", "raw", "message"), PLAN_CASES)
def test_a_malformed_answer_to_plan_is_one_line(
    run: Cli, double: EsDouble, tmp_path: Path, path: str, raw: bytes, message: str
) -> None:
    double.answer("GET", path, raw)
    result = run("plan", "-f", str(write_file(tmp_path, [endpoint("a")], [mapping("m")])))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert message in result.stderr


def _client(double: EsDouble) -> EsClient:
    return fast_connect(ConnectionSettings.from_environment(double.env()))


# (method, path regex, raw body, the client call, expected message)
CLIENT_CASES: list[tuple[str, str, bytes, Callable[[EsClient], object], str]] = [
    (
        "POST",
        r"_has_privileges$",
        body([{"manage_inference": True}]),
        lambda c: c.missing_privileges(["manage_inference"]),
        "check privileges: unexpected answer: the answer is a list, not an object",
    ),
    (
        "POST",
        r"_has_privileges$",
        body({"cluster": ["manage_inference"]}),
        lambda c: c.missing_privileges(["manage_inference"]),
        "check privileges: unexpected answer: cluster is a list, not an object",
    ),
    (
        "POST",
        r"_has_privileges$",
        body({"cluster": {"manage_inference": "yes"}}),
        lambda c: c.missing_privileges(["manage_inference"]),
        "check privileges: unexpected answer: cluster.manage_inference is text, not true or false",
    ),
    (
        "DELETE",
        r"^/_inference/completion/a$",
        body({"pipelines": "p"}),
        lambda c: c.references("a", "completion"),
        "check references of a: unexpected answer: pipelines is not a list of strings",
    ),
    (
        "GET",
        r"^/_inference/a$",
        body({"endpoints": "x"}),
        lambda c: c.get_endpoint("a"),
        "read inference endpoint a: unexpected answer: endpoints is text, not a list",
    ),
    (
        "GET",
        r"^/_security/role_mapping/m$",
        body({"m": ["x"]}),
        lambda c: c.get_role_mapping("m"),
        "read role mapping m: unexpected answer: role mapping m is a list, not an object",
    ),
    (
        "POST",
        r"^/_inference/completion/a$",
        body({"completion": "hello"}),
        lambda c: c.complete("a", "hi", 10),
        "completion through a: unexpected answer: completion is text, not a list",
    ),
    (
        "POST",
        r"^/_inference/completion/a$",
        body({"completion": [{"result": 5}]}),
        lambda c: c.complete("a", "hi", 10),
        "completion through a: unexpected answer: completion[].result is a number, not a string",
    ),
    (
        "POST",
        r"^/_inference/text_embedding/a$",
        body({"text_embedding": [{"embedding": "x"}]}),
        lambda c: c.embed("a", "hi"),
        "embedding through a: unexpected answer: text_embedding[0].embedding is text, not a list",
    ),
    (
        "POST",
        r"_stream$",
        body({"chat": 1}),
        lambda c: c.chat("a", "hi", 10),
        "chat completion through a: unexpected answer: the answer is an object, not an event stream",
    ),
]


@pytest.mark.parametrize(("method", "path", "raw", "call", "message"), CLIENT_CASES)
def test_a_malformed_answer_to_a_client_call_is_one_cluster_error(
    double: EsDouble, method: str, path: str, raw: bytes, call: Callable[[EsClient], object], message: str
) -> None:
    double.answer(method, path, raw)
    client = _client(double)
    try:
        with pytest.raises(ClusterError) as caught:
            call(client)
    finally:
        client.close()
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "read Kibana connectors: unexpected answer: not a list"),
        (HTML, "read Kibana /api/actions/connectors: unexpected answer: not JSON"),
        (body({"connectors": []}), "read Kibana connectors: unexpected answer: not a list"),
        (body(["x"]), "read Kibana connectors: unexpected answer: connector [0] is not an object"),
        (body([{"id": 1}]), "read Kibana connectors: unexpected answer: connector [0].id is not a string"),
        (
            body([{"id": "c", "name": "n", "connector_type_id": ".inference", "config": "x"}]),
            "read Kibana connectors: unexpected answer: connector [0].config is not an object",
        ),
    ],
)
def test_a_malformed_kibana_answer_is_one_cluster_error(raw: bytes, message: str) -> None:
    class Malformed:
        # Deliberately malformed (no Kibana version sends these), so no upstream source.
        def handle(self, request: Request) -> Response:
            return Response(200, raw=raw, content_type="application/json")

    with StandinServer(Malformed()) as server:
        client = KibanaClient(ConnectionSettings.from_environment({"KIBANA_URL": server.url}, prefix="KIBANA"))
        with pytest.raises(ClusterError) as caught:
            client.connectors()
    assert caught.value.message == message
