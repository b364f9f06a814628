"""Kibana AI connectors: kibana-config renders them, plan/apply read Kibana and never write to it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from provisioning.core.kinds.kibana_connectors import ConnectorSpec, State, status
from provisioning.sandbox import Request, StandinServer, basic_header
from tests.conftest import BEDROCK_ENV, V2, Cli, write_file
from tests.doubles.es_double import CertificateAuthority, EsDouble
from tests.doubles.kibana_double import KibanaDouble

pytestmark = pytest.mark.double_only
KIBANA_PASSWORD = "kibana-password-never-printed"  # noqa: S105 (test fixture)


@dataclass
class Kibana:
    double: KibanaDouble
    server: StandinServer

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.server.log.entries if m != "GET"]


@pytest.fixture
def kibana(double: EsDouble) -> Iterator[Kibana]:
    def exists(endpoint_id: str) -> bool:
        return endpoint_id in double.cluster.endpoints

    fake = KibanaDouble(
        basic_header("elastic", KIBANA_PASSWORD), exists, lambda i: double.cluster.endpoints.pop(i, None)
    )
    server = StandinServer(fake, product_header=False)
    yield Kibana(fake, server)
    server.close()


@pytest.fixture
def run_with_kibana(double: EsDouble, kibana: Kibana) -> Cli:
    return Cli(
        double.env(
            **BEDROCK_ENV, KIBANA_URL=kibana.server.url, KIBANA_USERNAME="elastic", KIBANA_PASSWORD=KIBANA_PASSWORD
        )
    )


HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


@pytest.fixture
def file(tmp_path: Path) -> Path:
    """Two chat_completion endpoints with connectors, and a completion endpoint Kibana's AI features cannot use."""
    return write_file(
        tmp_path,
        [
            {"id": "general-purpose-llm-v2", "preset": "general-purpose-llm-v2"},
            {"id": "haiku", "model": HAIKU, "provider": "anthropic", "task_type": "chat_completion"},
            {"id": "summaries", "model": HAIKU, "provider": "anthropic", "task_type": "completion"},
        ],
        [],
        kibana={"connectors": [{"endpoint": "general-purpose-llm-v2"}, {"endpoint": "haiku", "name": "Haiku"}]},
    )


def kibana_yml(run: Cli, file: Path) -> str:
    result = run("kibana-config", "-f", str(file))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_kibana_config_renders_preconfigured_connectors_without_secrets(run_with_kibana: Cli, file: Path) -> None:
    text = kibana_yml(run_with_kibana, file)
    block = yaml.safe_load(text)["xpack.actions.preconfigured"]
    assert block["managed-llm-general-purpose-llm-v2"] == {
        "name": "General Purpose LLM v2",
        "actionTypeId": ".inference",
        "exposeConfig": True,
        "config": {
            "provider": "amazonbedrock",
            "taskType": "chat_completion",
            "inferenceId": "general-purpose-llm-v2",
            "providerConfig": {
                "model": V2,
                "provider": "anthropic",
                "region": "us-east-1",
            },
        },
    }
    assert block["managed-llm-haiku"]["name"] == "Haiku"
    assert list(block) == ["managed-llm-general-purpose-llm-v2", "managed-llm-haiku"]
    assert text.startswith(
        "# summaries (completion): no AI connector; Kibana's AI features use only chat_completion endpoints\n"
    )
    assert "secrets" not in json.dumps(block)


def test_the_whole_flow_converges_once_kibana_yml_holds_the_block(
    run_with_kibana: Cli, file: Path, kibana: Kibana, double: EsDouble
) -> None:
    kibana.double.load_kibana_yml(kibana_yml(run_with_kibana, file))
    planned = run_with_kibana("plan", "-f", str(file))
    assert planned.exit_code == 2
    assert (
        "kibana connector managed-llm-general-purpose-llm-v2 (General Purpose LLM v2 -> general-purpose-llm-v2): "
        "pending, Kibana lists it only once endpoint general-purpose-llm-v2 exists; re-read after apply"
        in planned.stdout
    )
    applied = run_with_kibana("apply", "-f", str(file))
    assert applied.exit_code == 0, applied.output
    again = run_with_kibana("plan", "-f", str(file), "-o", "json")
    assert again.exit_code == 0, again.output
    assert [c["state"] for c in json.loads(again.stdout)["kibana_connectors"]] == ["ok", "ok"]
    assert kibana.writes == []


