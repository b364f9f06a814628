"""The file's validation: every refusal is one line naming the file, line and field, and nothing is sent.

`bad_inputs/*.yaml` start with `# expect: <text the error must contain>`; `good_inputs/*.yaml` must pass.
"""

from __future__ import annotations

import codecs
import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from provisioning.cli.app import cli
from provisioning.core.credential_keys import names_credential
from provisioning.core.model import DesiredState, rule_matches_everyone
from provisioning.core.role_mapping_rules import RuleError, check_rule, compile_value
from tests.conftest import Cli
from tests.doubles.es_double import EsDouble

HERE = Path(__file__).parents[1]  # the corpora stay in tests/provisioning/
BAD = sorted((HERE / "bad_inputs").glob("*.yaml"))
GOOD = sorted((HERE / "good_inputs").glob("*.yaml"))


def expectation(path: Path) -> str:
    """The `# expect:` header, read from UTF-16 and binary corpus files as well as UTF-8 ones."""
    raw = path.read_bytes()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = raw.decode("utf-16")
    elif raw[1:2] == b"\0":
        text = raw.decode("utf-16-le")
    else:
        text = raw.decode("utf-8", errors="replace")
    first = text.splitlines()[0] if text else ""
    return first.removeprefix("# expect: ") if first.startswith("# expect: ") else "the file is empty"


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_validate_refuses_with_one_line_naming_file_and_field(path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "-f", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: {path}"), result.stderr
    assert expectation(path) in result.stderr


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_validate_accepts(path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "-f", str(path)])
    assert result.exit_code == 0, result.output


@pytest.mark.double_only
@pytest.mark.parametrize("command", ["plan", "apply"])
@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_a_bad_file_sends_no_request(run: Cli, double: EsDouble, path: Path, command: str) -> None:
    result = run(command, "-f", str(path))
    assert result.exit_code == 1
    assert double.requests == []


def test_secrets_in_the_file_are_never_echoed() -> None:
    for path in BAD:
        result = CliRunner().invoke(cli, ["validate", "-f", str(path)])
        assert "AKIAABCDEFGHIJKLMNOP" not in result.output
        assert "not-in-the-file" not in result.output


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "-f", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 1
    assert result.stderr == f"error: {tmp_path / 'absent.yaml'}: cannot read file: No such file or directory\n"


def test_usage_errors_exit_1_not_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["plan"])
    assert result.exit_code == 1
    assert "Missing option '-f'" in result.stderr


