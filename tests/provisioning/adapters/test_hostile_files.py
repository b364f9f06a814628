"""Hostile files that cannot live in git (FIFOs, devices, directories, megabytes), and the resource bound of all.

Every case must end in exit 1 and one `error: <file>...` line, send nothing, and stay within 2 s of CPU and
200 MB: the real CLI runs in a child process under RLIMIT_CPU / RLIMIT_AS (a guard: a breach kills the child
or becomes a MemoryError, and either fails the exact-message assertion) and its peak RSS is read back. The
committed corpus (`bad_inputs/`, checked message by message in test_model.py) joins where it stresses resources.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioning.adapters import file_loader
from provisioning.adapters.file_loader import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, parse_document
from provisioning.cli.app import cli
from provisioning.core.errors import ConfigError
from tests.conftest import BEDROCK_ENV
from tests.doubles.es_double import EsDouble
from tests.provisioning.core.test_model import expectation

ROOT = Path(__file__).resolve().parents[3]
BAD = Path(__file__).parents[1] / "bad_inputs"
MIB = 1024 * 1024
RSS_BOUND = 200 * MIB
CPU_SECONDS = 2
WALL_GUARD = 60  # seconds; only there so a regression (a FIFO read) fails instead of hanging the suite
TOO_MANY = f"more than {MAX_NODES} keys, values and list items"
NOT_REGULAR = "cannot read file: not a regular file (a FIFO, socket or device)"

# Runs the CLI as the console script does, under limits, and writes the peak RSS (bytes) where asked.
RUNNER = """
import atexit, resource, sys
report, address_space, cpu = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
def peak():
    # VmHWM, not ru_maxrss: the latter keeps the forking parent's (pytest's) peak across exec.
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    with open(report, "w") as out:
        out.write(str(int(status["VmHWM"].split()[0]) * 1024))
atexit.register(peak)
sys.argv = ["managed-llm", *sys.argv[4:]]
from provisioning.cli.app import main
main()
"""
BASELINE = """
import provisioning.cli.app
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(int(status["VmPeak"].split()[0]) * 1024)
"""


@dataclass(frozen=True)
class Bounded:
    returncode: int
    stdout: str
    stderr: str
    peak_rss: int


@pytest.fixture(scope="session")
def address_space() -> int:
    """RLIMIT_AS for a child: the interpreter's own address space once the CLI is imported, plus the bound."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to measure the interpreter's address space")
    baseline = subprocess.run(
        [sys.executable, "-c", BASELINE], env=_child_env({}), capture_output=True, text=True, check=True, timeout=60
    )
    return int(baseline.stdout) + RSS_BOUND


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "LC_ALL": "C.UTF-8", **extra}


def run_bounded(address_space: int, tmp_path: Path, env: dict[str, str], *args: str) -> Bounded:
    report = tmp_path / "peak-rss"
    report.unlink(missing_ok=True)
    child = subprocess.run(
        [sys.executable, "-c", RUNNER, str(report), str(address_space), str(CPU_SECONDS), *args],
        env=_child_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=WALL_GUARD,
    )
    peak = int(report.read_text()) if report.exists() else -1
    return Bounded(child.returncode, child.stdout, child.stderr, peak)