def test_without_the_block_apply_converges_elasticsearch_and_says_what_kibana_needs(
    run_with_kibana: Cli, file: Path, kibana: Kibana, double: EsDouble
) -> None:
    applied = run_with_kibana("apply", "-f", str(file))
    assert applied.exit_code == 1
    assert (
        "kibana connector managed-llm-general-purpose-llm-v2: missing, endpoint general-purpose-llm-v2 exists but "
        "Kibana does not list the connector: add `managed-llm kibana-config` to kibana.yml and restart Kibana"
        in applied.stdout
    )
    assert set(double.cluster.endpoints) == {"general-purpose-llm-v2", "haiku", "summaries"}
    planned = run_with_kibana("plan", "-f", str(file))
    assert planned.exit_code == 2
    assert "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete." in planned.stdout
    kibana.double.load_kibana_yml(kibana_yml(run_with_kibana, file))
    assert run_with_kibana("plan", "-f", str(file)).exit_code == 0
    assert kibana.writes == []


def test_a_connector_that_differs_from_the_file_is_a_change(run_with_kibana: Cli, file: Path, kibana: Kibana) -> None:
    kibana.double.load_kibana_yml(kibana_yml(run_with_kibana, file).replace("General Purpose LLM v2", "Old name"))
    assert run_with_kibana("apply", "-f", str(file)).exit_code == 1
    planned = run_with_kibana("plan", "-f", str(file))
    assert planned.exit_code == 2
    assert "different, update kibana.yml: name: Old name -> General Purpose LLM v2" in planned.stdout


def test_a_connector_created_in_kibana_with_our_id_is_a_conflict(
    run_with_kibana: Cli, file: Path, kibana: Kibana
) -> None:
    kibana.double.saved["managed-llm-general-purpose-llm-v2"] = {
        "name": "someone's",
        "connector_type_id": ".inference",
        "config": {"inferenceId": "x"},
    }
    planned = run_with_kibana("plan", "-f", str(file))
    assert planned.exit_code == 1
    assert (
        "foreign, a connector with this id was created in Kibana, not kibana.yml; it is never touched" in planned.stdout
    )
    applied = run_with_kibana("apply", "-f", str(file))
    assert applied.exit_code == 1
    assert applied.stderr.startswith("error: nothing applied: kibana connector managed-llm-general-purpose-llm-v2:")
    assert kibana.writes == []


def test_kibana_errors_are_one_line_and_secret_free(double: EsDouble, kibana: Kibana, file: Path) -> None:
    wrong = Cli(double.env(KIBANA_URL=kibana.server.url, KIBANA_USERNAME="elastic", KIBANA_PASSWORD="wrong-password"))  # noqa: S106
    result = wrong("plan", "-f", str(file))
    assert result.exit_code == 1
    assert (
        result.stderr
        == "error: read Kibana /api/actions/connectors: HTTP 401: [security_exception]: unable to authenticate user\n"
    )
    missing = Cli(double.env())("plan", "-f", str(file))
    assert missing.stderr == "error: the file has a kibana section: set KIBANA_URL\n"
    assert "wrong-password" not in result.output


