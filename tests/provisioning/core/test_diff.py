"""Properties of normalize/diff/plan/apply, over generated files and generated cluster states.

The "server" here is the stand-in's own request handling (the same code the double serves), so
`normalize(server_echo(x))` is what Elasticsearch's normalization does to `x`.
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from provisioning.adapters.credentials import BedrockCredentials
from provisioning.adapters.es_client import EsClient
from provisioning.adapters.settings import ConnectionSettings
from provisioning.core.apply import apply_plan
from provisioning.core.diff import Action, compare_endpoint
from provisioning.core.kinds import inference_endpoints as endpoints
from provisioning.core.kinds.ownership import LEDGER_NAME, ledger_body
from provisioning.core.model import DesiredState
from provisioning.core.outcome import Applied
from provisioning.core.plan import PlanOptions
from provisioning.core.planning import ClusterState, make_plan, plan_from_state
from provisioning.render import View, emit
from provisioning.render.json import plan_document
from provisioning.render.text import plan_text
from provisioning.sandbox import Principal, Request, StandinCluster, StandinServer, api_key_header

ADMIN = api_key_header("hypothesis", "key")
PRINCIPALS = {ADMIN: Principal("hypothesis", frozenset({"all"}))}
CHAT_MODELS = {
    "anthropic": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "meta": "us.meta.llama3-3-70b-instruct-v1:0",
    "mistral": "mistral.mistral-large-2407-v1:0",
    "cohere": "cohere.command-r-plus-v1:0",
}
EMBEDDING_MODELS = {"amazontitan": "amazon.titan-embed-text-v2:0", "cohere": "cohere.embed-english-v3"}
FAKE_KEYS = BedrockCredentials(SecretStr("AKIAPROPERTYTEST0001"), SecretStr("property-test-secret"), "test")

ids = st.from_regex(r"[a-z][a-z0-9_-]{0,12}[a-z0-9]", fullmatch=True)
unit = st.floats(min_value=0, max_value=1, allow_nan=False).map(lambda x: round(x, 3))


@st.composite
def endpoint_entries(draw: st.DrawFn, endpoint_id: str) -> dict[str, Any]:
    task_type = draw(st.sampled_from(["chat_completion", "completion", "text_embedding"]))
    entry: dict[str, Any] = {"id": endpoint_id, "task_type": task_type}
    if task_type == "text_embedding":
        provider = draw(st.sampled_from(sorted(EMBEDDING_MODELS)))
        entry |= {"model": EMBEDDING_MODELS[provider], "provider": provider}
        if draw(st.booleans()):
            entry["similarity"] = draw(st.sampled_from(["cosine", "dot_product", "l2_norm"]))
        if draw(st.booleans()):
            entry["chunking_settings"] = draw(
                st.sampled_from(
                    [
                        {"strategy": "sentence", "max_chunk_size": 200},
                        {"strategy": "sentence", "max_chunk_size": 300, "sentence_overlap": 0},
                        {"strategy": "word", "max_chunk_size": 100, "overlap": 10},
                        {"strategy": "none"},
                    ]
                )
            )
        if provider == "cohere" and draw(st.booleans()):
            entry["task_settings"] = {"truncate": draw(st.sampled_from(["NONE", "START", "END"]))}
    else:
        provider = draw(st.sampled_from(sorted(CHAT_MODELS)))
        entry |= {"model": CHAT_MODELS[provider], "provider": provider}
        settings_: dict[str, Any] = {}
        if draw(st.booleans()):
            settings_["max_new_tokens"] = draw(st.integers(min_value=1, max_value=4096))
        for name in ("temperature", "top_p") + (("top_k",) if provider in ("anthropic", "cohere", "mistral") else ()):
            if draw(st.booleans()):
                settings_[name] = draw(unit)
        if settings_:
            entry["task_settings"] = settings_
    if draw(st.booleans()):
        entry["rate_limit"] = {"requests_per_minute": draw(st.integers(min_value=1, max_value=10_000))}
    return entry


@st.composite
def mapping_entries(draw: st.DrawFn, name: str) -> dict[str, Any]:
    field = draw(st.sampled_from(["username", "groups", "realm.name", "dn"]))
    values = draw(st.lists(st.from_regex(r"[a-z][a-z0-9=,]{0,10}", fullmatch=True), min_size=1, max_size=3))
    rule: dict[str, Any] = {"field": {field: values if len(values) > 1 or draw(st.booleans()) else values[0]}}
    if draw(st.booleans()):
        rule = {draw(st.sampled_from(["any", "all"])): [rule, {"field": {"realm.name": "saml1"}}]}
    entry: dict[str, Any] = {
        "name": name,
        "roles": draw(
            st.lists(
                st.sampled_from(["inference_admin", "inference_user", "viewer"]), min_size=1, max_size=3, unique=True
            )
        ),
        "rules": rule,
        "enabled": draw(st.booleans()),
    }
    if draw(st.booleans()):
        entry["metadata"] = {"team": draw(st.sampled_from(["search", "ml"])), "tier": draw(st.integers(0, 3))}
    return entry


@st.composite
def desired_states(draw: st.DrawFn) -> DesiredState:
    endpoint_ids = draw(st.lists(ids, max_size=5, unique=True))
    mapping_names = draw(st.lists(ids.filter(lambda n: n != LEDGER_NAME), max_size=4, unique=True))
    return DesiredState.model_validate(
        {
            "bedrock": {"region": draw(st.sampled_from(["us-east-1", "us-east-2", "us-west-2"]))},
            "inference_endpoints": [draw(endpoint_entries(i)) for i in endpoint_ids],
            "role_mappings": [draw(mapping_entries(n)) for n in mapping_names],
        }
    )


def echo(desired: DesiredState, cluster: StandinCluster | None = None) -> StandinCluster:
    """Send what apply would send for `desired` straight to the stand-in's request handling."""
    from provisioning.core.kinds import role_mappings as mappings

    cluster = cluster or StandinCluster(principals=PRINCIPALS)
    region = desired.bedrock.region if desired.bedrock else "us-east-1"
    for entry in desired.inference_endpoints:
        spec = endpoints.desired(entry, region)
        body = endpoints.create_body(spec)
        body["service_settings"] |= {"access_key": "k", "secret_key": "s"}
        response = cluster.handle(_request("PUT", f"/_inference/{spec.task_type}/{spec.id}", body))
        assert response.status == 200, response.body
    for entry in desired.role_mappings:
        response = cluster.handle(
            _request("PUT", f"/_security/role_mapping/{entry.name}", mappings.put_body(mappings.desired(entry)))
        )
        assert response.status == 200, response.body
    ledger = ledger_body(e.id for e in desired.inference_endpoints)
    assert cluster.handle(_request("PUT", f"/_security/role_mapping/{LEDGER_NAME}", ledger)).status == 200
    return cluster


