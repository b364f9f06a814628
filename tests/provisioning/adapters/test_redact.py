"""The shared redaction: what it masks, what it must leave alone, and the line-buffered output streams."""

from __future__ import annotations

import base64
import io
import sys
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning.adapters.redact import MASK, RedactingStream, Redactor, is_secret_variable, redacted_output

SECRET = "s3cr3t/value+with=odd chars"  # noqa: S105 (test fixture)


@pytest.fixture
def redactor() -> Redactor:
    made = Redactor()
    made.register(SECRET)
    return made


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        quote(SECRET, safe=""),
        base64.b64encode(SECRET.encode()).decode(),
        '"s3cr3t/value+with=odd chars"'[1:-1],
    ],
)
def test_a_registered_secret_is_masked_in_every_derived_form(redactor: Redactor, form: str) -> None:
    assert redactor.redact(f"before {form} after") == f"before {MASK} after"


def test_an_api_key_is_masked_decoded_too() -> None:
    redactor = Redactor()
    encoded = base64.b64encode(b"key-id:the-key-secret-part").decode()
    redactor.register_environment({"ELASTICSEARCH_API_KEY": encoded})
    assert redactor.redact(f"{encoded} | key-id:the-key-secret-part | the-key-secret-part") == "*** | *** | ***"


def test_basic_auth_of_a_username_and_password_pair_is_masked() -> None:
    redactor = Redactor()
    redactor.register_environment({"KIBANA_USERNAME": "elastic", "KIBANA_PASSWORD": "pw-kibana-42"})
    token = base64.b64encode(b"elastic:pw-kibana-42").decode()
    assert token not in redactor.redact(f"sent {token}")


def test_a_short_secret_does_not_wipe_the_output() -> None:
    redactor = Redactor()
    redactor.register("e", "ab12")
    assert redactor.redact("the exit code") == "the exit code"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET https://user:pw@es.example.com:9200/x?api_key=abc", "GET https://***@es.example.com:9200/x?***"),
        (
            "cannot reach https://127.0.0.1:9200: connection refused",
            "cannot reach https://127.0.0.1:9200: connection refused",
        ),
        ("Authorization: Basic ZWxhc3RpYzpjaGFuZ2VtZQ==", "Authorization: ***"),
        ('{"authorization": "ApiKey Zm9vOmJhcmJhejEyMw=="}', '{"authorization": "***"}'),
        ("header Basic ZWxhc3RpYzpjaGFuZ2VtZQ== seen", "header Basic *** seen"),
        ("key AKIAIOSFODNN7EXAMPLE used", "key *** used"),
        ("secret_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "secret_key=***"),
        ("Basic authentication failed; check ApiKey settings", "Basic authentication failed; check ApiKey settings"),
        ("commit 0123456789abcdef0123456789abcdef01234567", "commit 0123456789abcdef0123456789abcdef01234567"),
    ],
)
def test_secret_shapes_are_masked_whatever_their_origin(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("GITHUB_TOKEN", True),
        ("PULUMI_ACCESS_TOKEN", True),
        ("MANAGED_LLM_PROD_API_KEY", True),
        ("MANAGED_LLM_PROD_PASSWORD", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("AWS_ACCESS_KEY_ID", True),
        ("TOKENIZERS_PARALLELISM", False),
        ("ELASTICSEARCH_URL", False),
        ("MANAGED_LLM_PROD_USERNAME", False),
    ],
)
def test_secret_variables_are_recognised_by_name(name: str, secret: bool) -> None:
    assert is_secret_variable(name) is secret


def test_a_secret_split_across_writes_is_still_masked() -> None:
    target = io.StringIO()
    stream = RedactingStream(target)
    with redacted_output({"GITHUB_TOKEN": "ghp_split_secret_value"}):
        stream.write("token ghp_split_")
        stream.flush()
        stream.write("secret_value end\n")
    assert target.getvalue() == "token *** end\n"


