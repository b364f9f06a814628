"""The README's "run it" command: plan -> apply -> plan against the labelled stand-in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from provisioning.cli.app import cli

ROOT = Path(__file__).resolve().parents[3]


def test_sandbox_runs_the_whole_flow_and_ends_clean() -> None:
    result = CliRunner().invoke(cli, ["sandbox", "-f", str(ROOT / "examples" / "managed-llm.yaml")])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "It is NOT Elasticsearch" in out
    assert out.index("$ managed-llm plan") < out.index("$ managed-llm apply") < out.rindex("$ managed-llm plan")
    assert "Plan: 4 to create, 0 to update, 0 to replace, 0 to delete." in out
    assert "Apply complete: 4 done, 0 failed, 0 not attempted; converged." in out
    final_plan = out[out.rindex("$ managed-llm plan") :]
    assert "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete." in final_plan
    assert "Bedrock validation calls simulated: 2." in out


def test_sandbox_runs_as_the_console_script_from_the_repository_root() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "provisioning", "sandbox"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "No changes. The cluster matches the file." in completed.stdout