def _request(method: str, path: str, body: Any = None) -> Request:
    return Request(
        method, path, headers={"authorization": ADMIN}, body=json.dumps(body).encode() if body is not None else b""
    )


def read(cluster: StandinCluster) -> ClusterState:
    endpoints_body = cluster.handle(_request("GET", "/_inference/_all")).body
    mappings_body = cluster.handle(_request("GET", "/_security/role_mapping")).body
    return ClusterState(tuple(endpoints_body["endpoints"]), mappings_body)


@given(desired_states())
def test_plan_of_the_servers_echo_is_empty(desired: DesiredState) -> None:
    plan = plan_from_state(desired, read(echo(desired)), PlanOptions(), "test")
    assert plan.changes == (), [c.fields for c in plan.changes]
    assert not plan.has_changes


@given(desired_states(), st.randoms())
def test_input_order_never_changes_the_plan(desired: DesiredState, rng: random.Random) -> None:
    shuffled = desired.model_copy(
        update={
            "inference_endpoints": rng.sample(desired.inference_endpoints, len(desired.inference_endpoints)),
            "role_mappings": rng.sample(desired.role_mappings, len(desired.role_mappings)),
        }
    )
    state = read(StandinCluster(principals=PRINCIPALS))
    assert plan_document(plan_from_state(desired, state, PlanOptions(), "t")) == plan_document(
        plan_from_state(shuffled, state, PlanOptions(), "t")
    )


