"""The double answers as Elasticsearch does (the sources in docs/upstream-sources.md).

These tests use the official client directly, not managed-llm's code. With ELASTICSEARCH_URL set they
run against that cluster, which is how the double is kept honest; tests that create a Bedrock endpoint
there also need BEDROCK_ACCESS_KEY_ID/BEDROCK_SECRET_ACCESS_KEY (a real, billed validation call).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from tests.conftest import LIVE, V1
from tests.doubles.es_double import EsDouble, encoded_api_key

BEDROCK = {
    "access_key": os.environ.get("BEDROCK_ACCESS_KEY_ID", "AKIADOUBLECONTRACT01"),
    "secret_key": os.environ.get("BEDROCK_SECRET_ACCESS_KEY", "double-contract-secret"),
}
needs_bedrock = pytest.mark.skipif(
    LIVE and "BEDROCK_ACCESS_KEY_ID" not in os.environ, reason="live mode without Bedrock credentials"
)


@pytest.fixture
def es(double: EsDouble) -> Iterator[Elasticsearch]:
    if LIVE:
        auth: dict[str, Any] = (
            {"api_key": os.environ["ELASTICSEARCH_API_KEY"]}
            if "ELASTICSEARCH_API_KEY" in os.environ
            else {"basic_auth": (os.environ["ELASTICSEARCH_USERNAME"], os.environ["ELASTICSEARCH_PASSWORD"])}
        )
        client = Elasticsearch(
            os.environ["ELASTICSEARCH_URL"], ca_certs=os.environ.get("ELASTICSEARCH_CA_CERTS"), **auth
        )
    else:
        client = Elasticsearch(double.url, api_key=encoded_api_key("admin"), ca_certs=str(double.ca_path))
    yield client
    client.close()


@pytest.fixture
def endpoint_id(es: Elasticsearch, prefix: str) -> Iterator[str]:
    name = f"{prefix}contract-chat"
    yield name
    es.options(ignore_status=404).inference.delete(inference_id=name, force=True)


@pytest.fixture
def mapping_name(es: Elasticsearch, prefix: str) -> Iterator[str]:
    name = f"{prefix}contract-mapping"
    yield name
    es.options(ignore_status=404).security.delete_role_mapping(name=name)


def put_chat(es: Elasticsearch, endpoint_id: str, **task_settings: float) -> Any:
    return es.options(request_timeout=120).inference.put_amazonbedrock(
        task_type="completion",
        amazonbedrock_inference_id=endpoint_id,
        service="amazonbedrock",
        service_settings={**BEDROCK, "region": "us-east-1", "model": V1, "provider": "anthropic"},
        task_settings=task_settings or None,
    )


def test_root_identifies_as_elasticsearch_9(es: Elasticsearch) -> None:
    info = es.info()  # the client refuses a 2xx without X-Elastic-Product: Elasticsearch
    assert info["version"]["number"].startswith("9.")


def test_get_all_lists_preconfigured_endpoints_in_an_endpoints_array(es: Elasticsearch) -> None:
    endpoints = es.inference.get()["endpoints"]
    assert isinstance(endpoints, list)
    assert any(e["inference_id"].startswith(".") for e in endpoints)


def test_get_missing_endpoint_is_404_resource_not_found(es: Elasticsearch) -> None:
    with pytest.raises(NotFoundError) as caught:
        es.inference.get(inference_id="managed-llm-contract-absent")
    assert caught.value.body["error"]["type"] == "resource_not_found_exception"
    assert caught.value.body["error"]["reason"] == "Inference endpoint not found [managed-llm-contract-absent]"


@needs_bedrock
def test_put_returns_the_filtered_view_with_defaults_and_no_secrets(es: Elasticsearch, endpoint_id: str) -> None:
    created = put_chat(es, endpoint_id, temperature=0.5)
    settings = created["service_settings"]
    assert settings["provider"] == "ANTHROPIC"
    assert settings["rate_limit"] == {"requests_per_minute": 240}
    assert "access_key" not in settings
    assert "secret_key" not in settings
    assert created["task_settings"] == {"temperature": 0.5}
    fetched = es.inference.get(inference_id=endpoint_id)["endpoints"][0]
    assert fetched["service_settings"] == settings
    assert BEDROCK["secret_key"] not in str(fetched)


@needs_bedrock
def test_put_of_an_existing_id_is_400_already_exists(es: Elasticsearch, endpoint_id: str) -> None:
    put_chat(es, endpoint_id)
    with pytest.raises(BadRequestError) as caught:
        put_chat(es, endpoint_id)
    assert caught.value.meta.status == 400
    assert caught.value.body["error"]["type"] == "resource_already_exists_exception"
    assert caught.value.body["error"]["reason"] == f"Inference endpoint [{endpoint_id}] already exists"


def test_put_with_an_invalid_id_is_refused(es: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as caught:
        put_chat(es, "Bad_Id")
    assert caught.value.body["error"]["type"] == "action_request_validation_exception"
    assert "Invalid inference_id; 'Bad_Id' can contain lowercase alphanumeric" in caught.value.body["error"]["reason"]


@needs_bedrock
def test_update_refuses_fields_it_cannot_update_and_merges_task_settings(es: Elasticsearch, endpoint_id: str) -> None:
    put_chat(es, endpoint_id, temperature=0.5)
    with pytest.raises(BadRequestError) as caught:
        es.inference.update(
            inference_id=endpoint_id, task_type="completion", inference_config={"service": "amazonbedrock"}
        )
    assert "Request contained fields which cannot be updated" in caught.value.body["error"]["reason"]
    updated = es.inference.update(
        inference_id=endpoint_id, task_type="completion", inference_config={"task_settings": {"top_p": 0.9}}
    )
    assert updated["task_settings"] == {"temperature": 0.5, "top_p": 0.9}


@needs_bedrock
def test_delete_dry_run_deletes_nothing(es: Elasticsearch, endpoint_id: str) -> None:
    put_chat(es, endpoint_id)
    answer = es.inference.delete(inference_id=endpoint_id, task_type="completion", dry_run=True)
    assert answer["acknowledged"] is False
    assert answer["pipelines"] == []
    assert es.inference.get(inference_id=endpoint_id)["endpoints"][0]["inference_id"] == endpoint_id


def test_role_mapping_lifecycle(es: Elasticsearch, mapping_name: str) -> None:
    rules = {"field": {"groups": ["cn=llm,dc=example"]}}
    first = es.security.put_role_mapping(name=mapping_name, enabled=True, roles=["inference_user"], rules=rules)
    assert first["role_mapping"]["created"] is True
    again = es.security.put_role_mapping(name=mapping_name, enabled=True, roles=["inference_user"], rules=rules)
    assert again["role_mapping"]["created"] is False
    stored = es.security.get_role_mapping(name=mapping_name)[mapping_name]
    assert stored["metadata"] == {}
    assert stored["enabled"] is True
    assert stored["rules"] == {"field": {"groups": "cn=llm,dc=example"}}  # one value comes back as a scalar
    es.security.delete_role_mapping(name=mapping_name)
    missing = es.options(ignore_status=404).security.get_role_mapping(name=mapping_name)
    assert (missing.meta.status, missing.body) == (404, {})
    gone = es.options(ignore_status=404).security.delete_role_mapping(name=mapping_name)
    assert (gone.meta.status, gone.body) == (404, {"found": False})


def test_role_mapping_requires_enabled(es: Elasticsearch, mapping_name: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        es.perform_request(
            "PUT",
            f"/_security/role_mapping/{mapping_name}",
            headers={"content-type": "application/json", "accept": "application/json"},
            body={"roles": ["inference_user"], "rules": {"field": {"username": "x"}}},
        )
    assert caught.value.body["error"]["type"] == "parsing_exception"
    assert "missing field [enabled]" in caught.value.body["error"]["reason"]


def test_has_privileges_answers_per_privilege(es: Elasticsearch) -> None:
    answer = es.security.has_privileges(cluster=["manage_inference", "manage_security"])
    assert set(answer["cluster"]) == {"manage_inference", "manage_security"}
    assert answer["has_all_requested"] == all(answer["cluster"].values())


@pytest.mark.double_only
def test_requests_without_credentials_are_401(double: EsDouble) -> None:
    from elasticsearch import AuthenticationException

    anonymous = Elasticsearch(double.url, ca_certs=str(double.ca_path))
    with pytest.raises(AuthenticationException) as caught:
        anonymous.inference.get()
    assert caught.value.body["error"]["type"] == "security_exception"
    anonymous.close()