def test_output_is_redacted_at_the_boundary(capsys: pytest.CaptureFixture[str]) -> None:
    with redacted_output({"SOME_PASSWORD": "boundary-password-1"}):
        print("stdout boundary-password-1")  # noqa: T201 (the point of the test)
        print("stderr boundary-password-1", file=__import__("sys").stderr)
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("stdout ***\n", "stderr ***\n")


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal (the case where flush() used to write a partial line)."""

    def isatty(self) -> bool:
        return True


def test_a_secret_split_by_a_flush_on_a_terminal_is_still_masked() -> None:
    target = FakeTerminal()
    stream = RedactingStream(target)
    with redacted_output({"SOME_PASSWORD": "SuperSecretValue123"}):
        stream.write("key=SuperSec")
        stream.flush()
        stream.write("retValue123\n")
    assert target.getvalue() == "key=***\n"


def test_a_secret_folded_across_lines_of_a_table_on_a_narrow_terminal_is_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from provisioning.render.text import _table, console

    secret = "tablesecret0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105 (a test value)
    monkeypatch.setenv("COLUMNS", "30")
    target = FakeTerminal()
    with redacted_output({"SOME_PASSWORD": secret}):
        stream = RedactingStream(target)
        out = console(stream)
        table = _table("name", "evidence")
        table.add_row("x", f"answer was {secret} here")
        out.print(table)
        out.print(f"failed: the cluster said {secret} twice")
        stream.drain()
    text = target.getvalue()
    assert "***" in text
    for start in range(0, len(secret) - 6, 4):
        assert secret[start : start + 6] not in text


def _every_pattern(text: str) -> str:
    """The shapes applied unconditionally, as before the literal pre-checks: the reference they must equal."""
    from provisioning.adapters import redact as module

    text = module._AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = module._SCHEME_TOKEN.sub(module._mask_token, text)
    text = module._AWS_KEY_ID.sub(MASK, text)
    text = module._AWS_SECRET.sub(lambda m: m.group(1) + MASK, text)
    return module._URL.sub(module._strip_url, text)


_FRAGMENTS = st.sampled_from(
    [
        "authorization: ",
        "AUTHORIZATION=",
        "author\u0131zation: ",  # dotless i: matched case-insensitively by the pattern, not by lower()
        "Authorization: Basic ",
        "Bearer ",
        "ApiKey ",
        "Basic ",
        "ZWxhc3RpYzpjaGFuZ2VtZQ==",
        "AKIAABCDEFGHIJKLMNOP",
        "ASIA0123456789ABCDEF",
        "secret_access_key: ",
        "\u017fecret=",  # long s
        "SECRET: ",
        "A" * 40,
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "https://",
        "user:pw@",
        "host.example.com/path",
        "?token=abc",
        " ",
        "\n",
        '"',
        "é",
    ]
)


@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=12).map("".join))
def test_the_literal_pre_checks_change_nothing(text: str) -> None:
    """A pattern is skipped only when the literal every match needs is absent: same result as running them all."""
    assert Redactor().redact(text) == _every_pattern(text)


def test_nested_redacted_output_redacts_each_line_once_and_drains_with_its_own_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls: list[str] = []
    real = Redactor.redact

    def counting(self: Redactor, text: str, extra: object = ()) -> str:
        calls.append(text)
        return real(self, text, extra)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Redactor, "redact", counting)
        with redacted_output(), redacted_output({"INNER_TOKEN": "inner-secret-value"}):
            sys.stdout.write("one line\n")
            sys.stdout.write("held inner-secret-value")  # no newline: still held when the inner block ends
    out = capsys.readouterr().out
    assert out == f"one line\nheld {MASK}"
    assert calls.count("one line\n") == 1


def test_a_nested_block_never_writes_a_partial_line_so_a_secret_split_across_its_end_is_masked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_TOKEN", "ABCDEFGHIJKL")
    with redacted_output():
        with redacted_output({"INNER_TOKEN": "inner-secret-value"}):
            sys.stdout.write("token=ABCDEF")
        sys.stdout.write("GHIJKL\n")
    assert capsys.readouterr().out == f"token={MASK}\n"
