"""Connection settings from the environment: stripped, refused in one line naming the variable, http policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning.adapters.settings import ConnectionSettings
from provisioning.core.errors import ConnectionSettingsError
from provisioning.sandbox import Principal, StandinCluster, StandinServer, basic_header
from tests.conftest import Cli, endpoint, write_file
from tests.doubles.es_double import EsDouble

SECRET = "c2VjcmV0LWtleS12YWx1ZQ=="  # noqa: S105 (a test value)


@pytest.fixture
def file(tmp_path: Path) -> Path:
    return write_file(tmp_path, [endpoint("llm-a")], [])


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\t"])
@pytest.mark.double_only
def test_a_secret_with_a_trailing_newline_is_stripped_and_works(double: EsDouble, file: Path, suffix: str) -> None:
    env = double.env()
    env["ELASTICSEARCH_API_KEY"] += suffix
    env["ELASTICSEARCH_URL"] += suffix
    env["ELASTICSEARCH_CA_CERTS"] = f" {env['ELASTICSEARCH_CA_CERTS']}{suffix}"
    result = Cli(env)("plan", "-f", str(file))
    assert result.exit_code == 2, result.output


@pytest.mark.double_only
def test_a_password_with_a_trailing_newline_is_stripped(double: EsDouble) -> None:
    settings = ConnectionSettings.from_environment(
        {"ELASTICSEARCH_URL": double.url, "ELASTICSEARCH_USERNAME": "elastic\n", "ELASTICSEARCH_PASSWORD": "pw\n"}
    )
    assert settings.username == "elastic"
    assert settings.password is not None
    assert settings.password.get_secret_value() == "pw"


@pytest.mark.parametrize(
    ("prefix", "variable", "value", "message"),
    [
        ("ELASTICSEARCH", "API_KEY", "ab\ncd", "ELASTICSEARCH_API_KEY contains control characters"),
        ("ELASTICSEARCH", "API_KEY", "abc\x00", "ELASTICSEARCH_API_KEY contains control characters"),
        ("ELASTICSEARCH", "API_KEY", "clé-ключ", "ELASTICSEARCH_API_KEY cannot be sent in an HTTP header"),
        ("ELASTICSEARCH", "API_KEY", "two words", "ELASTICSEARCH_API_KEY cannot be sent in an HTTP header"),
        ("KIBANA", "API_KEY", "ключ", "KIBANA_API_KEY cannot be sent in an HTTP header"),
        ("KIBANA", "API_KEY", "a\rb", "KIBANA_API_KEY contains control characters"),
        ("ELASTICSEARCH", "URL", "https://es.example.com\n/x", "ELASTICSEARCH_URL contains control characters"),
        ("ELASTICSEARCH", "URL", "https://es example.com", "ELASTICSEARCH_URL must not contain spaces"),
        ("ELASTICSEARCH", "USERNAME", "ela\nstic", "ELASTICSEARCH_USERNAME contains control characters"),
        ("ELASTICSEARCH", "USERNAME", "a:b", "ELASTICSEARCH_USERNAME must not contain ':'"),
        ("ELASTICSEARCH", "PASSWORD", "p\x1bw", "ELASTICSEARCH_PASSWORD contains control characters"),
    ],
)
def test_values_that_cannot_be_sent_are_refused_without_echoing_them(
    prefix: str, variable: str, value: str, message: str
) -> None:
    env = {f"{prefix}_URL": "https://es.example.com:9200", f"{prefix}_{variable}": value}
    if variable in ("USERNAME", "PASSWORD"):
        env = {f"{prefix}_USERNAME": "elastic", f"{prefix}_PASSWORD": "pw", **env}
    with pytest.raises(ConnectionSettingsError) as caught:
        ConnectionSettings.from_environment(env, prefix=prefix)
    assert caught.value.message.startswith(message)
    for part in value.split():
        assert part.strip("\x00\x1b") not in caught.value.message.replace(f"{prefix}_", "") or len(part) < 3


def test_a_non_latin1_password_is_sent_as_utf8_basic_auth(file: Path) -> None:
    """Basic credentials travel as base64 of UTF-8 (Elasticsearch's UsernamePasswordToken decodes UTF-8)."""
    user, password = "émilie", "пароль€"
    principal = Principal(user, frozenset({"manage_inference", "manage_security", "monitor"}))
    with StandinServer(StandinCluster(principals={basic_header(user, password): principal})) as server:
        env = {"ELASTICSEARCH_URL": server.url, "ELASTICSEARCH_USERNAME": user, "ELASTICSEARCH_PASSWORD": password}
        result = Cli(env)("plan", "-f", str(file))
    assert result.exit_code == 2, result.output


@pytest.mark.parametrize(
    "url",
    ["http://es.example.com:9200", "HTTP://10.0.0.5:9200", "http://[2001:db8::1]:9200", "http://127.0.0.1.nip.io"],
)
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(ConnectionSettingsError, match=r"plain http:// to a remote host.*--allow-http"):
        ConnectionSettings.from_environment({"ELASTICSEARCH_URL": url, "ELASTICSEARCH_API_KEY": SECRET})


@pytest.mark.parametrize("url", ["http://127.0.0.1:9200", "http://localhost:9200", "http://[::1]:9200"])
def test_plain_http_to_loopback_is_accepted(url: str) -> None:
    settings = ConnectionSettings.from_environment({"ELASTICSEARCH_URL": url})
    assert not settings.cleartext


def test_allow_http_accepts_and_the_cli_warns(file: Path) -> None:
    env = {"ELASTICSEARCH_URL": "http://192.0.2.1:1", "ELASTICSEARCH_API_KEY": SECRET}
    refused = Cli(env)("plan", "-f", str(file))
    assert refused.exit_code == 1
    assert refused.stderr == (
        "error: ELASTICSEARCH_URL is plain http:// to a remote host: credentials would cross the network in clear "
        "text; use https://, or pass --allow-http to accept that\n"
    )
    allowed = Cli(env)("plan", "-f", str(file), "--allow-http", "--timeout", "1")
    assert allowed.stderr.splitlines()[0] == (
        "warning: ELASTICSEARCH_URL is plain http:// to http://192.0.2.1:1 (--allow-http): "
        "credentials cross the network in clear text"
    )
    assert SECRET not in allowed.output


def test_a_ca_file_with_an_http_url_is_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    with pytest.raises(ConnectionSettingsError, match="ELASTICSEARCH_CA_CERTS is set but ELASTICSEARCH_URL is http"):
        ConnectionSettings.from_environment(
            {"ELASTICSEARCH_URL": "http://127.0.0.1:9200", "ELASTICSEARCH_CA_CERTS": str(ca)}
        )


@pytest.mark.double_only
def test_an_upper_case_scheme_keeps_the_ca_file(double: EsDouble, file: Path) -> None:
    env = double.env() | {"ELASTICSEARCH_URL": double.url.replace("https://", "HTTPS://")}
    assert ConnectionSettings.from_environment(env).url.startswith("https://")
    assert Cli(env)("plan", "-f", str(file)).exit_code == 2


def test_a_missing_ca_file_is_named_without_its_path() -> None:
    env = {"ELASTICSEARCH_URL": "https://h:1", "ELASTICSEARCH_CA_CERTS": "/run/secrets/token-abc123"}
    with pytest.raises(ConnectionSettingsError) as caught:
        ConnectionSettings.from_environment(env)
    assert "token-abc123" not in caught.value.message


@pytest.mark.parametrize(
    ("proxy_env", "ignored"),
    [
        ({"HTTPS_PROXY": "http://proxy:3128"}, True),
        ({"https_proxy": "http://proxy:3128", "NO_PROXY": "es.example.com"}, False),
        ({"HTTP_PROXY": "http://proxy:3128", "no_proxy": ".example.com"}, False),
        ({}, False),
    ],
)
def test_proxy_variables_are_reported_as_unused(proxy_env: dict[str, str], ignored: bool) -> None:
    env = {"ELASTICSEARCH_URL": "https://es.example.com:9200", **proxy_env}
    assert ConnectionSettings.from_environment(env).proxy_ignored is ignored
