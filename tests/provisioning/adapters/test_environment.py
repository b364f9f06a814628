"""Every value taken from the environment is cleaned the same way: stripped, control characters refused."""

from __future__ import annotations

import pytest

from provisioning.adapters.credentials import ENV_ACCESS_KEY_ID, ENV_SECRET_ACCESS_KEY, resolve
from provisioning.adapters.settings import ConnectionSettings
from provisioning.core.errors import ConnectionSettingsError, CredentialsError
from provisioning.core.model import DesiredState

STATE = DesiredState.model_validate({"bedrock": {"region": "us-east-1"}})
KEY_ID = "AKIAENVTESTKEY000042"
SECRET = "s3cr3t/Env+Test0123456789abcdefGHIJKLMN"  # noqa: S105 (a test value)


def test_bedrock_keys_from_the_environment_are_stripped() -> None:
    credentials = resolve(STATE, {ENV_ACCESS_KEY_ID: f"{KEY_ID}\n", ENV_SECRET_ACCESS_KEY: f" {SECRET}\n"})
    assert credentials.access_key_id.get_secret_value() == KEY_ID
    assert credentials.secret_access_key.get_secret_value() == SECRET


@pytest.mark.parametrize(
    ("key_id", "secret", "message"),
    [
        (f"{KEY_ID}\x1b[2J", SECRET, f"{ENV_ACCESS_KEY_ID} contains control characters (the value is not shown)"),
        (KEY_ID, f"{SECRET[:5]}\r\n{SECRET[5:]}", f"{ENV_SECRET_ACCESS_KEY} contains control characters"),
        (f"{KEY_ID[:8]} {KEY_ID[8:]}", SECRET, f"{ENV_ACCESS_KEY_ID} is not an AWS access key id"),
        (KEY_ID.lower(), SECRET, f"{ENV_ACCESS_KEY_ID} is not an AWS access key id"),
        (KEY_ID, f"{SECRET[:5]} {SECRET[5:]}", f"{ENV_SECRET_ACCESS_KEY} holds spaces or non-ASCII characters"),
        (KEY_ID, f"{SECRET}é", f"{ENV_SECRET_ACCESS_KEY} holds spaces or non-ASCII characters"),
        (" \n", SECRET, f"set both {ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY}, or neither"),
    ],
)
def test_bad_bedrock_keys_are_refused_naming_the_variable_only(key_id: str, secret: str, message: str) -> None:
    with pytest.raises(CredentialsError) as raised:
        resolve(STATE, {ENV_ACCESS_KEY_ID: key_id, ENV_SECRET_ACCESS_KEY: secret})
    assert message in str(raised.value)
    assert KEY_ID[4:12] not in str(raised.value)
    assert SECRET[6:14] not in str(raised.value)


@pytest.mark.parametrize("prefix", ["ELASTICSEARCH", "KIBANA"])
def test_connection_values_share_the_same_cleaning(prefix: str) -> None:
    environ = {f"{prefix}_URL": " https://es.example.com:9200\n", f"{prefix}_API_KEY": "a2V5OnZhbHVl\n"}
    settings = ConnectionSettings.from_environment(environ, prefix=prefix)
    assert settings.url == "https://es.example.com:9200"
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "a2V5OnZhbHVl"
    with pytest.raises(ConnectionSettingsError, match=f"^{prefix}_API_KEY contains control characters"):
        ConnectionSettings.from_environment({**environ, f"{prefix}_API_KEY": "a2V5\x00OnZh"}, prefix=prefix)
