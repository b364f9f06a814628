"""Several clusters in one file: pick the targets, run a command on each (in parallel when there are
several), and combine their outputs and exit codes into one verdict.
"""

from __future__ import annotations

import dataclasses
import io
import sys
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

import click

from provisioning.adapters import redact
from provisioning.cli.app import CliContext, internal_error
from provisioning.core.errors import EXIT_ERROR, ConfigError, ManagedLlmError
from provisioning.core.outcome import ClusterOutcome as Outcome
from provisioning.core.outcome import Clusters
from provisioning.core.plan import worst_exit_code
from provisioning.render import emit

if TYPE_CHECKING:
    from provisioning.core.model import DesiredState

MAX_PARALLEL_CLUSTERS = 4


@dataclass(frozen=True)
class Target:
    """One cluster to plan or apply: its name (None in the single-cluster form) and its environment."""

    name: str | None
    context: CliContext


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


def _finish(outcomes: list[Outcome], output: str, plan_codes: bool) -> int:
    """Print what several clusters produced, in order, then the combined verdict (one cluster printed already)."""
    code = worst_exit_code([o.exit_code for o in outcomes]) if plan_codes else max(o.exit_code for o in outcomes)
    if len(outcomes) > 1:
        emit(Clusters(tuple(outcomes), code), output, sys.stdout)
    return code


def _one_target(context: CliContext, desired: DesiredState, es_url: str | None, cluster: str | None) -> Target:
    """The one cluster a command works on: the single-cluster form, `--cluster NAME` of the file's clusters, or
    the file's only cluster. Its name, not the `--cluster` option, says which deployment it belongs to."""
    targets = _targets(context, desired, cluster, es_url)
    if len(targets) > 1:
        raise ConfigError(f"the file declares {len(targets)} clusters: choose one with --cluster NAME")
    return targets[0]
