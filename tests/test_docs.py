"""The README stays true: its commands are what CI runs, and every config key and output is documented."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic.alias_generators import to_camel

from infra.config import StackConfig

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


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


def test_readme_documents_every_stack_config_key() -> None:
    for field in StackConfig.model_fields:
        if field != "stack":
            assert f"| `{to_camel(field)}` |" in README, f"config key {to_camel(field)} is undocumented"


def test_readme_documents_every_stack_output() -> None:
    exported = re.findall(r'pulumi\.export\("(\w+)"', (ROOT / "infra" / "__main__.py").read_text())
    assert len(exported) == 9
    for name in exported:
        assert f"`{name}`" in README, f"stack output {name} is undocumented"


def test_readme_documents_every_cli_command() -> None:
    from provisioning.cli.app import cli

    for name in cli.commands:
        assert f"`managed-llm {name}" in README, f"command {name} is undocumented"


def test_readme_documents_every_environment_variable() -> None:
    import provisioning.adapters.credentials
    import provisioning.adapters.file_loader
    import provisioning.adapters.kibana_client
    import provisioning.adapters.settings

    modules = (
        provisioning.adapters.settings,
        provisioning.adapters.file_loader,
        provisioning.adapters.credentials,
        provisioning.adapters.kibana_client,
    )
    source = "".join(Path(m.__file__ or "").read_text() for m in modules)
    for variable in sorted(set(re.findall(r"\b(?:ELASTICSEARCH|BEDROCK|KIBANA)_[A-Z_]+\b", source))):
        assert f"`{variable}`" in README, f"{variable} is undocumented"