@pytest.mark.parametrize(
    ("rule", "broad"),
    [
        ({"field": {"username": "*"}}, True),
        ({"field": {"username": "**"}}, True),
        ({"field": {"username": "?*"}}, True),
        ({"field": {"username": "/(.*)/"}}, True),
        ({"field": {"username": "/.*.*/"}}, True),
        ({"field": {"username": "/.+/"}}, True),
        ({"field": {"username": "/[^a].*|a.*/"}}, True),
        ({"field": {"groups": ["cn=a", "*"]}}, True),
        ({"field": {"dn": "/.*/"}}, True),
        ({"field": {"metadata.team": "*"}}, True),
        ({"field": {"username": "bob"}}, False),
        ({"field": {"username": "adm*"}}, False),
        ({"field": {"username": "??*"}}, False),
        ({"field": {"username": "?"}}, False),
        ({"field": {"username": "/[a-z]+/"}}, False),
        ({"field": {"username": '/"bob"/'}}, False),
        ({"field": {"username": "/^.*$/"}}, False),  # Lucene has no anchors: ^ and $ are characters
        ({"any": [{"field": {"username": "bob"}}, {"field": {"realm.name": "*"}}]}, True),
        ({"any": [{"field": {"username": "/a.*/"}}, {"field": {"username": "/[^a].*/"}}]}, True),
        ({"all": [{"field": {"username": "*"}}, {"field": {"groups": "cn=admins"}}]}, False),
        ({"all": [{"field": {"username": "*"}}, {"field": {"realm.name": "*"}}]}, True),
        ({"all": [{"any": [{"all": [{"field": {"username": "/.*.*/"}}]}]}]}, True),
        ({"all": [{"field": {"username": "*"}}, {"except": {"field": {"username": "nobody"}}}]}, True),
        ({"all": [{"field": {"realm.name": "saml1"}}, {"except": {"field": {"username": "nobody"}}}]}, False),
        ({"all": [{"field": {"username": "*"}}, {"except": {"field": {"username": "?*"}}}]}, False),
        # Excluding only names no realm issues (too long, a newline, NUL, a leading symbol) still maps everyone.
        ({"field": {"username": "/.{0,100}/"}}, True),
        ({"field": {"username": "/[^\n]*/"}}, True),
        ({"field": {"username": "/[^\x00]*/"}}, True),
        ({"field": {"username": "/[^\t]*/"}}, True),
        ({"field": {"username": ["/[a-z].*/", "/[A-Z0-9].*/"]}}, True),
        ({"field": {"username": "/.{1,64}/"}}, True),
        ({"field": {"groups": "/[^\n]+/"}}, True),
        ({"all": [{"field": {"realm.name": "/[^\x00]*/"}}, {"field": {"username": "/[^ ]*/"}}]}, True),
        # Narrow rules stay narrow.
        ({"field": {"username": "/adm.*/"}}, False),
        ({"field": {"groups": "cn=admins,ou=groups,dc=example,dc=com"}}, False),
        ({"all": [{"field": {"realm.name": "saml1"}}, {"field": {"groups": "GG-LLM-Users"}}]}, False),
        ({"field": {"realm.name": "saml1"}}, False),
        ({"all": [{"field": {"realm.name": "ldap1"}}, {"field": {"dn": "*"}}]}, False),
        ({"field": {"username": "/.{0,63}/"}}, False),
    ],
)
def test_rule_matches_everyone(rule: dict[str, object], broad: bool) -> None:
    check_rule(rule)
    assert rule_matches_everyone(rule) is broad


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"except": {"field": {"username": "nobody"}}}, "except is only allowed as a member of all"),
        ({"any": [{"except": {"field": {"username": "a"}}}]}, "except is only allowed as a member of all"),
        ({"field": {"realm.name": None}}, "null matches only users without the field"),
        ({"field": {"username": ["a", None]}}, "null matches only users without the field"),
        ({"field": {None: "x"}}, "the field name must be a non-empty string"),
        ({"field": {"usernme": "x"}}, "field: unknown field name"),
        ({"field": {"username": 1.5}}, "values must be strings, integers or booleans"),
        ({"field": {"username": "/~(nobody)/"}}, "unsupported regular expression syntax '~'"),
        ({"field": {"username": "/@/"}}, "unsupported regular expression syntax '@'"),
        ({"field": {"username": "/.*&a/"}}, "unsupported regular expression syntax '&'"),
        ({"field": {"username": r"/\w+/"}}, "unsupported escape"),
        ({"field": {"username": "/a*+/"}}, "a quantifier must follow an expression"),
        ({"field": {"username": "/(?:a)/"}}, "a quantifier must follow an expression"),
        ({"field": {"username": "/(a/"}}, "unbalanced parenthesis"),
        ({"field": {"username": "/a{99999}{99999}/"}}, "unsupported"),
        ({"field": {"username": "/a*"}}, "must end with '/'"),
    ],
)
def test_rule_syntax_refused(rule: dict[str, object], message: str) -> None:
    with pytest.raises(RuleError, match=re.escape(message)):
        check_rule(rule)


def test_a_catastrophic_regexp_is_matched_in_linear_time() -> None:
    # Python's backtracking `re` needs ~2^n steps for this on n characters; the Rust engine does not.
    assert not compile_value("/(x*)*y/")("x" * 100_000)