@given(desired_states(), desired_states())
def test_prune_never_touches_foreign_or_reserved_objects(ours: DesiredState, theirs: DesiredState) -> None:
    cluster = echo(theirs)
    # Theirs: nothing of it is in our ledger, and their mappings carry no managed_by.
    cluster.handle(_request("PUT", f"/_security/role_mapping/{LEDGER_NAME}", ledger_body([])))
    for name, body in cluster.role_mappings.items():
        if name != LEDGER_NAME:
            body["metadata"] = {}
    plan = plan_from_state(ours, read(cluster), PlanOptions(prune=True), "t")
    for change in plan.changes:
        assert change.action is not Action.DELETE, change
        assert not change.id.startswith(".")


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    with StandinServer(StandinCluster(principals=PRINCIPALS)) as running:
        yield running


def client_for(server: StandinServer) -> EsClient:
    import base64

    key = base64.b64encode(b"hypothesis:key").decode()
    return EsClient(ConnectionSettings(url=server.url, api_key=SecretStr(key)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=desired_states(), after=desired_states(), prune=st.booleans())
def test_one_apply_converges_and_a_second_changes_nothing(
    server: StandinServer, before: DesiredState, after: DesiredState, prune: bool
) -> None:
    server.cluster = echo(before)
    client = client_for(server)
    options = PlanOptions(prune=prune, force_replace=True)
    first = make_plan(after, client, options, server.url)
    report = apply_plan(first, after, client, lambda: FAKE_KEYS)
    assert report.exit_code == 0, report.summary()
    assert report.converged
    second = make_plan(after, client, options, server.url)
    assert not second.has_changes, [c.fields for c in second.changes]
    server.log.clear()
    assert apply_plan(second, after, client, lambda: FAKE_KEYS).results == ()
    assert [e for e in server.log.entries if e[0] != "GET"] == []
    client.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    desired=desired_states(),
    key_id=st.from_regex(r"AKIA[A-Z0-9]{16}", fullmatch=True),
    secret=st.from_regex(r"[A-Za-z0-9/+]{30,40}", fullmatch=True),
)
def test_generated_secrets_never_appear_in_rendered_output(
    server: StandinServer, desired: DesiredState, key_id: str, secret: str
) -> None:
    server.cluster = StandinCluster(principals=PRINCIPALS)
    client = client_for(server)
    keys = BedrockCredentials(SecretStr(key_id), SecretStr(secret), "environment")
    plan = make_plan(desired, client, PlanOptions(), server.url)
    report = apply_plan(plan, desired, client, lambda: keys)
    out = io.StringIO()
    for fmt in ("text", "json", "markdown"):
        emit(plan, fmt, out, View(credentials_source=keys.source))
    for fmt in ("text", "json"):
        emit(Applied(plan, report), fmt, out)
    printed = out.getvalue() + repr(keys) + repr(plan) + repr(report)
    assert key_id not in printed
    assert secret not in printed
    if desired.inference_endpoints:
        assert key_id in server.cluster.received_secrets
    client.close()


def _spec(**task_settings: Any) -> endpoints.EndpointSpec:
    entry = DesiredState.model_validate(
        {
            "bedrock": {"region": "us-east-1"},
            "inference_endpoints": [
                {
                    "id": "e",
                    "task_type": "completion",
                    "model": CHAT_MODELS["anthropic"],
                    "provider": "anthropic",
                    "task_settings": task_settings or None,
                }
            ],
        }
    ).inference_endpoints[0]
    return endpoints.desired(entry, "us-east-1")


@pytest.mark.parametrize(
    ("desired", "actual", "action"),
    [
        (_spec(temperature=0.2), _spec(temperature=0.2), None),
        (_spec(temperature=0.2), _spec(temperature=0.5), Action.UPDATE),
        (_spec(temperature=0.2, top_p=0.9), _spec(temperature=0.2), Action.UPDATE),
        (_spec(temperature=0.2), _spec(temperature=0.2, top_p=0.9), Action.REPLACE),
    ],
)
def test_task_settings_update_in_place_unless_one_is_removed(
    desired: endpoints.EndpointSpec, actual: endpoints.EndpointSpec, action: Action | None
) -> None:
    assert compare_endpoint(desired, actual)[1] is action


