"""Markdown comments for pull requests, and several clusters planned and applied at once."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning.adapters.file_loader import parse_document
from provisioning.adapters.settings import ConnectionSettings
from provisioning.core.plan import PlanOptions
from provisioning.core.planning import plan_from_state
from provisioning.render.markdown import COMMENT_LIMIT, plan_markdown
from tests.conftest import BEDROCK_ENV, V1, Cli, endpoint, fast_connect, mapping, write_file
from tests.doubles.es_double import CertificateAuthority, EsDouble, encoded_api_key, running_double

pytestmark = pytest.mark.double_only
SNAPSHOTS = Path(__file__).parents[1] / "snapshots"
TARGET = "https://es.example.com:9200"


def snapshot(name: str, text: str) -> None:
    """Compare with the committed snapshot; UPDATE_SNAPSHOTS=1 rewrites it (then review the diff)."""
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; review and rerun with UPDATE_SNAPSHOTS=1"


def busy_plan(run: Cli, double: EsDouble, tmp_path: Path) -> tuple[object, object]:
    """A plan with every kind of change, against a fixed target so the text is stable."""
    before = write_file(
        tmp_path,
        [
            endpoint("keeps-settings"),
            endpoint("changes-model"),
            endpoint("tuned", task_type="completion", task_settings={"temperature": 0.5}),
            endpoint("retired"),
        ],
        [mapping("llm-users"), mapping("old-team")],
    )
    assert run("apply", "-f", str(before)).exit_code == 0
    from tests.provisioning.cli.test_cli_safety import foreign_endpoint

    foreign_endpoint(double, "someone-elses")
    after = write_file(
        tmp_path,
        [
            endpoint("keeps-settings"),
            endpoint("changes-model", model=V1),
            endpoint("tuned", task_type="completion", task_settings={"temperature": 0.2}),
            endpoint("brand-new"),
            endpoint("someone-elses"),
        ],
        [
            mapping("llm-users", ["inference_user", "viewer"]),
            mapping("llm-admins", ["inference_admin"], rules={"field": {"groups": "cn=a|b"}}),
        ],
    )
    desired = parse_document(after.read_text(), str(after))
    client = fast_connect(ConnectionSettings.from_environment(double.env()))
    state = client.read_all()
    client.close()
    plan = plan_from_state(desired, state, PlanOptions(prune=True, force_replace=True), TARGET)
    return plan, desired


def test_plan_markdown_snapshot(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    plan, _ = busy_plan(run, double, tmp_path)
    text = plan_markdown(plan, secrets=[BEDROCK_ENV["BEDROCK_SECRET_ACCESS_KEY"]])
    snapshot("plan.md", text)
    assert "**replace**" in text
    assert "**delete**" in text
    assert (
        "> :warning: **Replaces and deletes:** `changes-model` (replace), `retired` (delete), `old-team` (delete)"
        in text
    )
    assert "cn=a\\|b" in text  # table cells are escaped
    for secret in (*BEDROCK_ENV.values(), encoded_api_key("admin")):
        assert secret not in text


def test_markdown_masks_any_secret_it_is_given() -> None:
    from provisioning.core.diff import Action, Change, Diff, FieldChange
    from provisioning.core.plan import Plan

    change = Change("role_mapping", "m", Action.UPDATE, "rules differ", (FieldChange("rules", "x", "token-123"),))
    assert "token-123" not in plan_markdown(Plan(TARGET, Diff((change,))), secrets=["token-123"])


def test_markdown_fits_a_pull_request_comment() -> None:
    from provisioning.core.diff import Action, Change, Diff, FieldChange
    from provisioning.core.plan import Plan

    changes = tuple(
        Change(
            "inference_endpoint",
            f"endpoint-{i:05d}",
            Action.CREATE,
            "not in the cluster",
            (FieldChange("service_settings.model", None, V1),),
        )
        for i in range(3000)
    )
    text = plan_markdown(Plan(TARGET, Diff(changes)))
    assert len(text) <= COMMENT_LIMIT
    assert text.startswith(f"### managed-llm plan: `{TARGET}`")
    assert "**Plan: 3000 to create, 0 to update, 0 to replace, 0 to delete**" in text
    assert text.rstrip().endswith("not shown (comment size limit): see the job log or `--output json`.")


def test_plan_markdown_from_the_cli(run: Cli, double: EsDouble, tmp_path: Path) -> None:
    result = run("plan", "-f", str(write_file(tmp_path, [endpoint("llm")], [])), "-o", "markdown")
    assert result.exit_code == 2
    assert result.stdout.startswith(f"### managed-llm plan: `{double.url}` (Elasticsearch 9.4.0)")
    assert "| :heavy_plus_sign: | create | `llm` |" in result.stdout


# ---------------------------------------------------------------------------- several clusters


@pytest.fixture
def second(authority: CertificateAuthority) -> Iterator[EsDouble]:
    with running_double(authority) as running:
        yield running


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fleet_file(tmp_path: Path, names: list[str]) -> Path:
    clusters = [
        {
            "name": n,
            "url_env": f"MANAGED_LLM_{n.upper()}_URL",
            "api_key_env": f"MANAGED_LLM_{n.upper()}_API_KEY",
            "ca_certs_env": f"MANAGED_LLM_{n.upper()}_CA_CERTS",
        }
        for n in names
    ]
    return write_file(tmp_path, [endpoint("llm")], [mapping("llm-users")], clusters=clusters)


def fleet_env(double: EsDouble, second: EsDouble, broken_port: int | None = None) -> dict[str, str]:
    env = {
        "MANAGED_LLM_US_URL": double.url,
        "MANAGED_LLM_US_API_KEY": encoded_api_key("admin"),
        "MANAGED_LLM_US_CA_CERTS": str(double.ca_path),
        "MANAGED_LLM_EU_URL": second.url,
        "MANAGED_LLM_EU_API_KEY": encoded_api_key("admin"),
        "MANAGED_LLM_EU_CA_CERTS": str(double.ca_path),
        **BEDROCK_ENV,
    }
    if broken_port is not None:
        env |= {
            "MANAGED_LLM_DOWN_URL": f"https://127.0.0.1:{broken_port}",
            "MANAGED_LLM_DOWN_API_KEY": encoded_api_key("admin"),
            "MANAGED_LLM_DOWN_CA_CERTS": str(double.ca_path),
        }
    return env


def test_several_clusters_are_planned_together_with_the_worst_exit_code(
    double: EsDouble, second: EsDouble, tmp_path: Path
) -> None:
    run = Cli(fleet_env(double, second, closed_port()))
    file = fleet_file(tmp_path, ["us", "eu", "down"])
    result = run("plan", "-f", str(file))
    assert result.exit_code == 1
    out = result.stdout
    assert out.index("== cluster us ==") < out.index("== cluster eu ==") < out.index("== cluster down ==")
    assert out.count("Plan: 2 to create, 0 to update, 0 to replace, 0 to delete.") == 2
    assert "error: read cluster version: cannot reach https://127.0.0.1:" in out
    assert out.rstrip().endswith("Clusters: us exit 2, eu exit 2, down exit 1 (error); exit 1.")
    document = json.loads(run("plan", "-f", str(file), "-o", "json").stdout)
    assert [(c["name"], c["exit_code"], c["error"] is None) for c in document["clusters"]] == [
        ("us", 2, True),
        ("eu", 2, True),
        ("down", 1, False),
    ]
    assert document["exit_code"] == 1


def test_one_failing_cluster_does_not_stop_the_others_from_converging(
    double: EsDouble, second: EsDouble, tmp_path: Path
) -> None:
    run = Cli(fleet_env(double, second, closed_port()))
    file = fleet_file(tmp_path, ["us", "eu", "down"])
    applied = run("apply", "-f", str(file), "-o", "json")
    assert applied.exit_code == 1
    document = json.loads(applied.stdout)
    assert [(c["name"], c["exit_code"]) for c in document["clusters"]] == [("us", 0), ("eu", 0), ("down", 1)]
    assert "llm" in double.cluster.endpoints
    assert "llm" in second.cluster.endpoints
    healthy = fleet_file(tmp_path, ["us", "eu"])
    assert run("plan", "-f", str(healthy)).exit_code == 0


def test_markdown_for_several_clusters_has_a_section_each(double: EsDouble, second: EsDouble, tmp_path: Path) -> None:
    run = Cli(fleet_env(double, second))
    result = run("plan", "-f", str(fleet_file(tmp_path, ["us", "eu"])), "-o", "markdown")
    assert result.exit_code == 2
    assert result.stdout.count("### managed-llm plan, cluster ") == 2


def test_one_cluster_can_be_chosen(double: EsDouble, second: EsDouble, tmp_path: Path) -> None:
    run = Cli(fleet_env(double, second))
    file = fleet_file(tmp_path, ["us", "eu"])
    assert run("apply", "-f", str(file), "--cluster", "eu").exit_code == 0
    assert "llm" in second.cluster.endpoints
    assert "llm" not in double.cluster.endpoints
    verify = run("verify", "-f", str(file))
    assert verify.exit_code == 1
    assert verify.stderr == "error: the file declares 2 clusters: choose one with --cluster NAME\n"
    unknown = run("plan", "-f", str(file), "--cluster", "ap")
    assert unknown.stderr == "error: --cluster ap: no such cluster; the file declares us, eu\n"


def test_a_cluster_whose_variables_are_missing_is_an_error_of_that_cluster_only(
    double: EsDouble, second: EsDouble, tmp_path: Path
) -> None:
    env = fleet_env(double, second)
    env.pop("MANAGED_LLM_EU_URL")
    result = Cli(env)("plan", "-f", str(fleet_file(tmp_path, ["us", "eu"])))
    assert result.exit_code == 1
    assert "error: no Elasticsearch URL: set ELASTICSEARCH_URL or pass --es-url" in result.stdout
    assert "Clusters: us exit 2, eu exit 1 (error); exit 1." in result.stdout
