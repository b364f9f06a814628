"""The `managed-llm` command line: thin click commands over the provisioning core.

Each command parses its options, calls the core once, renders the result and returns an exit code:
`validate` 0/1, `plan` 0 (no changes) / 2 (changes) / 1 (error), `apply` 0/1. Errors are one line on
stderr (`error: ...`), never a traceback; click's usage errors (exit 2 in click) are remapped to 1,
because 2 means "changes present" here.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

import click

from provisioning import __version__, aws, redact
from provisioning.apply import DEFAULT_CONCURRENCY, ApplyReport, Stop, apply_plan
from provisioning.catalog import load_catalog
from provisioning.config import ConnectionSettings, load_file, load_stack_outputs
from provisioning.credentials import BedrockCredentials, describe_source, from_secret, resolve
from provisioning.errors import EXIT_ERROR, EXIT_OK, ConfigError, ManagedLlmError, PlanError
from provisioning.es_client import EsClient
from provisioning.evidence import gather
from provisioning.init import starter, write_starter
from provisioning.kibana_client import KibanaClient, kibana_settings
from provisioning.kinds.kibana_connectors import desired_all as desired_connectors
from provisioning.kinds.kibana_connectors import preconfigured_block, without_connector
from provisioning.lock import DEFAULT_SETTLE, DEFAULT_TTL, ApplyLock
from provisioning.model import DesiredState
from provisioning.models_report import read_models
from provisioning.plan import Plan, PlanOptions, worst_exit_code
from provisioning.planner import make_plan
from provisioning.render import (
    BarProgress,
    LogWait,
    apply_json,
    apply_text,
    models_text,
    plan_json,
    plan_text,
    progress_for,
    report_json,
    rotation_text,
    smoke_text,
    usage_text,
    verify_text,
)
from provisioning.render_markdown import cell, models_markdown, plan_markdown, usage_markdown, verify_markdown
from provisioning.retry import DEFAULT_TIMEOUT
from provisioning.rotate import rotate
from provisioning.sandbox import run_sandbox
from provisioning.smoke import MAX_LOG_EVENTS, LogCheck, SmokeReport, Verdict, new_canary, run_smoke
from provisioning.smoke import check_logs as check_invocation_logs
from provisioning.stack_outputs import StackOutputs, from_file
from provisioning.usage import aggregate, build_queries, window
from provisioning.verify import evaluate

DEFAULT_EXAMPLE = Path("examples/managed-llm.yaml")


@dataclass
class CliContext:
    """What commands need from the outside world; tests inject their own (environment, client factory)."""

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    connect: Callable[[ConnectionSettings], EsClient] = EsClient
    read_secret: Callable[[str], str] | None = None
    # How often smoke --check-logs polls CloudWatch Logs.
    poll_interval: float = 5.0
    connect_kibana: Callable[[ConnectionSettings], KibanaClient] = KibanaClient
    # Set by --timeout and --allow-http on the commands that talk to a cluster.
    timeout: float = DEFAULT_TIMEOUT
    allow_http: bool = False
    # How long apply waits after writing its lock before checking it still holds it (provisioning/lock.py).
    lock_settle: float = DEFAULT_SETTLE
    # Lifecycle questions (past EOL?) are asked on this day; tests pin it.
    today: Callable[[], date] = field(default=lambda: datetime.now(UTC).date())

    def kibana(self, desired: DesiredState) -> KibanaClient | None:
        """Kibana's connector list is read only when the file has a kibana section."""
        if desired.kibana is None:
            return None
        return self.connect_kibana(
            _warn_about(kibana_settings(self.environ, timeout=self.timeout, allow_http=self.allow_http), "KIBANA")
        )

    def settings(self, es_url: str | None) -> ConnectionSettings:
        """Elasticsearch connection settings from this context's environment and transport options."""
        settings = ConnectionSettings.from_environment(
            self.environ, es_url, timeout=self.timeout, allow_http=self.allow_http
        )
        return _warn_about(settings, "ELASTICSEARCH")

    def credentials(self, desired: DesiredState) -> Callable[[], BedrockCredentials]:
        return lambda: resolve(desired, self.environ, self.read_secret)