def test_normalize_matches_what_elasticsearch_returns() -> None:
    body = {
        "inference_id": "e",
        "task_type": "text_embedding",
        "service": "amazonbedrock",
        "service_settings": {
            "region": "us-east-1",
            "model": "amazon.titan-embed-text-v2:0",
            "provider": "AMAZONTITAN",
            "rate_limit": {"requests_per_minute": 240},
            "dimensions": 1024,
            "similarity": "cosine",
        },
        "chunking_settings": {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1},
    }
    desired = DesiredState.model_validate(
        {
            "bedrock": {"region": "us-east-1"},
            "inference_endpoints": [
                {
                    "id": "e",
                    "task_type": "text_embedding",
                    "model": "amazon.titan-embed-text-v2:0",
                    "provider": "amazontitan",
                }
            ],
        }
    ).inference_endpoints[0]
    assert compare_endpoint(endpoints.desired(desired, "us-east-1"), endpoints.normalize(body)) == ((), None)
    changed = {**body, "service_settings": {**body["service_settings"], "provider": "COHERE"}}
    fields, action = compare_endpoint(endpoints.desired(desired, "us-east-1"), endpoints.normalize(changed))
    assert action is Action.REPLACE
    assert [f.path for f in fields] == ["service_settings.provider"]


def test_rendering_prints_values_verbatim() -> None:
    from provisioning.core.diff import Change, Diff, FieldChange
    from provisioning.core.plan import Plan

    tricky = "cn=[bold]admins[/bold],arn:aws:secretsmanager:us-east-1:1:secret:x"
    change = Change("role_mapping", "m", Action.UPDATE, "rules differ", (FieldChange("rules", "old", tricky),))
    out = io.StringIO()
    plan_text(Plan("t", Diff((change,))), out)
    assert tricky in out.getvalue()


def test_normalize_fills_the_documented_rate_limit_default_when_a_server_omits_it() -> None:
    body = {
        "inference_id": "e",
        "task_type": "completion",
        "service": "amazonbedrock",
        "service_settings": {"region": "us-east-1", "model": CHAT_MODELS["anthropic"], "provider": "ANTHROPIC"},
    }
    assert endpoints.normalize(body).get("service_settings.rate_limit.requests_per_minute") == 240
    assert compare_endpoint(_spec(), endpoints.normalize(body)) == ((), None)


def test_each_change_says_why_in_plain_words() -> None:
    """The reason is what plan prints next to each change: a wrong one hides what apply will do."""
    from provisioning.core.diff import diff
    from provisioning.core.kinds.role_mappings import RoleMappingSpec

    def mapping(roles: tuple[str, ...], rules: str) -> RoleMappingSpec:
        return RoleMappingSpec("m", True, roles, None, rules, "{}")

    updated = _spec(temperature=0.5)
    moved = endpoints.EndpointSpec(
        "f",
        updated.task_type,
        updated.service,
        tuple((p, "x" if p == "service_settings.model" else v) for p, v in _spec(temperature=0.2).fields),
    )
    result = diff(
        desired_endpoints={"e": updated, "f": moved},
        actual_endpoints={"e": _spec(temperature=0.2), "f": dataclasses.replace(_spec(temperature=0.2), id="f")},
        owned_endpoints=frozenset({"e", "f"}),
        desired_mappings={"m": mapping(("inference_user",), '{"field":{"username":"a"}}')},
        actual_mappings={"m": mapping(("inference_admin",), '{"field":{"username":"b"}}')},
        owned_mappings=frozenset({"m"}),
    )
    reasons = {(c.id, c.action): c.reason for c in result.changes}
    assert reasons[("e", Action.UPDATE)] == "task settings differ"
    assert reasons[("f", Action.REPLACE)] == "cannot be changed in place: service_settings.model"
    assert reasons[("m", Action.UPDATE)] == "roles, rules differ"
