"""The `managed-llm` entry point."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from provisioning import __version__
from provisioning.cli.app import cli


def test_cli_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"managed-llm, version {__version__}"


def test_cli_help_describes_the_tool() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    assert "Elasticsearch" in result.output


def test_cli_runs_as_a_module() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "provisioning", "--version"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert __version__ in completed.stdout
