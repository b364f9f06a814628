"""The docs stay true: the README's commands are what CI runs, each fact has its page in docs/, the command
reference is what the commands say, and every relative link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from markdown_it import MarkdownIt
from pydantic.alias_generators import to_camel

from infra.config import StackConfig
from provisioning.cli.app import cli
from provisioning.cli.reference import DEFAULT_EXIT_CODES, exit_codes, render_reference, summary

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"
COMMANDS = DOCS / "commands.md"
REGENERATE = "python -m provisioning.cli.reference > docs/commands.md"
PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", *DOCS.rglob("*.md")])


def doc(name: str) -> str:
    return (DOCS / name).read_text()


def command_names() -> list[str]:
    """Through the group's API, so a lazily loaded command is listed too."""
    return cli.list_commands(click.Context(cli))


def readme_commands() -> list[str]:
    """The two set-up commands: the first bash block after each of the README's set-up sentences."""
    section = README.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.DOTALL)


def test_readme_has_the_two_setup_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    for command in commands:
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && ")


def test_ci_runs_the_readmes_test_command() -> None:
    test_command = readme_commands()[1].split(" && ")[-1]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_readme_stays_under_10_kb() -> None:
    size = len(README.encode())
    assert size < 10_000, f"README.md is {size} bytes: move details into docs/ and link them"


def test_readme_links_every_page_of_docs() -> None:
    for page in sorted(DOCS.rglob("*.md")):
        relative = page.relative_to(ROOT).as_posix()
        assert f"]({relative})" in README, f"{relative} is not linked from README.md"


def test_aws_stack_page_documents_every_stack_config_key() -> None:
    page = doc("aws-stack.md")
    for field in StackConfig.model_fields:
        if field != "stack":
            assert f"| `{to_camel(field)}` |" in page, f"config key {to_camel(field)} is undocumented"


def test_aws_stack_page_documents_every_stack_output() -> None:
    exported = re.findall(r'pulumi\.export\("(\w+)"', (ROOT / "infra" / "__main__.py").read_text())
    assert len(exported) == 10
    page = doc("aws-stack.md")
    for name in exported:
        assert f"`{name}`" in page, f"stack output {name} is undocumented"


def test_readme_and_reference_document_every_cli_command() -> None:
    reference = COMMANDS.read_text()
    for name in command_names():
        assert f"`managed-llm {name}`" in README, f"command {name} is missing from the README's table"
        assert f"## `managed-llm {name}`" in reference, f"command {name} is missing from docs/commands.md"


def environment_variables() -> set[str]:
    """Every variable the package reads by name, and every option's environment variable."""
    source = "".join(path.read_text() for path in sorted((ROOT / "provisioning").rglob("*.py")))
    named = set(re.findall(r"\b(?:ELASTICSEARCH|BEDROCK|KIBANA)_[A-Z_]+\b", source))
    ctx = click.Context(cli)
    for name in command_names():
        command = cli.get_command(ctx, name)
        assert command is not None
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            named |= {envvar} if isinstance(envvar, str) else set(envvar or ())
    return named


def test_operations_page_documents_every_environment_variable() -> None:
    variables = environment_variables()
    assert {"ELASTICSEARCH_URL", "BEDROCK_ACCESS_KEY_ID", "KIBANA_URL", "MANAGED_LLM_TIMEOUT"} <= variables
    page = doc("operations.md")
    for variable in sorted(variables):
        assert f"`{variable}`" in page, f"{variable} is undocumented in docs/operations.md"


def test_command_reference_is_up_to_date() -> None:
    assert COMMANDS.read_text() == render_reference(), (
        f"docs/commands.md differs from the commands; regenerate it: {REGENERATE}"
    )


def reference_section(reference: str, name: str) -> str:
    return reference.split(f"## `managed-llm {name}`", 1)[1].split("\n## ", 1)[0]


def test_command_reference_lists_each_option_with_its_choices_and_default() -> None:
    reference = render_reference()
    ctx = click.Context(cli)
    for name in command_names():
        command = cli.get_command(ctx, name)
        assert command is not None
        section = reference_section(reference, name)
        assert f"Usage: managed-llm {name} [OPTIONS]" in section
        for param in command.params:
            if not isinstance(param, click.Option) or "--help" in param.opts:
                continue
            assert f"`{', '.join(param.opts)}" in section, f"{name} {param.opts} is missing"
            if isinstance(param.type, click.Choice):
                choices = "\\|".join(map(str, param.type.choices))
                assert f"[{choices}]" in section, f"{name} {param.opts} choices"
            if param.show_default and param.default is not None and not param.is_flag:
                default = param.get_default(ctx, call=True)  # a lazy default (init --region) is shown resolved
                assert f"default: {default}" in section, f"{name} {param.opts} default"


@pytest.mark.parametrize(
    ("help_text", "expected_summary", "expected_codes"),
    [
        (
            "Show the plan. Reads only. Exit 0 no changes, 2 changes, 1 error.\n\nMore.",
            "Show the plan. Reads only.",
            "0 no changes, 2 changes, 1 error.",
        ),
        (
            "Push the key.\n\n    Run after pulumi up. Exit 0 when every endpoint answers.\n",
            "Push the key.",
            "0 when every endpoint answers.",
        ),
        ("Print the schema.\n\n    Example: managed-llm schema\n", "Print the schema.", DEFAULT_EXIT_CODES),
        # A lower-case "exit 1" inside a sentence is prose, not the command's exit codes.
        (
            "Apply. SIGINT: nothing new starts, exit 1.",
            "Apply. SIGINT: nothing new starts, exit 1.",
            DEFAULT_EXIT_CODES,
        ),
    ],
)
def test_reference_reads_summary_and_exit_codes_from_the_docstring(
    help_text: str, expected_summary: str, expected_codes: str
) -> None:
    assert summary(help_text) == expected_summary
    assert exit_codes(help_text) == expected_codes


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def links_and_anchors(page: Path) -> tuple[list[str], set[str]]:
    """The page's link targets (code blocks and spans ignored) and the anchors of its headings."""
    tokens = MarkdownIt("commonmark").enable("table").parse(page.read_text())
    links: list[str] = []
    anchors: set[str] = set()
    for previous, token in zip([None, *tokens], tokens, strict=False):
        if token.type != "inline":
            continue
        if previous is not None and previous.type == "heading_open":
            anchors.add(slug("".join(child.content for child in token.children or [])))
        links += [str(child.attrs["href"]) for child in token.children or [] if child.type == "link_open"]
    return links, anchors


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in links_and_anchors(page)[0]:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in links_and_anchors(resolved)[1]:
            broken.append(f"{target} (no heading #{anchor})")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Stack outputs: the contract with the CLI\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#stack-outputs-the-contract-with-the-cli) [gone](gone.md) [bad](other.md#nowhere)\n"
        "[web](https://example.com)\n\n```text\n[in a code block](ignored.md)\n```\n"
    )
    assert broken_links(page) == ["gone.md (no such file)", "other.md#nowhere (no heading #nowhere)"]