@pytest.mark.parametrize(
    ("value", "text", "expected"),
    [
        ("a.b*", "axb", False),
        ("a.b*", "a.bc", True),
        ("a\\*b*", "a*bc", True),
        ("a\\*b*", "axbc", False),
        ("/a.c/", "a\nc", True),
        ('/"a.c"/', "abc", False),
        ("/[^a-c]x/", "dx", True),
        ("/[^a-c]x/", "bx", False),
        ("/a$/", "a$", True),
        ("?", "x", False),
        ("/\\.\\*/", ".*", True),
    ],
)
def test_values_match_as_elasticsearch_reads_them(value: str, text: str, expected: bool) -> None:
    assert compile_value(value)(text) is expected


def test_deeply_nested_excepts_are_evaluated_once_each() -> None:
    rule: dict[str, Any] = {"field": {"username": "bob"}}
    for depth in range(12):
        rule = {"all": [{"field": {"username": f"u{depth}*"}}, {"except": rule}]}
    check_rule(rule)
    assert rule_matches_everyone(rule) is False


_WILDCARD = st.text(alphabet="ab*?\\", min_size=1, max_size=6)


@given(_WILDCARD)
def test_wildcard_is_broad_exactly_when_it_matches_every_short_string(pattern: str) -> None:
    """Over {a, b, *, ?, \\}, a wildcard matches every non-empty string iff it matches all of length 1-3 over
    {a, b, c} (a literal excludes `c`, two `?` exclude length 1); the classifier must agree."""
    rule = {"field": {"username": pattern}}
    match = compile_value(pattern)
    brute = all(match("".join(w)) for n in (1, 2, 3) for w in itertools.product("abc", repeat=n))
    assert rule_matches_everyone(rule) is brute


_UNIVERSAL = st.sampled_from(["*", "**", "?*", "*?", "/.*/", "/(.*)/", "/.*.*/", "/.+/", "/(.|a)*/"])
_FIELD = st.sampled_from(["username", "dn", "groups", "realm.name", "metadata.team"])
# Narrow on every field at once (`??*` excludes only one-letter usernames, so it is tested on username alone).
_NARROW = st.sampled_from(["bob", "adm*", "/[a-z]+/", "cn=admins,dc=example", "/a.*/"])


def _rules(leaf: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
        ),
        max_leaves=6,
    )


@given(_rules(st.builds(lambda f, v: {"field": {f: v}}, _FIELD, _UNIVERSAL)))
def test_a_rule_built_only_of_universal_pieces_is_broad(rule: dict[str, Any]) -> None:
    check_rule(rule)
    assert rule_matches_everyone(rule)


@given(_rules(st.builds(lambda f, v: {"field": {f: v}}, _FIELD, _NARROW)))
def test_a_rule_built_only_of_narrow_pieces_is_not_broad(rule: dict[str, Any]) -> None:
    check_rule(rule)
    assert not rule_matches_everyone(rule)


@given(_rules(st.builds(lambda f, v: {"field": {f: v}}, _FIELD, _NARROW)))
def test_all_of_everyone_except_a_narrow_rule_is_broad(narrow: dict[str, Any]) -> None:
    rule = {"all": [{"field": {"username": "*"}}, {"except": narrow}]}
    check_rule(rule)
    assert rule_matches_everyone(rule)


@pytest.mark.parametrize(
    "key",
    [
        "secretAccessKey",
        "aws-secret-access-key",
        "apiKey",
        "API_KEY",
        "client_secret",
        "password",
        "private-key",
        "PassWord",
        "sessionToken",
        "x-auth-token",
        "accessKeyId",
        "Authorization",
        "bearer",
        "apiTokens",
    ],
)
def test_credential_keys_in_any_spelling(key: str) -> None:
    assert names_credential(key)


