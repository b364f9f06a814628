"""One rule for how a cluster authenticates (API key, or username and password, never both), stated once in
`core.auth_method` and applied to the file's `clusters:` entries and to the environment alike (issue 12)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from provisioning.adapters.settings import ConnectionSettings
from provisioning.core.auth_method import auth_method_problem
from provisioning.core.errors import ConnectionSettingsError
from provisioning.core.model import Cluster

NAMES = ("K", "U", "P")


@pytest.mark.parametrize(
    ("key", "user", "password", "problem"),
    [
        (None, None, None, None),
        ("k", None, None, None),
        (None, "u", "p", None),
        ("k", "u", "p", "set either K or U/P, not both"),
        ("k", None, "p", "set either K or U/P, not both"),
        (None, "u", None, "U and P must be set together"),
        (None, None, "p", "U and P must be set together"),
    ],
)
def test_auth_method_problem_allows_one_method_at_most(
    key: str | None, user: str | None, password: str | None, problem: str | None
) -> None:
    assert auth_method_problem(key, user, password, names=NAMES) == problem


def _file_problem(**envs: str) -> str:
    with pytest.raises(ValidationError) as caught:
        Cluster.model_validate({"name": "prod", "url_env": "MANAGED_LLM_PROD_URL", **envs})
    return str(caught.value.errors()[0]["msg"])


def _environment_problem(**values: str) -> str:
    environ = {"ELASTICSEARCH_URL": "https://es.example.com:9200", **values}
    with pytest.raises(ConnectionSettingsError) as caught:
        ConnectionSettings.from_environment(environ)
    return caught.value.message


def test_the_file_and_the_environment_state_the_same_rule() -> None:
    both_file = _file_problem(
        api_key_env="MANAGED_LLM_PROD_API_KEY",
        username_env="MANAGED_LLM_PROD_USERNAME",
        password_env="MANAGED_LLM_PROD_PASSWORD",  # noqa: S106 (a variable name, not a password)
    )
    both_env = _environment_problem(
        ELASTICSEARCH_API_KEY="a2V5OnNlY3JldA==",
        ELASTICSEARCH_USERNAME="u",
        ELASTICSEARCH_PASSWORD="test-only-pw",  # noqa: S106 (a test value)
    )
    assert both_file.endswith("set either api_key_env or username_env/password_env, not both")
    assert both_env == "set either ELASTICSEARCH_API_KEY or ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD, not both"
    alone_file = _file_problem(kibana_username_env="MANAGED_LLM_PROD_KIBANA_USERNAME")
    alone_env = _environment_problem(ELASTICSEARCH_USERNAME="u")
    assert alone_file.endswith("kibana_username_env and kibana_password_env must be set together")
    assert alone_env == "ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD must be set together"