def _warn_about(settings: ConnectionSettings, prefix: str) -> ConnectionSettings:
    """One stderr line for a transport choice the user should see: clear text, an unused proxy."""
    if settings.cleartext:
        click.echo(
            f"warning: {prefix}_URL is plain http:// to {settings.display_url} (--allow-http): "
            "credentials cross the network in clear text",
            err=True,
        )
    if settings.proxy_ignored:
        click.echo(
            f"warning: a proxy is set in the environment (HTTPS_PROXY/HTTP_PROXY) but managed-llm does not use "
            f"proxies: connecting to {settings.display_url} directly",
            err=True,
        )
    return settings


class ManagedLlmGroup(click.Group):
    """Turns domain errors into one stderr line and command return values into exit codes, and redacts
    every line any command prints (stdout and stderr, every format) at the output boundary."""

    def main(self, *args: Any, **extra: Any) -> Any:
        # CliRunner and the console script both come through here, so tests see the redaction users get.
        obj = extra.get("obj")
        with redact.redacted_output(obj.environ if isinstance(obj, CliContext) else None):
            return super().main(*args, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
        except ManagedLlmError as exc:
            click.echo(f"error: {exc.message}", err=True)
            ctx.exit(EXIT_ERROR)
        except click.UsageError as exc:
            exc.show()
            ctx.exit(EXIT_ERROR)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(EXIT_ERROR)
        except Exception as exc:
            report_unexpected(exc, debug=bool(ctx.params.get("debug")))
            ctx.exit(EXIT_ERROR)
        if isinstance(result, int):
            ctx.exit(result)
        return result


def internal_error(exc: BaseException) -> str:
    """The one line an unexpected exception becomes (redacted when printed, like every line)."""
    detail = " ".join(str(exc).split())
    return f"internal error: {type(exc).__name__}{': ' + detail if detail else ''}; run with --debug for details"


def report_unexpected(exc: BaseException, *, debug: bool) -> None:
    """One `error:` line; with --debug, the traceback first (through the same redacting stderr)."""
    if debug:
        sys.stderr.write("".join(traceback.format_exception(exc)))
    click.echo(f"error: {internal_error(exc)}", err=True)


pass_context = click.make_pass_decorator(CliContext, ensure=True)

file_option = click.option(
    "-f",
    "--file",
    "file_",
    required=True,
    # Not click.Path(dir_okay=False): the loader refuses directories, FIFOs and devices in one `error:` line.
    type=click.Path(path_type=Path),
    help="The declarative file (a regular UTF-8 file of at most 1 MiB).",
)
output_option = click.option(
    "-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)
markdown_output_option = click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format (markdown: a pull-request comment).",
)
cluster_option = click.option("--cluster", help="Only this cluster of the file's clusters.")
MAX_PARALLEL_CLUSTERS = 4
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


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """Keep a transport option on the CliContext, so commands need no extra parameter for it."""

    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        setattr(ctx.ensure_object(CliContext), name, value)
        return value

    return callback


timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    envvar="MANAGED_LLM_TIMEOUT",
    expose_value=False,
    callback=_store("timeout"),
    help="Seconds each request to Elasticsearch or Kibana may take in all, retries and their waits included "
    "(429/502/503/504 and dropped connections are retried with jittered exponential backoff, honouring "
    "Retry-After; a billed inference call only on 429 or a refused connection); it does not bound the "
    "whole command. Also $MANAGED_LLM_TIMEOUT.",
)
allow_http_option = click.option(
    "--allow-http",
    is_flag=True,
    expose_value=False,
    callback=_store("allow_http"),
    help="Accept a plain http:// URL to a host other than loopback (credentials then cross the network "
    "in clear text; a warning is printed).",
)


def transport_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--timeout and --allow-http, on every command that talks to a cluster."""
    return timeout_option(allow_http_option(command))


def plan_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options plan and apply share, in the order --help lists them."""
    for option in reversed(
        (file_option, markdown_output_option, es_url_option, prune_option, adopt_option, force_option)
    ):
        command = option(command)
    return transport_options(command)