def test_no_key_of_the_schema_names_a_credential() -> None:
    def keys(schema: Any) -> set[str]:
        if isinstance(schema, dict):
            own = set(schema["properties"]) if isinstance(schema.get("properties"), dict) else set()
            return own.union(*(keys(v) for v in schema.values()))
        return set().union(*(keys(v) for v in schema)) if isinstance(schema, list) else set()

    found = keys(DesiredState.model_json_schema())
    assert {"secret_arn", "api_key_env", "max_new_tokens"} <= found
    assert [k for k in sorted(found) if names_credential(k)] == []


@pytest.mark.parametrize("where", ["metadata", "metadata.aws", "metadata.list[0]"])
def test_metadata_credential_at_any_depth_is_refused_without_its_value(where: str) -> None:
    secret = {"secretAccessKey": "not-in-the-file"}
    metadata: dict[str, Any] = {
        "metadata": secret,
        "metadata.aws": {"aws": secret},
        "metadata.list[0]": {"list": [secret]},
    }[where]
    mapping = {"name": "m", "roles": ["inference_user"], "rules": {"field": {"username": "bob"}}, "metadata": metadata}
    with pytest.raises(ValidationError) as caught:
        DesiredState.model_validate({"role_mappings": [mapping]})
    messages = " ".join(e["msg"] for e in caught.value.errors(include_input=False))
    assert f"{where}.secretAccessKey: the key names a credential" in messages
    assert "not-in-the-file" not in messages


_ENDPOINT = {
    "task_type": "chat_completion",
    "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "provider": "anthropic",
}


@pytest.mark.parametrize(
    "state",
    [
        {"inference_endpoints": [{**_ENDPOINT, "id": "llm\n"}]},
        {
            "inference_endpoints": [{**_ENDPOINT, "id": "llm"}],
            "kibana": {"connectors": [{"endpoint": "llm", "id": "c\n"}]},
        },
        {
            "inference_endpoints": [
                {**_ENDPOINT, "id": "llm", "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0\n"}
            ]
        },
        {"role_mappings": [{"name": "ops\n", "roles": ["inference_user"], "rules": {"field": {"username": "a"}}}]},
        {"role_mappings": [{"name": "ops", "roles": ["inference_user\n"], "rules": {"field": {"username": "a"}}}]},
        {"clusters": [{"name": "prod\n", "url_env": "ELASTICSEARCH_URL"}]},
        {"clusters": [{"name": "prod", "url_env": "ELASTICSEARCH_URL\n"}]},
        {
            "bedrock": {
                "region": "us-east-1",
                "credentials": {"secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x\n"},
            }
        },
        {"inference_endpoints": [{**_ENDPOINT, "id": "llm", "task_settings": {"max_new_tokens": 10**29}}]},
        {"inference_endpoints": [{**_ENDPOINT, "id": "llm", "task_settings": {"max_new_tokens": 2**31}}]},
        {"inference_endpoints": [{**_ENDPOINT, "id": "llm", "rate_limit": {"requests_per_minute": 10**20}}]},
    ],
    ids=[
        "endpoint-id",
        "connector-id",
        "model-id",
        "mapping-name",
        "role",
        "cluster-name",
        "env-name",
        "secret-arn",
        "max-new-tokens-1e29",
        "max-new-tokens-2^31",
        "rpm-1e20",
    ],
)
def test_trailing_newlines_and_out_of_range_numbers_are_refused(state: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        DesiredState.model_validate({"bedrock": {"region": "us-east-1"}, **state})


def test_java_bounds_themselves_are_accepted() -> None:
    state = DesiredState.model_validate(
        {
            "bedrock": {"region": "us-east-1"},
            "inference_endpoints": [
                {
                    **_ENDPOINT,
                    "id": "llm",
                    "task_settings": {"max_new_tokens": 2**31 - 1},
                    "rate_limit": {"requests_per_minute": 2**63 - 1},
                }
            ],
        }
    )
    assert state.inference_endpoints[0].task_settings is not None
