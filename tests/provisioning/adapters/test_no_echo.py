"""No validation error repeats the value it refuses: a secret pasted into any string field must not leak."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from provisioning.adapters.file_loader import parse_document
from provisioning.core.errors import ConfigError
from provisioning.core.model import DesiredState

# A file with every string field of the model set (a field the schema adds later must be added here).
BASE: dict[str, Any] = {
    "deployment": "team-a",
    "clusters": [
        {
            "name": "prod",
            "deployment": "team-b",
            "url_env": "MANAGED_LLM_PROD_URL",
            "api_key_env": "MANAGED_LLM_PROD_API_KEY",
            "ca_certs_env": "MANAGED_LLM_PROD_CA_CERTS",
            "kibana_url_env": "MANAGED_LLM_PROD_KIBANA_URL",
            "kibana_api_key_env": "MANAGED_LLM_PROD_KIBANA_API_KEY",
            "kibana_ca_certs_env": "MANAGED_LLM_PROD_KIBANA_CA_CERTS",
        },
        {
            "name": "stage",
            "url_env": "MANAGED_LLM_STAGE_URL",
            "username_env": "MANAGED_LLM_STAGE_USERNAME",
            "password_env": "MANAGED_LLM_STAGE_PASSWORD",
            "kibana_username_env": "MANAGED_LLM_STAGE_KIBANA_USERNAME",
            "kibana_password_env": "MANAGED_LLM_STAGE_KIBANA_PASSWORD",
        },
    ],
    "bedrock": {
        "region": "us-east-1",
        "credentials": {"secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:managed-llm-AbCdEf"},
    },
    "inference_endpoints": [
        {"id": "llm", "preset": "general-purpose-llm-v2"},
        {
            "id": "embed",
            "task_type": "text_embedding",
            "model": "cohere.embed-english-v3",
            "provider": "cohere",
            "similarity": "cosine",
            "task_settings": {"truncate": "END"},
            "chunking_settings": {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1},
        },
        {
            "id": "chat",
            "task_type": "chat_completion",
            "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "provider": "anthropic",
        },
    ],
    "role_mappings": [
        {
            "name": "admins",
            "roles": ["inference_admin"],
            "rules": {"all": [{"field": {"groups": "cn=admins,dc=example"}}, {"except": {"field": {"dn": "x"}}}]},
            "metadata": {"team": "platform", "tags": ["a", {"b": "c"}]},
        },
    ],
    "kibana": {"connectors": [{"endpoint": "chat", "id": "my-connector", "name": "My LLM"}]},
}

# Distinctive strings of several shapes: one that fails every pattern, one that passes the id patterns.
TOKENS = ("Zq7Random/Pasted 9xK", "zq7randompasted9xk", "AKIAZQ7RANDOMPASTED0", "us.zq7randompasted9xk")


def string_leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every string value (dict keys excluded) in a loaded document."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from string_leaves(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from string_leaves(child, (*path, index))


def replaced(path: tuple[Any, ...], token: str) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    target: Any = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = token
    return doc


def schema_string_fields() -> set[str]:
    """Every property the file schema types as a string (directly or as one branch of anyOf)."""
    names: set[str] = set()
    for definition in DesiredState.model_json_schema()["$defs"].values():
        for name, prop in definition.get("properties", {}).items():
            branches = prop.get("anyOf", [prop])
            if any(b.get("type") == "string" for b in branches):
                names.add(name)
    return names


LEAVES = list(string_leaves(BASE))
# A cluster's name is an identifier the tool prints by design: it spells the variables a cluster reads
# (`must be MANAGED_LLM_<NAME>_URL`), so a name that passes its own pattern may appear in another field's error.
ECHOED_BY_DESIGN = {("clusters", 0, "name"), ("clusters", 1, "name")}


def test_the_base_file_is_valid_and_sets_every_string_field() -> None:
    parse_document(yaml.safe_dump(BASE), "f.yaml")
    covered = {step for path in LEAVES for step in path if isinstance(step, str)}
    assert schema_string_fields() <= covered


@pytest.mark.parametrize("path", LEAVES, ids=[".".join(map(str, p)) for p in LEAVES])
@pytest.mark.parametrize("token", TOKENS)
def test_a_refused_value_is_never_echoed(path: tuple[Any, ...], token: str) -> None:
    if path in ECHOED_BY_DESIGN and token.islower():
        return
    message = ""
    try:
        parse_document(yaml.safe_dump(replaced(path, token)), "f.yaml")
    except ConfigError as exc:
        message = str(exc)
    assert token.lower() not in message.lower()
