"""The operations commands: `verify`, `smoke`, `rotate-credentials`, `usage` and `models`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from catalog.models import load_catalog
from provisioning.adapters import aws
from provisioning.adapters.credentials import from_secret
from provisioning.adapters.file_loader import load_file, load_stack_outputs
from provisioning.cli.app import (
    CliContext,
    cli,
    cluster_option,
    es_url_option,
    file_option,
    markdown_output_option,
    output_option,
    pass_context,
    stack_outputs_option,
    transport_options,
)
from provisioning.cli.fanout import (
    _connect,
    _secrets,
)
from provisioning.core.errors import EXIT_OK, ConfigError
from provisioning.core.model import DesiredState
from provisioning.core.stack_outputs import StackOutputs, from_file
from provisioning.ops.evidence import gather
from provisioning.ops.invocation_logs import MAX_LOG_EVENTS
from provisioning.ops.models_report import read_models
from provisioning.ops.rotate import rotate
from provisioning.ops.smoke import LogCheck, SmokeReport, Verdict, new_canary, run_smoke
from provisioning.ops.smoke import check_logs as check_invocation_logs
from provisioning.ops.usage import aggregate, build_queries, window
from provisioning.ops.verify import evaluate
from provisioning.render.markdown import models_markdown, usage_markdown, verify_markdown
from provisioning.render.text import (
    LogWait,
    models_text,
    report_json,
    rotation_text,
    smoke_text,
    usage_text,
    verify_text,
)


def _stack(desired: DesiredState, file_: Path, stack_outputs: Path | None) -> StackOutputs:
    return load_stack_outputs(stack_outputs) if stack_outputs is not None else from_file(desired, str(file_))


@cli.command()
@file_option
@stack_outputs_option
@markdown_output_option
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
    desired = load_file(file_)
    stack = _stack(desired, file_, stack_outputs)
    settings, client = _connect(context, desired, es_url, cluster)
    try:
        report = evaluate(gather(desired, stack, client, settings))
    finally:
        client.close()
    if output == "json":
        report_json(report.to_dict(), sys.stdout)
    elif output == "markdown":
        sys.stdout.write(verify_markdown(report, _secrets(context.environ)))
    else:
        verify_text(report, sys.stdout)
    return report.exit_code


@cli.command()
@file_option
@stack_outputs_option
@output_option
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
    desired = load_file(file_)
    if not desired.inference_endpoints:
        raise ConfigError(f"{file_}: no inference endpoints to smoke-test")
    stack = _stack(desired, file_, stack_outputs) if check_logs else None
    _, client = _connect(context, desired, es_url, cluster)
    canary, started = new_canary(), datetime.now(UTC)
    try:
        results = run_smoke(client, desired.inference_endpoints, canary)
    finally:
        client.close()
    checks: tuple[LogCheck, ...] = ()
    if stack is not None:
        group = stack.log_group_name or (aws.logging_configuration(stack.region) or {}).get("cloudWatchConfig", {}).get(
            "logGroupName"
        )
        if not group:
            raise ConfigError("--check-logs: no invocation log group known (pass --stack-outputs)")
        region = stack.region
        called = [r.model for r in results if r.verdict is Verdict.PASS]
        checks = check_invocation_logs(
            lambda start, end: aws.log_events(group, region, start, end, limit=MAX_LOG_EVENTS),
            called,
            canary,
            started,
            timeout=log_timeout,
            poll_interval=context.poll_interval,
            on_wait=LogWait(sys.stderr),
        )
    report = SmokeReport(canary, results, checks)
    if output == "json":
        report_json(report.to_dict(), sys.stdout)
    else:
        smoke_text(report, sys.stdout)
    return report.exit_code


@cli.command("rotate-credentials")
@file_option
@stack_outputs_option
@output_option
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
    desired = load_file(file_)
    arn = _stack(desired, file_, stack_outputs).credentials_secret_arn
    if arn is None:
        raise ConfigError(
            "rotate-credentials: no credentials secret known (pass --stack-outputs or set bedrock.credentials)"
        )
    credentials = from_secret(arn, context.read_secret)
    _, client = _connect(context, desired, es_url, cluster)
    try:
        report = rotate(client, credentials)
    finally:
        client.close()
    if output == "json":
        report_json(report.to_dict(), sys.stdout)
    else:
        rotation_text(report, sys.stdout)
    return report.exit_code


@cli.command()
@click.option("-f", "--file", "file_", type=click.Path(path_type=Path), help="For prices and models.")
@stack_outputs_option
@click.option("--region", help="Bedrock region (default: the stack's, else the file's, else us-east-1).")
@click.option("--since", default="7d", show_default=True, help="Start: a duration before now (7d, 24h) or an ISO date.")
@click.option("--until", default="now", show_default=True, help="End: now, a duration before now, or an ISO date.")
@click.option(
    "-o", "--output", type=click.Choice(["text", "json", "csv", "markdown"]), default="text", show_default=True
)
def usage(
    file_: Path | None, stack_outputs: Path | None, region: str | None, since: str, until: str, output: str
) -> int:
    """Invocations, errors, throttles, tokens and estimated cost per model per day, from CloudWatch.

    Example: managed-llm usage --stack-outputs stack-outputs.json --since 30d --output csv
    """
    desired = load_file(file_) if file_ is not None else None
    stack = (
        load_stack_outputs(stack_outputs)
        if stack_outputs is not None
        else (from_file(desired, str(file_)) if desired is not None and desired.bedrock is not None else None)
    )
    region = region or (stack.region if stack is not None else load_catalog().regions.default)
    start, end = window(since, until, datetime.now(UTC))
    if stack is not None and stack.models:
        models = list(stack.models)
    else:
        declared = {e.model for e in desired.inference_endpoints} if desired is not None else set()
        models = sorted(declared | set(aws.bedrock_metric_models(region)))
    prices = {**load_catalog().default_prices(), **(desired.prices if desired is not None else {})}
    catalog_prices = load_catalog().prices
    source = f"prices as of {catalog_prices.as_of} ({catalog_prices.source})" + (
        f", overridden by {file_}" if desired is not None and desired.prices else ""
    )
    results = aws.metric_data(region, build_queries(models), start, end) if models else {}
    report = aggregate(models, results, start, end, prices, region, source)
    if output == "json":
        report_json(report.to_dict(), sys.stdout)
    elif output == "csv":
        sys.stdout.write(report.to_csv())
    elif output == "markdown":
        sys.stdout.write(usage_markdown(report))
    else:
        usage_text(report, sys.stdout)
    return EXIT_OK


@cli.command()
@click.option("-f", "--file", "file_", type=click.Path(path_type=Path), help="Also check the models its endpoints use.")
@stack_outputs_option
@click.option("--region", help="Bedrock region (default: the stack's, else the file's, else us-east-1).")
@markdown_output_option
@pass_context
def models(context: CliContext, file_: Path | None, stack_outputs: Path | None, region: str | None, output: str) -> int:
    """Bedrock's models as your account sees them, joined with the shipped catalog. Exit 0, or 1 when a model
    the file or the stack uses is past EOL or not accessible.

    Reads ListFoundationModels (lifecycle), ListInferenceProfiles (us. profiles) and
    GetFoundationModelAvailability (access); where Bedrock and the catalog disagree, both are shown.

    Example: managed-llm models -f managed-llm.yaml --stack-outputs stack-outputs.json --output markdown
    """
    catalog = load_catalog()
    desired = load_file(file_) if file_ is not None else None
    stack = load_stack_outputs(stack_outputs) if stack_outputs is not None else None
    file_region = desired.bedrock.region if desired is not None and desired.bedrock is not None else None
    region = region or (stack.region if stack is not None else None) or file_region or catalog.regions.default
    if region not in catalog.regions.allowed:
        raise ConfigError(f"region {region!r}: managed-llm works in {', '.join(catalog.regions.allowed)} only")
    used: dict[str, list[str]] = {}
    for model in sorted({e.model for e in desired.inference_endpoints} if desired is not None else set()):
        used.setdefault(model, []).append("file")
    for model in sorted(set(stack.models or ()) if stack is not None else set()):
        used.setdefault(model, []).append("stack")
    report = read_models(region, catalog, used, context.today())
    if output == "json":
        report_json(report.to_dict(), sys.stdout)
    elif output == "markdown":
        sys.stdout.write(models_markdown(report))
    else:
        models_text(report, sys.stdout)
    return report.exit_code
