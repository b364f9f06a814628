"""The reconcile commands: `validate` (offline), `plan` (read only) and `apply` (writes).

Each command imports what it works with inside its body, so that `--help` loads none of it.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from provisioning.cli.app import MARKDOWN_HELP, CliContext, cli, cluster_option, file_option, pass_context, plan_options
from provisioning.core.defaults import DEFAULT_CONCURRENCY, DEFAULT_TTL, MAX_CONCURRENCY
from provisioning.core.errors import EXIT_ERROR, EXIT_OK
from provisioning.render import View, emit

if TYPE_CHECKING:
    from provisioning.cli.fanout import Target
    from provisioning.core.apply import Stop
    from provisioning.core.deployments import Resolution
    from provisioning.core.model import DesiredState
    from provisioning.core.outcome import ClusterOutcome as Outcome
    from provisioning.core.plan import Plan, PlanOptions


@cli.command()
@file_option
def validate(file_: Path) -> int:
    """Check the file offline (no cluster, no AWS). Exit 0 valid, 1 invalid.

    Example: managed-llm validate -f managed-llm.yaml
    """
    from provisioning.adapters.file_loader import load_file

    desired = load_file(file_)
    click.echo(
        f"{file_}: valid ({len(desired.inference_endpoints)} inference endpoints, "
        f"{len(desired.role_mappings)} role mappings)"
    )
    return EXIT_OK


Resolved = dict[str | None, tuple["DesiredState", "Resolution | None"]]


def _resolve_all(
    context: CliContext, desired: DesiredState, file_: Path, stack_outputs: Path | None, targets: list[Target]
) -> Resolved:
    """Each target's deployment resolved against the stack outputs, before any request: a refusal stops all."""
    from provisioning.adapters.file_loader import load_stack_outputs

    stack = load_stack_outputs(stack_outputs) if stack_outputs is not None else None
    return {t.name: context.resolve(desired, t.name, stack, str(file_)) for t in targets}


def _secret_of(resolution: Resolution | None) -> str | None:
    return resolution.credentials_secret_arn if resolution is not None else None


def _plan(
    context: CliContext,
    desired: DesiredState,
    es_url: str | None,
    options: PlanOptions,
    resolution: Resolution | None = None,
) -> Plan:
    """Connect, read the cluster (version, then once per kind, then Kibana's connectors), diff."""
    from provisioning.core.planning import make_plan

    settings = context.settings(es_url)
    with context.connect(settings) as client, context.kibana(desired) as kibana:
        return make_plan(desired, client, options, settings.display_url, kibana=kibana, resolution=resolution)


@cli.command()
@plan_options("Plan", MARKDOWN_HELP)
@cluster_option
@pass_context
def plan(
    context: CliContext,
    file_: Path,
    stack_outputs: Path | None,
    output: str,
    es_url: str | None,
    prune: bool,
    adopt: bool,
    force_replace: bool,
    cluster: str | None,
) -> int:
    """Show what apply would change. Reads only. Exit 0 no changes, 2 changes, 1 error.

    With several clusters in the file, plans them in parallel; the exit code is the worst (1 over 2 over 0).

    Example: managed-llm plan -f managed-llm.yaml --output markdown > plan.md
    """
    from provisioning.adapters.credentials import describe_source
    from provisioning.adapters.file_loader import load_file
    from provisioning.cli.fanout import _finish, _for_each, _secrets, _targets
    from provisioning.core.outcome import ClusterOutcome as Outcome
    from provisioning.core.plan import PlanOptions

    desired = load_file(file_)
    options = PlanOptions(prune, adopt, force_replace)
    many = len(desired.clusters) > 1 and cluster is None

    targets = _targets(context, desired, cluster, es_url)
    resolved = _resolve_all(context, desired, file_, stack_outputs, targets)

    def work(target: Target, out: IO[str]) -> Outcome:
        state, resolution = resolved[target.name]
        the_plan = _plan(target.context, state, es_url, options, resolution)
        # With several clusters, the JSON document is written once, for all of them (fanout._finish).
        if not (many and output == "json"):
            view = View(
                title="managed-llm plan" if target.name is None else f"managed-llm plan, cluster {target.name}",
                secrets=tuple(_secrets(target.context.environ)),
                credentials_source=describe_source(state, target.context.environ, _secret_of(resolution)),
            )
            emit(the_plan, output, out, view)
        return Outcome(target.name, the_plan.exit_code, plan=the_plan)

    outcomes = _for_each(targets, work)
    return _finish(outcomes, output, plan_codes=True)


