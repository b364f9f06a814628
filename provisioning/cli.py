"""The `managed-llm` command line: thin click commands over the provisioning core.

Each command parses its options, calls the core once, renders the result and returns an exit code:
`validate` 0/1, `plan` 0 (no changes) / 2 (changes) / 1 (error), `apply` 0/1. Errors are one line on
stderr (`error: ...`), never a traceback; click's usage errors (exit 2 in click) are remapped to 1,
because 2 means "changes present" here.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from provisioning import __version__
from provisioning.apply import DEFAULT_CONCURRENCY, apply_plan
from provisioning.config import ConnectionSettings, load_file
from provisioning.credentials import BedrockCredentials, describe_source, resolve
from provisioning.errors import EXIT_ERROR, EXIT_OK, ManagedLlmError, PlanError
from provisioning.es_client import EsClient
from provisioning.model import DesiredState
from provisioning.plan import Plan, PlanOptions
from provisioning.planner import make_plan
from provisioning.render import apply_json, apply_text, plan_json, plan_text, progress_for
from provisioning.sandbox import run_sandbox

DEFAULT_EXAMPLE = Path("examples/managed-llm.yaml")


@dataclass
class CliContext:
    """What commands need from the outside world; tests inject their own (environment, client factory)."""

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    connect: Callable[[ConnectionSettings], EsClient] = EsClient
    read_secret: Callable[[str], str] | None = None

    def credentials(self, desired: DesiredState) -> Callable[[], BedrockCredentials]:
        return lambda: resolve(desired, self.environ, self.read_secret)


class ManagedLlmGroup(click.Group):
    """Turns domain errors into one stderr line and command return values into exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
        except ManagedLlmError as exc:
            click.echo(f"error: {exc.message}", err=True)
            ctx.exit(EXIT_ERROR)
        except click.UsageError as exc:
            exc.show()
            ctx.exit(EXIT_ERROR)
        if isinstance(result, int):
            ctx.exit(result)
        return result


pass_context = click.make_pass_decorator(CliContext, ensure=True)

file_option = click.option(
    "-f",
    "--file",
    "file_",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The declarative file.",
)
output_option = click.option(
    "-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)
es_url_option = click.option("--es-url", help="Elasticsearch URL (default: $ELASTICSEARCH_URL).")
prune_option = click.option(
    "--prune", is_flag=True, help="Delete objects managed-llm owns that the file no longer declares."
)
adopt_option = click.option(
    "--adopt", is_flag=True, help="Take over existing objects the file declares that managed-llm does not own yet."
)
force_option = click.option(
    "--force-replace",
    is_flag=True,
    help="Replace or delete endpoints even if pipelines or semantic_text fields use them.",
)


def plan_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options plan and apply share, in the order --help lists them."""
    for option in reversed((file_option, output_option, es_url_option, prune_option, adopt_option, force_option)):
        command = option(command)
    return command


@click.group(cls=ManagedLlmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="managed-llm")
def cli() -> None:
    """Give an Elasticsearch cluster its own managed LLM on your AWS account (Amazon Bedrock, US regions).

    One declarative file describes inference endpoints and role mappings; `plan` shows the diff,
    `apply` makes the cluster match it.
    """


@cli.command()
@file_option
def validate(file_: Path) -> int:
    """Check the file offline (no cluster, no AWS). Exit 0 valid, 1 invalid.

    Example: managed-llm validate -f managed-llm.yaml
    """
    desired = load_file(file_)
    click.echo(
        f"{file_}: valid ({len(desired.inference_endpoints)} inference endpoints, "
        f"{len(desired.role_mappings)} role mappings)"
    )
    return EXIT_OK


def _read_and_plan(
    context: CliContext, file_: Path, es_url: str | None, options: PlanOptions
) -> tuple[DesiredState, EsClient, Plan]:
    """Validate the file (before any request), connect, read the cluster once per kind, diff."""
    desired = load_file(file_)
    settings = ConnectionSettings.from_environment(context.environ, es_url)
    client = context.connect(settings)
    try:
        return desired, client, make_plan(desired, client, options, settings.display_url)
    except ManagedLlmError:
        client.close()
        raise


@cli.command()
@plan_options
@pass_context
def plan(
    context: CliContext, file_: Path, output: str, es_url: str | None, prune: bool, adopt: bool, force_replace: bool
) -> int:
    """Show what apply would change. Reads only. Exit 0 no changes, 2 changes, 1 error.

    Example: managed-llm plan -f managed-llm.yaml --output json
    """
    desired, client, the_plan = _read_and_plan(context, file_, es_url, PlanOptions(prune, adopt, force_replace))
    client.close()
    if output == "json":
        plan_json(the_plan, sys.stdout)
    else:
        plan_text(the_plan, sys.stdout, credentials_source=describe_source(desired, context.environ))
    return the_plan.exit_code


@cli.command()
@plan_options
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=DEFAULT_CONCURRENCY, show_default=True, help="Parallel writes."
)
@pass_context
def apply(
    context: CliContext,
    file_: Path,
    output: str,
    es_url: str | None,
    prune: bool,
    adopt: bool,
    force_replace: bool,
    concurrency: int,
) -> int:
    """Make the cluster match the file, non-interactively. Exit 0 converged, 1 error.

    Example: managed-llm apply -f managed-llm.yaml --prune
    """
    desired, client, the_plan = _read_and_plan(context, file_, es_url, PlanOptions(prune, adopt, force_replace))
    try:
        if output == "text":
            plan_text(the_plan, sys.stdout, credentials_source=describe_source(desired, context.environ))
        progress = progress_for(sys.stderr, len(the_plan.writes))
        try:
            report = apply_plan(
                the_plan, desired, client, context.credentials(desired), concurrency=concurrency, progress=progress
            )
        except PlanError:
            if output == "json":
                plan_json(the_plan, sys.stdout)
            raise
        finally:
            if hasattr(progress, "stop"):
                progress.stop()
        for warning in client.warnings:
            click.echo(f"warning: {warning}", err=True)
    finally:
        client.close()
    if output == "json":
        apply_json(the_plan, report, sys.stdout)
    else:
        apply_text(report, sys.stdout)
    return report.exit_code


@cli.command()
def schema() -> int:
    """Print the JSON Schema of the file, for editors (yaml-language-server) and CI.

    Example: managed-llm schema > managed-llm.schema.json
    """
    click.echo(json.dumps(DesiredState.model_json_schema(), indent=2))
    return EXIT_OK


@cli.command()
@click.option(
    "-f", "--file", "file_", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_EXAMPLE, show_default=True
)
def sandbox(file_: Path) -> int:
    """Try the whole flow with no cluster and no AWS account: plan, apply, plan again.

    Serves an in-memory stand-in of the Elasticsearch APIs on 127.0.0.1 (it is NOT Elasticsearch;
    nothing leaves this machine) and runs the real plan and apply against it.

    Example: managed-llm sandbox -f examples/managed-llm.yaml
    """
    return run_sandbox(load_file(file_), sys.stdout)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: click's standalone mode with exit code 2 reserved for plan."""
    try:
        code = cli.main(args=argv, prog_name="managed-llm", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        code = EXIT_ERROR
    except click.Abort:
        click.echo("aborted", err=True)
        code = EXIT_ERROR
    sys.exit(code if isinstance(code, int) else EXIT_OK)
