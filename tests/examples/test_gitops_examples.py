"""The example pipelines stay valid and do what the README says.

actionlint cannot be installed here (its PyPI wrapper downloads a binary at build time), so the files
are validated against the GitHub-workflow and GitLab-CI JSON Schemas that check-jsonschema vendors, and
their plan steps are executed with bash and stub commands to prove exit code 2 is not a failure.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "gitops"
GITHUB = EXAMPLES / "github-actions.yml"
GITLAB = EXAMPLES / "gitlab-ci.yml"
CHECK_JSONSCHEMA = str(Path(sys.executable).parent / "check-jsonschema")


def lint(path: Path, schema: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", schema, *extra, str(path)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("path", "schema", "extra"),
    [(GITHUB, "vendor.github-workflows", ()), (GITLAB, "vendor.gitlab-ci", ("--data-transform", "gitlab-ci"))],
)
def test_examples_are_valid_for_their_ci(path: Path, schema: str, extra: tuple[str, ...], tmp_path: Path) -> None:
    result = lint(path, schema, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / path.name
    broken.write_text(path.read_text().replace("runs-on:", "run-on:").replace("stage: apply", "stages: apply"))
    assert lint(broken, schema, *extra).returncode != 0, "the lint must be able to fail"


def github() -> dict[str, Any]:
    return yaml.safe_load(GITHUB.read_text())


def gitlab() -> dict[str, Any]:
    return yaml.safe_load(GITLAB.read_text())


def stubs(directory: Path, **commands: str) -> dict[str, str]:
    """Executables that stand in for managed-llm, pulumi, gh, curl: each records its arguments and runs `body`."""
    directory.mkdir(exist_ok=True)
    for name, body in commands.items():
        path = directory / name
        path.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >> "$CALLS"\n{body}\n')
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{directory}:{os.environ['PATH']}", "CALLS": str(directory / "calls.log")}


def managed_llm_exiting(code: int) -> str:
    return f'if [ "$1" = plan ]; then echo "### managed-llm plan"; exit {code}; fi'


def github_plan_step() -> str:
    steps = github()["jobs"]["plan"]["steps"]
    return next(s["run"] for s in steps if s.get("id") == "plan")


@pytest.mark.parametrize(("plan_exit", "step_fails"), [(0, False), (2, False), (1, True)])
def test_github_plan_step_treats_exit_2_as_changes(plan_exit: int, step_fails: bool, tmp_path: Path) -> None:
    env = stubs(tmp_path / "bin", **{"managed-llm": managed_llm_exiting(plan_exit)})
    output = tmp_path / "github_output"
    env |= {"GITHUB_OUTPUT": str(output)}
    # GitHub runs `run:` blocks with `bash -e {0}`.
    script = tmp_path / "step.sh"
    script.write_text(github_plan_step())
    result = subprocess.run(
        ["bash", "-e", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert (result.returncode != 0) is step_fails, result.stderr
    assert (tmp_path / "plan.md").read_text() == "### managed-llm plan\n"
    assert output.read_text() == f"exit-code={plan_exit}\n"


@pytest.mark.parametrize(("plan_exit", "job_fails"), [(0, False), (2, False), (1, True)])
def test_gitlab_plan_job_posts_the_comment_and_fails_only_on_errors(
    plan_exit: int, job_fails: bool, tmp_path: Path
) -> None:
    env = stubs(
        tmp_path / "bin", **{"managed-llm": managed_llm_exiting(plan_exit), "pulumi": "exit 0", "curl": "exit 0"}
    )
    # GitLab's shell runs the script lines in one bash with errexit.
    script = tmp_path / "job.sh"
    script.write_text("set -eo pipefail\n" + "\n".join(gitlab()["plan"]["script"]))
    result = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert (result.returncode != 0) is job_fails, result.stderr
    calls = (tmp_path / "bin" / "calls.log").read_text()
    assert "pulumi preview --stack" in calls
    assert "--policy-pack policy" in calls
    assert "curl " in calls
    assert "body@plan.md" in calls


def order_of(commands: list[str], *needles: str) -> list[int]:
    return [next(i for i, c in enumerate(commands) if needle in c) for needle in needles]


def test_merge_applies_aws_then_elasticsearch_then_checks() -> None:
    steps = github()["jobs"]["apply"]["steps"]
    commands = [s.get("run") or f"pulumi {s.get('with', {}).get('command', '')}" for s in steps]
    positions = order_of(
        commands,
        "pulumi up",
        "pulumi stack output --json",
        "managed-llm apply",
        "managed-llm verify",
        "managed-llm smoke",
    )
    assert positions == sorted(positions)
    script = gitlab()["apply"]["script"]
    positions = order_of(
        script,
        "pulumi up",
        "pulumi stack output --json",
        "managed-llm apply",
        "managed-llm verify",
        "managed-llm smoke",
    )
    assert positions == sorted(positions)
    assert any("--check-logs" in c for c in script)


def test_the_policy_pack_guards_both_preview_and_up() -> None:
    pulumi_steps = [
        s
        for job in github()["jobs"].values()
        for s in job["steps"]
        if str(s.get("uses", "")).startswith("pulumi/actions")
    ]
    assert {s["with"]["command"] for s in pulumi_steps} == {"preview", "up"}
    assert all(s["with"]["policyPacks"] == "policy" for s in pulumi_steps)
    gitlab_pulumi = [
        c for job in ("plan", "apply") for c in gitlab()[job]["script"] if c.startswith("pulumi ") and "output" not in c
    ]
    assert len(gitlab_pulumi) == 2
    assert all("--policy-pack policy" in c for c in gitlab_pulumi)


def test_no_secret_is_written_in_the_examples() -> None:
    for path in (GITHUB, GITLAB):
        text = path.read_text()
        for name, value in re.findall(r"^\s*([A-Z_]*(?:KEY|TOKEN|PASSWORD|SECRET)[A-Z_]*):\s*(.+)$", text, re.M):
            assert value.startswith(("${{ secrets.", "${{ github.token }}")), (
                f"{path.name}: {name} must come from a secret store"
            )
        assert not re.search(r"AKIA[A-Z0-9]{16}", text)


def test_deployments_are_serialized() -> None:
    assert github()["concurrency"]["cancel-in-progress"] is False
    assert gitlab()["apply"]["resource_group"]