@cli.command()
@plan_options("Applied", "Output format.")
@cluster_option
@click.option(
    "--concurrency",
    type=click.IntRange(1, MAX_CONCURRENCY),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help=f"Parallel writes, each on its own connection. At most {MAX_CONCURRENCY}: every endpoint PUT is handled "
    "by the elected master node and makes one billed Bedrock validation call against the account's quota, "
    "so more would only queue on the master and compete with live traffic.",
)
@click.option(
    "--break-lock",
    is_flag=True,
    help="Take over an apply lock that has expired (left by an apply that crashed or was killed).",
)
@click.option(
    "--lock-ttl",
    type=click.IntRange(1, 86400),
    default=int(DEFAULT_TTL),
    show_default=True,
    help="Seconds the apply lock lasts unless renewed (apply renews it every third of that while it runs); "
    "after a crash, other applies wait this long.",
)
@pass_context
def apply(
    context: CliContext,
    file_: Path,
    stack_outputs: Path | None,
    output: str,
    es_url: str | None,
    prune: bool,
    adopt: bool,
    force_replace: bool,
    cluster: str | None,
    concurrency: int,
    break_lock: bool,
    lock_ttl: int,
) -> int:
    """Make the cluster match the file, non-interactively. Exit 0 converged, 1 error.

    With several clusters in the file, applies them in parallel; one failing does not stop the others.
    Takes a lock in the cluster before its first write; a second apply fails fast while it is held.
    SIGINT/SIGTERM: in-flight writes finish, nothing new starts, what was done is recorded, exit 1.

    Example: managed-llm apply -f managed-llm.yaml --prune
    """
    from provisioning.adapters.credentials import describe_source
    from provisioning.adapters.file_loader import load_file
    from provisioning.cli.fanout import _finish, _for_each, _targets
    from provisioning.core.apply import Stop, apply_plan
    from provisioning.core.errors import PlanError
    from provisioning.core.lock import ApplyLock
    from provisioning.core.outcome import Applied
    from provisioning.core.outcome import ClusterOutcome as Outcome
    from provisioning.core.plan import PlanOptions
    from provisioning.core.planning import make_plan
    from provisioning.render.text import BarProgress, progress_for

    desired = load_file(file_)
    options = PlanOptions(prune, adopt, force_replace)
    many = len(desired.clusters) > 1 and cluster is None
    single_json = output == "json" and not many
    stop = Stop()
    targets = _targets(context, desired, cluster, es_url)
    resolved = _resolve_all(context, desired, file_, stack_outputs, targets)

    def work(target: Target, out: IO[str]) -> Outcome:
        state, resolution = resolved[target.name]
        secret = _secret_of(resolution)
        # One connection per parallel write and one for the lock's renewal, which runs beside them.
        settings = target.context.settings(es_url, connections=concurrency + 1)
        with target.context.connect(settings) as client, target.context.kibana(state) as kibana:
            the_plan = make_plan(state, client, options, settings.display_url, kibana=kibana, resolution=resolution)
            if output != "json":
                source = describe_source(state, target.context.environ, secret)
                emit(the_plan, "text", out, View(credentials_source=source))
            progress = progress_for(sys.stderr, len(the_plan.writes), prefix=f"[{target.name}] " if many else "")
            try:
                report = apply_plan(
                    the_plan,
                    state,
                    client,
                    target.context.credentials(state, secret),
                    concurrency=concurrency,
                    progress=progress,
                    kibana=kibana,
                    lock=ApplyLock(client, ttl=lock_ttl, settle=context.lock_settle),
                    break_lock=break_lock,
                    stop=stop,
                )
            except PlanError:
                if single_json:
                    emit(the_plan, "json", out)
                raise
            finally:
                if isinstance(progress, BarProgress):
                    progress.stop()
            for warning in client.warnings:
                click.echo(f"warning: {warning}", err=True)
        if output != "json" or single_json:
            emit(Applied(the_plan, report), output, out)
        return Outcome(target.name, report.exit_code, plan=the_plan, report=report)

    with _stopped_by_signals(stop):
        outcomes = _for_each(targets, work)
    code = _finish(outcomes, output, plan_codes=False)
    if stop.reason is not None:
        click.echo(
            f"error: apply interrupted by {stop.reason}: in-flight writes finished, nothing new started; "
            "the ownership ledger records what was done",
            err=True,
        )
        return EXIT_ERROR
    return code


@contextmanager
def _stopped_by_signals(stop: Stop) -> Iterator[None]:
    """SIGINT/SIGTERM set `stop` instead of killing apply mid-write (handlers can only be set in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda number, _frame: stop.set(signal.Signals(number).name)) for s in caught}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