def test_why_not_the_api_kibana_would_own_the_endpoint(
    kibana: Kibana, double: EsDouble, run_with_kibana: Cli, tmp_path: Path
) -> None:
    """What the double models (and the design avoids): the API cannot attach to an endpoint we own."""
    assert (
        run_with_kibana(
            "apply", "-f", str(write_file(tmp_path, [{"id": "llm", "preset": "general-purpose-llm-v2"}], []))
        ).exit_code
        == 0
    )
    auth = basic_header("elastic", KIBANA_PASSWORD)
    body = json.dumps(
        {
            "name": "x",
            "connector_type_id": ".inference",
            "config": {"inferenceId": "llm", "taskType": "chat_completion"},
        }
    )
    no_xsrf = kibana.double.handle(
        Request("POST", "/api/actions/connector", headers={"authorization": auth}, body=body.encode())
    )
    assert (no_xsrf.status, no_xsrf.body["message"]) == (400, "Request must contain a kbn-xsrf header.")
    create = kibana.double.handle(
        Request("POST", "/api/actions/connector", headers={"authorization": auth, "kbn-xsrf": "x"}, body=body.encode())
    )
    assert create.status == 500
    kibana.double.load_kibana_yml(
        "xpack.actions.preconfigured: {c1: {name: n, actionTypeId: .inference, config: {inferenceId: llm}}}"
    )
    refused = kibana.double.handle(
        Request("DELETE", "/api/actions/connector/c1", headers={"authorization": auth, "kbn-xsrf": "x"})
    )
    assert (refused.status, refused.body["message"]) == (400, "Preconfigured action c1 is not allowed to delete.")
    assert "llm" in double.cluster.endpoints


@pytest.mark.parametrize(
    ("connectors", "message"),
    [
        ([{"endpoint": "nope"}], "kibana.connectors[0].endpoint: not an inference endpoint of this file"),
        ([{"endpoint": "llm", "id": "General-Purpose-LLM-v2"}], "is one Kibana reserves"),
        ([{"endpoint": "llm"}, {"endpoint": "llm"}], "duplicate Kibana connector (items 0 and 1)"),
        ([], "kibana.connectors: List should have at least 1 item"),
        (
            [{"endpoint": "summaries"}],
            "kibana.connectors[0].endpoint: a completion endpoint; Kibana's AI features offer an "
            ".inference connector only for chat_completion endpoints",
        ),
    ],
)
def test_kibana_section_validation(tmp_path: Path, connectors: list[dict[str, str]], message: str) -> None:
    from click.testing import CliRunner

    from provisioning.cli.app import cli

    file = write_file(
        tmp_path,
        [
            {"id": "llm", "preset": "general-purpose-llm-v2"},
            {"id": "summaries", "model": HAIKU, "provider": "anthropic", "task_type": "completion"},
        ],
        [],
        kibana={"connectors": connectors},
    )
    result = CliRunner().invoke(cli, ["validate", "-f", str(file)])
    assert result.exit_code == 1
    assert message in result.stderr


def test_the_double_hides_a_preconfigured_connector_until_its_endpoint_exists(kibana: Kibana) -> None:
    kibana.double.load_kibana_yml(
        "xpack.actions.preconfigured: "
        "{c1: {name: n, actionTypeId: .inference, exposeConfig: true, config: {inferenceId: later}}}"
    )
    auth = basic_header("elastic", KIBANA_PASSWORD)
    url = f"{kibana.server.url}/api/actions/connectors"
    request = urllib.request.Request(url, headers={"authorization": auth})  # noqa: S310 (loopback double)
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback double)
        assert json.loads(response.read()) == []


def test_the_double_keeps_every_connector_when_kibana_cannot_read_the_endpoints(kibana: Kibana) -> None:
    kibana.double.load_kibana_yml(
        "xpack.actions.preconfigured: {c1: {name: n, actionTypeId: .inference, config: {inferenceId: later}}}"
    )
    kibana.double.inference_read_fails = True
    listed = kibana.double.handle(
        Request("GET", "/api/actions/connectors", headers={"authorization": basic_header("elastic", KIBANA_PASSWORD)})
    )
    assert [c["id"] for c in listed.body] == ["c1"]


SPEC = ConnectorSpec("managed-llm-llm", "LLM", "chat_completion", "llm", "{}")
LISTED = {
    "id": "managed-llm-llm",
    "name": "LLM",
    "connector_type_id": ".inference",
    "is_preconfigured": True,
    "config": {"inferenceId": "llm", "taskType": "chat_completion", "provider": "amazonbedrock"},
}


