"""The operations commands: `verify`, `smoke`, `rotate-credentials`, `usage` and `models`.

Each parses its options, calls one function in provisioning/ops, emits the report and returns its exit code.
What they work with is imported inside their bodies, so that `--help` loads none of it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from provisioning.cli.app import (
    MARKDOWN_HELP,
    CliContext,
    cli,
    cluster_option,
    es_url_option,
    file_option,
    output_option,
    pass_context,
    stack_outputs_option,
    transport_options,
)
from provisioning.core.errors import EXIT_OK, ConfigError
from provisioning.render import View, emit

if TYPE_CHECKING:
    from provisioning.core.model import DesiredState
    from provisioning.core.stack_outputs import StackOutputs


def _stack(desired: DesiredState, file_: Path, stack_outputs: Path | None) -> StackOutputs:
    from provisioning.adapters.file_loader import load_stack_outputs
    from provisioning.core.stack_outputs import from_file

    return load_stack_outputs(stack_outputs) if stack_outputs is not None else from_file(desired, str(file_))


@cli.command()
@file_option
@stack_outputs_option
@output_option("VerifyReport", MARKDOWN_HELP)
@es_url_option
@cluster_option
@transport_options
@pass_context
def verify(
    context: CliContext, file_: Path, stack_outputs: Path | None, output: str, es_url: str | None, cluster: str | None
) -> int:
    """Prove zero data retention and least privilege: one PASS/FAIL row per control. Exit 0 all pass, 1 otherwise.

    Checks Bedrock's logging configuration, the log group, the Elasticsearch principal's IAM policies,
    the cluster's endpoints and role mappings, and the transport.

    Example: managed-llm verify -f managed-llm.yaml --stack-outputs stack-outputs.json
    """
    from provisioning.adapters.file_loader import load_file
    from provisioning.cli.fanout import _one_target, _secrets
    from provisioning.ops.evidence import verify as verify_deployment

    desired = load_file(file_)
    stack = _stack(desired, file_, stack_outputs)
    target = _one_target(context, desired, es_url, cluster)
    settings = target.context.settings(es_url)
    given = stack if stack_outputs is not None else None
    state, resolution = context.resolve(desired, target.name, given, str(file_))
    with context.connect(settings) as client:
        report = verify_deployment(state, stack, client, settings, resolution)
    emit(report, output, sys.stdout, View(secrets=tuple(_secrets(context.environ))))
    return report.exit_code


@cli.command()
@file_option
@stack_outputs_option
@output_option("SmokeReport")
@es_url_option
@cluster_option
@click.option("--check-logs", is_flag=True, help="Also prove the calls were logged as metadata only.")
@click.option(
    "--log-timeout",
    type=click.IntRange(0, 3600),
    default=300,
    show_default=True,
    help="Seconds to wait for log records.",
)
@transport_options
@pass_context
def smoke(
    context: CliContext,
    file_: Path,
    stack_outputs: Path | None,
    output: str,
    es_url: str | None,
    cluster: str | None,
    check_logs: bool,
    log_timeout: int,
) -> int:
    """Call every endpoint once through Elasticsearch with a unique canary in the prompt. Exit 0 / 1.

    With --check-logs, wait for each call's invocation record in CloudWatch Logs, check its metadata
    fields, and check that the canary appears nowhere in the log group.

    Example: managed-llm smoke -f managed-llm.yaml --stack-outputs stack-outputs.json --check-logs
    """
    from provisioning.adapters.file_loader import load_file
    from provisioning.cli.fanout import _one_target
    from provisioning.ops.smoke import smoke_test
    from provisioning.render.text import LogWait

    desired = load_file(file_)
    if not desired.inference_endpoints:
        raise ConfigError(f"{file_}: no inference endpoints to smoke-test")
    stack = _stack(desired, file_, stack_outputs) if check_logs else None
    settings = _one_target(context, desired, es_url, cluster).context.settings(es_url)
    with context.connect(settings) as client:
        report = smoke_test(
            client,
            desired.inference_endpoints,
            stack,
            log_timeout=log_timeout,
            poll_interval=context.poll_interval,
            on_wait=LogWait(sys.stderr),
        )
    emit(report, output, sys.stdout)
    return report.exit_code


@cli.command("rotate-credentials")
@file_option
@stack_outputs_option
@output_option("RotationReport")
@es_url_option
@cluster_option
@transport_options
@pass_context
def rotate_credentials(
    context: CliContext, file_: Path, stack_outputs: Path | None, output: str, es_url: str | None, cluster: str | None
) -> int:
    """Push the stack's current Bedrock key to every endpoint managed-llm owns, then call each once.

    Run after bumping credentialsGeneration and `pulumi up`. Exit 0 when every endpoint has the new key
    and answers; a re-run converges.

    Example: managed-llm rotate-credentials -f managed-llm.yaml --stack-outputs stack-outputs.json
    """
    from provisioning.adapters.credentials import from_secret
    from provisioning.adapters.file_loader import load_file
    from provisioning.cli.fanout import _one_target
    from provisioning.ops.rotate import rotate

    desired = load_file(file_)
    stack = _stack(desired, file_, stack_outputs)
    # A cluster of a deployment gets its deployment's key, never the stack's first one.
    target = _one_target(context, desired, es_url, cluster)
    _, resolution = context.resolve(desired, target.name, stack if stack_outputs is not None else None, str(file_))
    arn = resolution.credentials_secret_arn if resolution is not None else stack.credentials_secret_arn
    if arn is None:
        raise ConfigError(
            "rotate-credentials: no credentials secret known (pass --stack-outputs or set bedrock.credentials)"
        )
    credentials = from_secret(arn, context.read_secret)
    settings = target.context.settings(es_url)
    with context.connect(settings) as client:
        report = rotate(client, credentials)
    emit(report, output, sys.stdout)
    return report.exit_code


@cli.command()
@click.option("-f", "--file", "file_", type=click.Path(path_type=Path), help="For prices and models.")
@stack_outputs_option
@click.option("--region", help="Bedrock region (default: the stack's, else the file's, else us-east-1).")
@click.option("--since", default="7d", show_default=True, help="Start: a duration before now (7d, 24h) or an ISO date.")
@click.option("--until", default="now", show_default=True, help="End: now, a duration before now, or an ISO date.")
@click.option(
    "--by",
    "by",
    multiple=True,
    metavar="deployment|model|day",
    help="Group by these, repeated or comma-separated (--by deployment,model). Default: model.",
)
@click.option(
    "--cross-check",
    is_flag=True,
    help="Also read the window's invocation logs and compare them with the metrics (disagreements are notes).",
)
@output_option("UsageReport")
def usage(
    file_: Path | None,
    stack_outputs: Path | None,
    region: str | None,
    since: str,
    until: str,
    by: tuple[str, ...],
    cross_check: bool,
    output: str,
) -> int:
    """Invocations, errors, throttles, tokens and estimated cost per deployment, model and/or day, from CloudWatch.

    With the stack's `deployments` output each deployment's application inference profiles are its series;
    without it everything is one deployment, `default`. Notes (the cross-check) go to stderr with csv.

    Example: managed-llm usage --stack-outputs stack-outputs.json --since 30d --by deployment,model --output csv
    """
    from provisioning.adapters.file_loader import load_file, load_stack_outputs
    from provisioning.core.stack_outputs import from_file
    from provisioning.ops.usage import parse_by, read_usage

    groups = parse_by(by)
    desired = load_file(file_) if file_ is not None else None
    stack = (
        load_stack_outputs(stack_outputs)
        if stack_outputs is not None
        else (from_file(desired, str(file_)) if desired is not None and desired.bedrock is not None else None)
    )
    report = read_usage(
        desired, stack, region, since, until, datetime.now(UTC), str(file_), by=groups, check_logs=cross_check
    )
    emit(report, output, sys.stdout)
    if output == "csv":
        for note in report.notes:
            click.echo(f"note: {note}", err=True)
    return EXIT_OK


@cli.command()
@click.option("-f", "--file", "file_", type=click.Path(path_type=Path), help="Also check the models its endpoints use.")
@stack_outputs_option
@click.option("--region", help="Bedrock region (default: the stack's, else the file's, else us-east-1).")
@output_option("ModelsReport", MARKDOWN_HELP)
@pass_context
def models(context: CliContext, file_: Path | None, stack_outputs: Path | None, region: str | None, output: str) -> int:
    """Bedrock's models as your account sees them, joined with the shipped catalog. Exit 0, or 1 when a model
    the file or the stack uses is past EOL or not accessible.

    Reads ListFoundationModels (lifecycle), ListInferenceProfiles (us. profiles) and
    GetFoundationModelAvailability (access); where Bedrock and the catalog disagree, both are shown.

    Example: managed-llm models -f managed-llm.yaml --stack-outputs stack-outputs.json --output markdown
    """
    from provisioning.adapters.file_loader import load_file, load_stack_outputs
    from provisioning.ops.models_report import models_in_use

    desired = load_file(file_) if file_ is not None else None
    stack = load_stack_outputs(stack_outputs) if stack_outputs is not None else None
    report = models_in_use(desired, stack, region, context.today())
    emit(report, output, sys.stdout)
    return report.exit_code