@click.group(cls=ManagedLlmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="managed-llm")
@click.option(
    "--debug", is_flag=True, help="On an unexpected error, also print the traceback (redacted like all output)."
)
def cli(debug: bool) -> None:
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
    context: CliContext, desired: DesiredState, es_url: str | None, options: PlanOptions
) -> tuple[EsClient, Plan]:
    """Connect, read the cluster (version, then once per kind, then Kibana's connectors), diff."""
    settings = context.settings(es_url)
    kibana = context.kibana(desired)
    client = context.connect(settings)
    try:
        return client, make_plan(desired, client, options, settings.display_url, kibana=kibana)
    except ManagedLlmError:
        client.close()
        raise


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


@cli.command()
@plan_options
@cluster_option
@pass_context
def plan(
    context: CliContext,
    file_: Path,
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
    desired = load_file(file_)
    options = PlanOptions(prune, adopt, force_replace)

    def work(target: Target, out: IO[str]) -> Outcome:
        client, the_plan = _read_and_plan(target.context, desired, es_url, options)
        client.close()
        if output == "json":
            if target.name is None:
                plan_json(the_plan, out)
        elif output == "markdown":
            title = "managed-llm plan" if target.name is None else f"managed-llm plan, cluster {target.name}"
            out.write(plan_markdown(the_plan, title, _secrets(target.context.environ)))
        else:
            plan_text(the_plan, out, credentials_source=describe_source(desired, target.context.environ))
        return Outcome(target.name, the_plan.exit_code, plan=the_plan)

    outcomes = _for_each(_targets(context, desired, cluster, es_url), work)
    return _finish(outcomes, output, _document, plan_codes=True)


@cli.command()
@plan_options
@cluster_option
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=DEFAULT_CONCURRENCY, show_default=True, help="Parallel writes."
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
    desired = load_file(file_)
    options = PlanOptions(prune, adopt, force_replace)
    many = len(desired.clusters) > 1 and cluster is None
    stop = Stop()

    def work(target: Target, out: IO[str]) -> Outcome:
        client, the_plan = _read_and_plan(target.context, desired, es_url, options)
        try:
            if output != "json":
                plan_text(the_plan, out, credentials_source=describe_source(desired, target.context.environ))
            progress = progress_for(sys.stderr, len(the_plan.writes), prefix=f"[{target.name}] " if many else "")
            try:
                report = apply_plan(
                    the_plan,
                    desired,
                    client,
                    target.context.credentials(desired),
                    concurrency=concurrency,
                    progress=progress,
                    kibana=target.context.kibana(desired),
                    lock=ApplyLock(client, ttl=lock_ttl, settle=context.lock_settle),
                    break_lock=break_lock,
                    stop=stop,
                )
            except PlanError:
                if output == "json" and target.name is None:
                    plan_json(the_plan, out)
                raise
            finally:
                if isinstance(progress, BarProgress):
                    progress.stop()
            for warning in client.warnings:
                click.echo(f"warning: {warning}", err=True)
        finally:
            client.close()
        if output == "json":
            if target.name is None:
                apply_json(the_plan, report, out)
        else:
            apply_text(report, out)
        return Outcome(target.name, report.exit_code, plan=the_plan, report=report)

    with _stopped_by_signals(stop):
        outcomes = _for_each(_targets(context, desired, cluster, es_url), work)
    code = _finish(outcomes, output, _document, plan_codes=False)
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


@cli.command()
@click.option(
    "-f",
    "--file",
    "file_",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("managed-llm.yaml"),
    show_default=True,
)
@click.option("--admin-group", required=True, help="Group (e.g. an LDAP DN) whose members get inference_admin.")
@click.option("--user-realm", help="Realm whose users get inference_user (optional).")
@click.option(
    "--region",
    type=click.Choice(list(load_catalog().regions.allowed)),
    default=load_catalog().regions.default,
    show_default=True,
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def init(file_: Path, admin_group: str, user_realm: str | None, region: str, force: bool) -> int:
    """Write a starter file (General Purpose LLM v1 and v2, an admin mapping) and print the stack config.

    Also writes managed-llm.schema.json beside it for editors. Refuses to overwrite without --force.

    Example: managed-llm init --admin-group "cn=llm-admins,ou=groups,dc=example,dc=com"
    """
    made = starter(admin_group, region, user_realm, file_.name)
    for path in write_starter(file_, made, json.dumps(DesiredState.model_json_schema(), indent=2) + "\n", force=force):
        click.echo(f"wrote {path}")
    click.echo("\nConfigure the AWS stack to match (in the directory holding Pulumi.yaml):")
    for line in made.pulumi_config:
        click.echo(line)
    return EXIT_OK


@cli.command("kibana-config")
@file_option
def kibana_config(file_: Path) -> int:
    """Print the kibana.yml block that shows the file's chat_completion endpoints in Kibana as AI connectors.

    Kibana's AI features use only chat_completion `.inference` connectors: the other endpoints get a
    comment line saying so. Kibana's connector API would create, rewrite or delete the inference endpoint itself, so the
    connectors are preconfigured in kibana.yml instead: they point at the endpoints managed-llm owns,
    hold no secrets, and cannot be changed or deleted from Kibana.

    Example: managed-llm kibana-config -f managed-llm.yaml >> kibana.yml
    """
    desired = load_file(file_)
    if desired.kibana is None:
        raise ConfigError(f"{file_}: no kibana section: nothing to configure")
    sys.stdout.write(preconfigured_block(desired_connectors(desired, load_catalog()), without_connector(desired)))
    return EXIT_OK


@cli.command()
def schema() -> int:
    """Print the JSON Schema of the file, for editors (yaml-language-server) and CI.

    Example: managed-llm schema > managed-llm.schema.json
    """
    click.echo(json.dumps(DesiredState.model_json_schema(), indent=2))
    return EXIT_OK


@cli.command()
@click.option("-f", "--file", "file_", type=click.Path(path_type=Path), default=DEFAULT_EXAMPLE, show_default=True)
def sandbox(file_: Path) -> int:
    """Try the whole flow with no cluster and no AWS account: plan, apply, plan again.

    Serves an in-memory stand-in of the Elasticsearch APIs on 127.0.0.1 (it is NOT Elasticsearch;
    nothing leaves this machine) and runs the real plan and apply against it.

    Example: managed-llm sandbox -f examples/managed-llm.yaml
    """
    return run_sandbox(load_file(file_), sys.stdout)


stack_outputs_option = click.option(
    "--stack-outputs",
    type=click.Path(path_type=Path),
    help="JSON of `pulumi stack output --json` (default: the file's bedrock section).",
)


def _stack(desired: DesiredState, file_: Path, stack_outputs: Path | None) -> StackOutputs:
    return load_stack_outputs(stack_outputs) if stack_outputs is not None else from_file(desired, str(file_))


def _connect(
    context: CliContext, desired: DesiredState, es_url: str | None, cluster: str | None
) -> tuple[ConnectionSettings, EsClient]:
    """The one cluster a command works on: the single-cluster form, or `--cluster NAME` of the file's clusters."""
    targets = _targets(context, desired, cluster, es_url)
    if len(targets) > 1:
        raise ConfigError(f"the file declares {len(targets)} clusters: choose one with --cluster NAME")
    settings = targets[0].context.settings(es_url)
    return settings, context.connect(settings)


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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: click's standalone mode with exit code 2 reserved for plan.

    Whatever escapes the commands ends as one redacted `error:` line and exit 1, never a traceback
    (unless --debug asks for it).
    """
    args = sys.argv[1:] if argv is None else argv
    with redact.redacted_output():
        try:
            code = cli.main(args=args, prog_name="managed-llm", standalone_mode=False)
        except click.ClickException as exc:
            exc.show()
            code = EXIT_ERROR
        except click.Abort:
            click.echo("aborted", err=True)
            code = EXIT_ERROR
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            code = EXIT_ERROR
        except Exception as exc:
            report_unexpected(exc, debug="--debug" in args)
            code = EXIT_ERROR
    sys.exit(code if isinstance(code, int) else EXIT_OK)