@pytest.mark.parametrize(
    ("listed", "existing", "state", "detail"),
    [
        ([LISTED], {"llm"}, State.OK, "listed by Kibana as the file says"),
        ([], {"llm"}, State.MISSING, "endpoint llm exists but Kibana does not list the connector"),
        ([], set(), State.PENDING, "Kibana lists it only once endpoint llm exists; re-read after apply"),
        ([{**LISTED, "name": "Old"}], {"llm"}, State.DIFFERENT, "update kibana.yml: name: Old -> LLM"),
        ([{**LISTED, "is_preconfigured": False}], set(), State.FOREIGN, "created in Kibana, not kibana.yml"),
        # Kibana kept it because it could not read the endpoints (filterInferenceConnectors' fallback).
        ([LISTED], set(), State.OK, "as the file says (listed although endpoint llm does not exist yet)"),
    ],
)
def test_connector_status_follows_what_kibana_lists(
    listed: list[dict[str, object]], existing: set[str], state: State, detail: str
) -> None:
    (found,) = status([SPEC], listed, existing)
    assert found.state is state
    assert detail in found.detail


def test_when_kibana_cannot_read_the_endpoints_its_list_is_still_read_right(
    run_with_kibana: Cli, file: Path, kibana: Kibana
) -> None:
    kibana.double.inference_read_fails = True
    kibana.double.load_kibana_yml(kibana_yml(run_with_kibana, file))
    planned = run_with_kibana("plan", "-f", str(file), "-o", "json")
    states = [(c["state"], c["detail"]) for c in json.loads(planned.stdout)["kibana_connectors"]]
    assert states == [
        (
            "ok",
            "listed by Kibana as the file says (listed although endpoint general-purpose-llm-v2 does not exist yet)",
        ),
        ("ok", "listed by Kibana as the file says (listed although endpoint haiku does not exist yet)"),
    ]


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_each_kibana_client_is_closed_and_apply_opens_one(
    double: EsDouble, kibana: Kibana, file: Path, command: str
) -> None:
    from provisioning.adapters.kibana_client import KibanaClient
    from provisioning.cli.app import CliContext, cli
    from tests.conftest import fast_connect

    opened: list[KibanaClient] = []
    closed: list[KibanaClient] = []

    class Recording(KibanaClient):
        def close(self) -> None:
            closed.append(self)
            super().close()

    def connect(settings: Any) -> KibanaClient:
        client = Recording(settings)
        opened.append(client)
        return client

    env = double.env(
        **BEDROCK_ENV, KIBANA_URL=kibana.server.url, KIBANA_USERNAME="elastic", KIBANA_PASSWORD=KIBANA_PASSWORD
    )
    context = CliContext(environ=env, connect=fast_connect, connect_kibana=connect, lock_settle=0.0)
    result = CliRunner().invoke(cli, [command, "-f", str(file)], obj=context, catch_exceptions=False)
    assert result.exit_code in (0, 1, 2), result.output
    assert len(opened) == 1, "plan and apply read Kibana through one client"
    assert closed == opened


def test_kibana_over_tls_retries_a_dropped_handshake_and_names_a_persistent_one(
    double: EsDouble, kibana: Kibana, file: Path, authority: CertificateAuthority
) -> None:
    with StandinServer(kibana.double, ssl_context=authority.server_context(), product_header=False) as tls:
        env = double.env(
            **BEDROCK_ENV,
            KIBANA_URL=tls.url,
            KIBANA_USERNAME="elastic",
            KIBANA_PASSWORD=KIBANA_PASSWORD,
            KIBANA_CA_CERTS=str(authority.ca_path),
        )
        tls.drop_next_handshakes(2)
        assert Cli(env)("plan", "-f", str(file)).exit_code == 2
        tls.drop_next_handshakes(100)
        result = Cli(env)("plan", "-f", str(file))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: read Kibana /api/actions/connectors: cannot reach {tls.url}: the connection was closed during TLS "
        "(after 4 attempts)\n"
    )
