"""The file's validation: every refusal is one line naming the file, line and field, and nothing is sent.

`bad_inputs/*.yaml` start with `# expect: <text the error must contain>`; `good_inputs/*.yaml` must pass.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from click.testing import CliRunner

from provisioning.cli import cli
from provisioning.model import rule_matches_everyone
from tests.conftest import Cli
from tests.doubles.es_double import EsDouble

HERE = Path(__file__).parent
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
        ({"field": {"groups": ["cn=a", "*"]}}, True),
        ({"field": {"dn": "/.*/"}}, True),
        ({"field": {"username": "bob"}}, False),
        ({"field": {"username": "adm*"}}, False),
        ({"any": [{"field": {"username": "bob"}}, {"field": {"realm.name": "*"}}]}, True),
        ({"all": [{"field": {"username": "*"}}, {"field": {"groups": "cn=admins"}}]}, False),
        ({"all": [{"field": {"username": "*"}}, {"field": {"realm.name": "*"}}]}, True),
        ({"except": {"field": {"username": "bob"}}}, False),
    ],
)
def test_rule_matches_everyone(rule: dict[str, object], broad: bool) -> None:
    assert rule_matches_everyone(rule) is broad


def test_nested_rule_errors_name_their_path() -> None:
    from provisioning.model import check_rule

    with pytest.raises(ValueError, match=r"^any\[1\]\.field: must name exactly one field"):
        check_rule({"any": [{"field": {"username": "a"}}, {"field": {"a": 1, "b": 2}}]})
