"""The `managed-llm` command line: thin click commands over the provisioning core.

Each command parses its options, calls the core once, renders the result and returns an exit code:
`validate` 0/1, `plan` 0 (no changes) / 2 (changes) / 1 (error), `apply` 0/1. Errors are one line on
stderr (`error: ...`), never a traceback; click's usage errors (exit 2 in click) are remapped to 1,
because 2 means "changes present" here.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from provisioning import __version__
from provisioning.adapters import redact
from provisioning.adapters.retry import DEFAULT_TIMEOUT
from provisioning.core.defaults import DEFAULT_SETTLE
from provisioning.core.errors import EXIT_ERROR, EXIT_OK, ManagedLlmError
from provisioning.render import formats

# Only types here: the clients (elasticsearch, urllib3), the settings and the model (pydantic) load when a
# command first needs them, so `--help` and `validate` start fast (benchmarks/startup.py).
FC = TypeVar("FC", bound=Callable[..., Any])

if TYPE_CHECKING:
    from provisioning.adapters.credentials import BedrockCredentials
    from provisioning.adapters.es_client import EsClient
    from provisioning.adapters.kibana_client import KibanaClient
    from provisioning.adapters.settings import ConnectionSettings
    from provisioning.core.deployments import Resolution
    from provisioning.core.model import DesiredState
    from provisioning.core.stack_outputs import StackOutputs


def _es_client(settings: ConnectionSettings) -> EsClient:
    from provisioning.adapters.es_client import EsClient

    return EsClient(settings)


def _kibana_client(settings: ConnectionSettings) -> KibanaClient:
    from provisioning.adapters.kibana_client import KibanaClient

    return KibanaClient(settings)


@dataclass
class CliContext:
    """What commands need from the outside world; tests inject their own (environment, client factory)."""

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    connect: Callable[[ConnectionSettings], EsClient] = _es_client
    read_secret: Callable[[str], str] | None = None
    # How often smoke --check-logs polls CloudWatch Logs.
    poll_interval: float = 5.0
    connect_kibana: Callable[[ConnectionSettings], KibanaClient] = _kibana_client
    # Set by --timeout and --allow-http on the commands that talk to a cluster.
    timeout: float = DEFAULT_TIMEOUT
    allow_http: bool = False
    # How long apply waits after writing its lock before checking it still holds it (provisioning/core/lock.py).
    lock_settle: float = DEFAULT_SETTLE
    # Lifecycle questions (past EOL?) are asked on this day; tests pin it.
    today: Callable[[], date] = field(default=lambda: datetime.now(UTC).date())

    @contextmanager
    def kibana(self, desired: DesiredState) -> Iterator[KibanaClient | None]:
        """Kibana's connector list is read only when the file has a kibana section; the client is closed after."""
        if desired.kibana is None:
            yield None
            return
        from provisioning.adapters.kibana_client import kibana_settings

        settings = kibana_settings(self.environ, timeout=self.timeout, allow_http=self.allow_http)
        with self.connect_kibana(_warn_about(settings, "KIBANA")) as client:
            yield client

    def settings(self, es_url: str | None, *, connections: int | None = None) -> ConnectionSettings:
        """Elasticsearch connection settings from this context's environment and transport options;
        `connections` sizes the client's connection pool (apply: one per parallel write, plus the lock's)."""
        from provisioning.adapters.settings import ConnectionSettings

        settings = ConnectionSettings.from_environment(
            self.environ, es_url, timeout=self.timeout, allow_http=self.allow_http
        )
        if connections is not None:
            settings = replace(settings, connections=connections)
        return _warn_about(settings, "ELASTICSEARCH")

    def resolve(
        self, desired: DesiredState, cluster: str | None, stack: StackOutputs | None, file_name: str
    ) -> tuple[DesiredState, Resolution | None]:
        """A cluster's deployment resolved against the stack outputs: the pipeline's pin from this environment
        when set, else the file's deployment (provisioning/core/deployments.py). Every command goes through here."""
        from provisioning.adapters import environment
        from provisioning.core.deployments import deployment_for, pin_variable, resolve
        from provisioning.core.errors import ConfigError

        pinned = environment.read(self.environ, pin_variable(cluster), ConfigError)
        return resolve(desired, deployment_for(desired, cluster, pinned, file_name), stack, file_name)

    def credentials(
        self, desired: DesiredState, deployment_secret: str | None = None
    ) -> Callable[[], BedrockCredentials]:
        from provisioning.adapters.credentials import resolve

        return lambda: resolve(desired, self.environ, self.read_secret, deployment_secret)


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


def output_option(report: str, help_text: str = "Output format.") -> Callable[[FC], FC]:
    """`-o/--output` offering exactly the formats `emit` renders `report` in (provisioning/render)."""
    choices = formats(report)
    return click.option(
        "-o", "--output", type=click.Choice(choices), default=choices[0], show_default=True, help=help_text
    )


MARKDOWN_HELP = "Output format (markdown: a pull-request comment)."


cluster_option = click.option("--cluster", help="Only this cluster of the file's clusters.")


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


def transport_options(command: FC) -> FC:
    """--timeout and --allow-http, on every command that talks to a cluster."""
    return timeout_option(allow_http_option(command))


stack_outputs_option = click.option(
    "--stack-outputs",
    type=click.Path(path_type=Path),
    help="JSON of `pulumi stack output --json` (default: the file's bedrock section); needed when the file "
    "names a deployment (its application inference profiles and secret come from there).",
)


def plan_options(report: str, help_text: str) -> Callable[[FC], FC]:
    """The options plan and apply share, in the order --help lists them; each renders its own formats."""

    def decorate(command: FC) -> FC:
        output = output_option(report, help_text)
        shared = (file_option, stack_outputs_option, output, es_url_option, prune_option, adopt_option, force_option)
        for option in reversed(shared):
            command = option(command)
        return transport_options(command)

    return decorate


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


# The commands register themselves on `cli` when imported (they import this module, so last).
from provisioning.cli.commands import files, ops, reconcile  # noqa: E402

__all__ = ["cli", "files", "main", "ops", "reconcile"]