def assert_one_line(stderr: str, expected: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert stderr.count("\n") == 1, stderr
    assert stderr == f"error: {expected}\n", stderr


# Each builder writes (or names) a hostile file under the given directory and returns it with the message.
Case = Callable[[Path], tuple[Path, str]]


def dev_zero(_: Path) -> tuple[Path, str]:
    return Path("/dev/zero"), f"/dev/zero: {NOT_REGULAR}"


def fifo(tmp: Path) -> tuple[Path, str]:
    path = tmp / "fifo.yaml"
    os.mkfifo(path)  # nothing ever writes: reading it would block forever
    return path, f"{path}: {NOT_REGULAR}"


def directory(tmp: Path) -> tuple[Path, str]:
    path = tmp / "managed-llm.yaml"
    path.mkdir()
    return path, f"{path}: cannot read file: is a directory"


def over_the_cap(tmp: Path) -> tuple[Path, str]:
    path = tmp / "big.yaml"
    path.write_bytes(b"# padding\n" * (MAX_FILE_BYTES // 10) + b"bedrock: {}\n")
    return path, f"{path}: file larger than 1 MiB ({path.stat().st_size} bytes)"


def sparse_ten_gigabytes(tmp: Path) -> tuple[Path, str]:
    path = tmp / "sparse.yaml"
    with path.open("wb") as out:
        out.truncate(10 * 1024 * MIB)
    return path, f"{path}: file larger than 1 MiB ({10 * 1024 * MIB} bytes)"


def dense_flow_sequence(tmp: Path) -> tuple[Path, str]:
    path = tmp / "dense.yaml"
    path.write_bytes(b"[" + b"0," * (MAX_FILE_BYTES // 2 - 2) + b"0]")
    return path, f"{path}:1: {TOO_MANY}"


def scalar_alias_flood(tmp: Path) -> tuple[Path, str]:
    path = tmp / "aliases.yaml"
    path.write_bytes(b"a: &a " + b"x" * 1000 + b"\nb: [" + b"*a, " * (MAX_FILE_BYTES // 5) + b"*a]\n")
    return path, f"{path}:2: {TOO_MANY}"


def one_megabyte_key(tmp: Path) -> tuple[Path, str]:
    path = tmp / "long-line.yaml"
    path.write_bytes(b"? " + b"k" * (MAX_FILE_BYTES - 10) + b"\n: 1\n")  # `?`: a key past YAML's 1024-char limit
    return path, f"{path}:2: {'k' * 63}…: unknown key"


def blank_lines_then_a_key(tmp: Path) -> tuple[Path, str]:
    path = tmp / "blank.yaml"
    path.write_bytes(b"\n" * (MAX_FILE_BYTES - 20) + b"bogus: 1\n")
    return path, f"{path}:{MAX_FILE_BYTES - 19}: bogus: unknown key"


def nine_hundred_nested_mappings(tmp: Path) -> tuple[Path, str]:
    path = tmp / "nested.yaml"
    path.write_text("".join(" " * level + f"k{level}:\n" for level in range(900)))
    return path, f"{path}:{MAX_DEPTH + 1}: nested deeper than {MAX_DEPTH} levels"


def a_megabyte_of_brackets(tmp: Path) -> tuple[Path, str]:
    path = tmp / "brackets.yaml"
    path.write_bytes(b"[" * MAX_FILE_BYTES)
    return path, f"{path}:1: nested deeper than {MAX_DEPTH} levels"


GENERATED: list[Case] = [
    dev_zero,
    fifo,
    directory,
    over_the_cap,
    sparse_ten_gigabytes,
    dense_flow_sequence,
    scalar_alias_flood,
    one_megabyte_key,
    blank_lines_then_a_key,
    nine_hundred_nested_mappings,
    a_megabyte_of_brackets,
]
# Committed cases that would cost time, memory or the stack without the bounds.
STRESSING = [
    "billion-laughs",
    "recursive-alias",
    "deep-flow-sequences",
    "deep-flow-mappings",
    "huge-integer",
    "utf-16",
    "nul-byte",
]


@pytest.mark.parametrize("case", GENERATED, ids=[c.__name__ for c in GENERATED])
def test_validate_refuses_a_generated_hostile_file_in_one_line(case: Case, tmp_path: Path) -> None:
    path, message = case(tmp_path)
    result = CliRunner().invoke(cli, ["validate", "-f", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert_one_line(result.stderr, message)


@pytest.mark.double_only
@pytest.mark.parametrize("case", GENERATED, ids=[c.__name__ for c in GENERATED])
def test_plan_on_a_generated_hostile_file_is_bounded_and_sends_nothing(
    case: Case, tmp_path: Path, double: EsDouble, address_space: int
) -> None:
    path, message = case(tmp_path)
    result = run_bounded(address_space, tmp_path, double.env(**BEDROCK_ENV), "plan", "-f", str(path))
    assert result.returncode == 1, result.stderr
    assert_one_line(result.stderr, message)
    assert result.stdout == ""
    assert 0 < result.peak_rss < RSS_BOUND
    assert double.requests == []


@pytest.mark.double_only
@pytest.mark.parametrize("name", STRESSING)
def test_plan_on_a_committed_hostile_file_is_bounded_and_sends_nothing(
    name: str, tmp_path: Path, double: EsDouble, address_space: int
) -> None:
    path = BAD / f"{name}.yaml"
    result = run_bounded(address_space, tmp_path, double.env(**BEDROCK_ENV), "plan", "-f", str(path))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: {path}:"), result.stderr
    assert 0 < result.peak_rss < RSS_BOUND
    assert double.requests == []


def test_an_unreadable_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text("bedrock: {region: us-east-1}\n")
    if os.geteuid() == 0:  # root reads a mode-000 file: make the open fail the way it would for anyone else

        def refuse(*_: object, **__: object) -> int:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(os, "open", refuse)
    else:
        path.chmod(0)
    result = CliRunner().invoke(cli, ["validate", "-f", str(path)])
    assert result.exit_code == 1, result.output
    assert_one_line(result.stderr, f"{path}: cannot read file: Permission denied")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "cannot read stack outputs: is a directory"),
        (os.mkfifo, "cannot read stack outputs: not a regular file (a FIFO, socket or device)"),
        (lambda p: p.write_bytes(b" " * (MAX_FILE_BYTES + 1)), "stack outputs larger than 1 MiB (1048577 bytes)"),
        (lambda p: p.write_bytes('{"region": "caf\xe9"}'.encode("latin-1")), "1: not UTF-8 text (byte 0xe9"),
        (lambda p: p.write_text("[" * 100_000), "not JSON the tool can read"),
        (lambda p: p.write_text('{"n": ' + "9" * 5000 + "}"), "not JSON the tool can read"),
    ],
    ids=["directory", "fifo", "oversize", "latin-1", "deep", "huge-number"],
)
def test_hostile_stack_outputs_are_one_line(tmp_path: Path, make: Callable[[Path], object], message: str) -> None:
    path = tmp_path / "stack-outputs.json"
    make(path)
    result = CliRunner().invoke(cli, ["usage", "--stack-outputs", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: {path}"), result.stderr
    assert message in result.stderr


# Fragments that reach the loader's corners: flow and block syntax, anchors, tags, merge keys, odd scalars.
YAML_FRAGMENTS = st.lists(
    st.sampled_from(
        [
            *"[]{}:,-?&*!|>'\"#%@` \n\tab1.~<=\x00\x07\ufeff\x85\u2028",
            *("bedrock", "region", "inference_endpoints", "role_mappings", "id", "rules", "metadata", "&a ", "*a"),
            *("!!binary ", "!!set ", "!!python/object ", "<<: ", "2024-13-45", "1e999", "0x1F", "yes", "null", "? "),
        ]
    ),
    max_size=80,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAML_FRAGMENTS)
def test_parse_document_raises_nothing_but_config_error(text: str) -> None:
    message = "f.yaml"  # a document that happens to be valid raises nothing
    try:
        parse_document(text, "f.yaml")
    except ConfigError as exc:
        message = exc.message
    assert message.startswith("f.yaml"), message


# The loader reads with libyaml when PyYAML has it and falls back to PyYAML's own parser: both keep every bound.
CORPUS = sorted(BAD.glob("*.yaml"))
GOOD = sorted((BAD.parent / "good_inputs").glob("*.yaml"))


def _parse_with(libyaml: bool, text: str, name: str = "f.yaml") -> str:
    """The error `parse_document` raises through one loader ("" for a valid document)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(file_loader, "LIBYAML", libyaml)
        try:
            parse_document(text, name)
        except ConfigError as exc:
            return exc.message
    return ""


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
def test_the_loader_reads_with_libyaml_when_pyyaml_has_it() -> None:
    assert file_loader._loader_class() is file_loader.CBoundedLoader


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_the_pure_python_fallback_refuses_the_corpus_alike(path: Path) -> None:
    try:
        text = file_loader.read_text(path)
    except ConfigError:
        return  # refused before any YAML is parsed: no loader involved
    message = _parse_with(False, text, str(path))
    assert message.startswith(f"{path}"), message
    assert expectation(path) in message


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_both_loaders_build_the_same_state_from_a_good_file(path: Path) -> None:
    text = path.read_text()
    states = []
    for libyaml in (True, False):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(file_loader, "LIBYAML", libyaml)
            states.append(parse_document(text, str(path)))
    assert states[0] == states[1]


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "python"])
def test_a_control_character_after_multibyte_text_names_its_line(libyaml: bool) -> None:
    # libyaml counts the offset in UTF-8 bytes: 40 bytes of `é` would push a character count past line 3.
    text = "bedrock:\n  region: " + "é" * 20 + "\n  x: \x07\n"
    assert _parse_with(libyaml, text) == "f.yaml:3: character 0x0007 is not allowed in YAML"


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "python"])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 5000, f"f.yaml:1: nested deeper than {MAX_DEPTH} levels"),  # libyaml's own limit (1,000) words it
        (
            "a:\n" + "".join(" " * i + "- \n" for i in range(1, 200)),
            f"f.yaml:65: nested deeper than {MAX_DEPTH} levels",
        ),
        ("[" + "0, " * MAX_NODES + "0]", f"f.yaml:1: {TOO_MANY}"),
        ("a: &a [1]\nc: *a\nd: 1\nd: 2\n", "f.yaml:4: d: duplicate key"),
        ("{1: a}", "f.yaml:1: keys must be strings, found an integer (quote the key)"),
    ],
    ids=["brackets", "block-depth", "nodes", "duplicate", "int-key"],
)
def test_both_loaders_word_a_bound_alike(libyaml: bool, text: str, message: str) -> None:
    assert _parse_with(libyaml, text) == message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAML_FRAGMENTS)
def test_the_fallback_raises_nothing_but_config_error(text: str) -> None:
    message = _parse_with(False, text) or "f.yaml"
    assert message.startswith("f.yaml"), message


def test_an_operator_raises_the_file_limits_in_the_environment_and_the_file_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defaults keep a hostile file cheap; a platform team with a bigger fleet raises them in the pipeline."""
    from provisioning.adapters.file_loader import load_file

    endpoints = "".join(
        f"  - {{id: llm-{i:05d}, task_type: completion, model: us.anthropic.claude-sonnet-4-6, provider: anthropic}}\n"
        for i in range(12_000)
    )
    big = tmp_path / "big.yaml"
    big.write_text("bedrock: {region: us-east-1}\ninference_endpoints:\n" + endpoints, encoding="utf-8")
    assert big.stat().st_size > 1024 * 1024
    with pytest.raises(ConfigError, match=r"larger than 1 MiB"):
        load_file(big)
    monkeypatch.setenv("MANAGED_LLM_MAX_FILE_MIB", "4")
    with pytest.raises(ConfigError, match=r"more than 20000 keys, values and list items"):
        load_file(big)
    monkeypatch.setenv("MANAGED_LLM_MAX_FILE_VALUES", "200000")
    assert len(load_file(big).inference_endpoints) == 12_000
    for bad in ("0", "65", "1e3", "٣", "4 MiB"):
        monkeypatch.setenv("MANAGED_LLM_MAX_FILE_MIB", bad)
        with pytest.raises(ConfigError) as refused:
            load_file(big)
        assert (
            str(refused.value)
            == "MANAGED_LLM_MAX_FILE_MIB must be a whole number from 1 to 64 (the value is not shown)"
        )


def test_the_libyaml_loader_composes_in_python_so_the_streaming_bounds_hold() -> None:
    """CParser has its own C `get_single_node`: if it came before Composer in the bases, nodes would be composed
    in C without passing `_Bounds.get_event` (libyaml's own depth error would still read like ours)."""
    from yaml.composer import Composer

    from provisioning.adapters import file_loader

    if not file_loader.LIBYAML:
        pytest.skip("PyYAML without libyaml: the pure-Python loader composes in Python anyway")
    loader = file_loader.CBoundedLoader  # type: ignore[attr-defined]
    assert loader.get_single_node is Composer.get_single_node
    assert loader.compose_node is Composer.compose_node
    assert loader.get_event is file_loader._Bounds.get_event


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
@pytest.mark.parametrize(
    ("text", "fast"),
    [
        ("bedrock: {region: us-east-1}\ninference_endpoints: []\nrole_mappings: []\n", True),
        ("bedrock: &b {region: us-east-1}\ninference_endpoints: []\nrole_mappings: []\n", False),  # an anchor
        ("[" + "0, " * MAX_NODES + "0]", False),  # trips the count: the streaming loader words it
        ("a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n", False),  # trips the depth
        ("a: [1\n", False),  # a YAML error: the streaming loader words it
    ],
    ids=["plain", "anchor", "nodes", "depth", "syntax"],
)
def test_libyaml_composes_in_c_only_what_it_can_bound(text: str, fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[bool] = []
    real = file_loader._fast

    def spy(text: str, name: str) -> Any:
        answer = real(text, name)
        used.append(answer is not None)
        return answer

    monkeypatch.setattr(file_loader, "_fast", spy)
    _parse_with(True, text)
    assert used == [fast]


@pytest.mark.parametrize("alias", ["", "b: &x 1\nc: *x\n"], ids=["plain", "alias-elsewhere"])
def test_a_scalar_inside_the_deepest_allowed_collection_is_read(monkeypatch: pytest.MonkeyPatch, alias: str) -> None:
    # The fast loader counts a scalar as a level and trips on it; the streaming loader counts collections only
    # and reads it: the fast path hands over, it never refuses what the bounds allow. An alias anywhere in the
    # file makes the alias walk measure heights too, by the same rule.
    text = alias + "a: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1) + "\n"
    for libyaml in (True, False):
        monkeypatch.setattr(file_loader, "LIBYAML", libyaml and yaml.__with_libyaml__)
        loaded = file_loader.load_yaml(text, "f.yaml", lambda _node: None)
        assert loaded is not None
        value, depth = loaded[1]["a"], 1
        while isinstance(value, list):
            value, depth = value[0], depth + 1
        assert (value, depth) == (1, MAX_DEPTH)


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "python"])
def test_aliases_that_nest_past_the_depth_are_refused_and_one_level_less_is_read(libyaml: bool) -> None:
    # The anchored value nests 63 lists inside the top mapping (64 levels, allowed where it stands); used inside
    # one more list it would nest 65, which only the alias walk sees.
    anchored = "a: &a " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    assert _parse_with(libyaml, anchored + "b: [*a]\n") == (
        f"f.yaml:1: aliases nest this value deeper than {MAX_DEPTH} levels"
    )
    assert "deeper" not in _parse_with(libyaml, anchored + "b: *a\n")
