"""Several clusters in one file: pick the targets, run a command on each (in parallel when there are
several), and combine their outputs and exit codes into one verdict.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

import click

from provisioning.adapters import redact
from provisioning.adapters.es_client import EsClient
from provisioning.adapters.settings import ConnectionSettings
from provisioning.cli.app import (
    CliContext,
    internal_error,
)
from provisioning.core.apply import ApplyReport
from provisioning.core.errors import EXIT_ERROR, ConfigError, ManagedLlmError
from provisioning.core.model import DesiredState
from provisioning.core.plan import Plan, worst_exit_code
from provisioning.render.markdown import cell

MAX_PARALLEL_CLUSTERS = 4


@dataclass(frozen=True)
class Target:
    """One cluster to plan or apply: its name (None in the single-cluster form) and its environment."""

    name: str | None
    context: CliContext


@dataclass(frozen=True)
class Outcome:
    name: str | None
    exit_code: int
    plan: Plan | None = None
    report: ApplyReport | None = None
    error: str | None = None
    output: str = ""


def _targets(context: CliContext, desired: DesiredState, only: str | None, es_url: str | None) -> list[Target]:
    if not desired.clusters:
        if only is not None:
            raise ConfigError(f"--cluster {only}: the file declares no clusters")
        return [Target(None, context)]
    if es_url is not None:
        raise ConfigError("--es-url cannot be used with a file that declares clusters")
    chosen = [c for c in desired.clusters if only in (None, c.name)]
    if not chosen:
        raise ConfigError(
            f"--cluster {only}: no such cluster; the file declares {', '.join(c.name for c in desired.clusters)}"
        )
    return [Target(c.name, dataclasses.replace(context, environ=c.environ(context.environ))) for c in chosen]


def _for_each(targets: list[Target], work: Callable[[Target, IO[str]], Outcome]) -> list[Outcome]:
    """One target: stream to stdout, errors stop the command. Several: in parallel, each output buffered and
    printed in file order, and a failing cluster is reported without hiding the others."""
    if len(targets) == 1:
        return [work(targets[0], sys.stdout)]
    context = click.get_current_context(silent=True)  # thread-local: read here, not in the pool's threads
    debug = bool(context is not None and context.find_root().params.get("debug"))

    def guarded(target: Target) -> Outcome:
        buffer = io.StringIO()
        try:
            outcome = work(target, buffer)
        except ManagedLlmError as exc:
            return Outcome(target.name, EXIT_ERROR, error=exc.message, output=buffer.getvalue())
        except Exception as exc:
            # A bug met in one cluster must not take the others down, nor print a traceback.
            if debug:
                sys.stderr.write("".join(traceback.format_exception(exc)))
            return Outcome(target.name, EXIT_ERROR, error=internal_error(exc), output=buffer.getvalue())
        return dataclasses.replace(outcome, output=buffer.getvalue())

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_CLUSTERS, len(targets))) as pool:
        return list(pool.map(guarded, targets))


def _secrets(environ: Mapping[str, str]) -> list[str]:
    """Every secret value in the environment, for masking in comments (the output boundary masks them too)."""
    return [v for k, v in environ.items() if redact.is_secret_variable(k)]


def _finish(
    outcomes: list[Outcome], output: str, document: Callable[[Outcome], dict[str, Any]], plan_codes: bool
) -> int:
    """Print what several clusters produced, in order, then the combined verdict."""
    code = worst_exit_code([o.exit_code for o in outcomes]) if plan_codes else max(o.exit_code for o in outcomes)
    if len(outcomes) == 1:
        return code
    if output == "json":
        combined = {"format_version": 1, "clusters": [document(o) for o in outcomes], "exit_code": code}
        sys.stdout.write(json.dumps(combined, indent=2) + "\n")
        return code
    for outcome in outcomes:
        if output == "text":
            sys.stdout.write(f"== cluster {outcome.name} ==\n")
        sys.stdout.write(outcome.output)
        if outcome.error is not None:
            line = f"error: {outcome.error}"
            sys.stdout.write(
                f"> :x: cluster `{outcome.name}`: {cell(line)}\n\n" if output == "markdown" else line + "\n"
            )
    verdicts = ", ".join(f"{o.name} exit {o.exit_code}" + (" (error)" if o.error else "") for o in outcomes)
    sys.stdout.write(f"Clusters: {verdicts}; exit {code}.\n")
    return code


def _document(outcome: Outcome) -> dict[str, Any]:
    return {
        "name": outcome.name,
        "exit_code": outcome.exit_code,
        "error": outcome.error,
        "plan": outcome.plan.to_dict() if outcome.plan is not None else None,
        "apply": outcome.report.to_dict() if outcome.report is not None else None,
    }


def _connect(
    context: CliContext, desired: DesiredState, es_url: str | None, cluster: str | None
) -> tuple[ConnectionSettings, EsClient]:
    """The one cluster a command works on: the single-cluster form, or `--cluster NAME` of the file's clusters."""
    targets = _targets(context, desired, cluster, es_url)
    if len(targets) > 1:
        raise ConfigError(f"the file declares {len(targets)} clusters: choose one with --cluster NAME")
    settings = targets[0].context.settings(es_url)
    return settings, context.connect(settings)
