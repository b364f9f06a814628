"""The commands that write or print files: `init`, `kibana-config`, `schema`, and `sandbox`.

What they work with is imported inside their bodies, so that `--help` loads none of it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from provisioning.cli.app import cli, file_option
from provisioning.core.errors import EXIT_OK, ConfigError

DEFAULT_EXAMPLE = Path("examples/managed-llm.yaml")


def _catalog_regions() -> tuple[str, ...]:
    from catalog.models import load_catalog

    return load_catalog().regions.allowed


class RegionChoice(click.Choice[str]):
    """The catalog's US regions, read when first asked for: loading the catalog (pydantic) at import time
    would slow every command's start, `--help` included."""

    def __init__(self) -> None:
        super().__init__((), case_sensitive=True)

    @property
    def choices(self) -> tuple[str, ...]:
        return _catalog_regions()

    @choices.setter
    def choices(self, _value: Any) -> None:
        pass


class CatalogDefault(click.Option):
    """An option whose default is computed when needed, and shown in --help as its value, not "(dynamic)"."""

    def get_default(self, ctx: click.Context, call: bool = True) -> Any:
        return super().get_default(ctx, call=True)


def _default_region() -> str:
    from catalog.models import load_catalog

    return load_catalog().regions.default


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
@click.option("--region", cls=CatalogDefault, type=RegionChoice(), default=_default_region, show_default=True)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def init(file_: Path, admin_group: str, user_realm: str | None, region: str, force: bool) -> int:
    """Write a starter file (General Purpose LLM v1 and v2, an admin mapping) and print the stack config.

    Also writes managed-llm.schema.json beside it for editors. Refuses to overwrite without --force.

    Example: managed-llm init --admin-group "cn=llm-admins,ou=groups,dc=example,dc=com"
    """
    from provisioning.core.model import DesiredState
    from provisioning.ops.starter import starter, write_starter

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
    from catalog.models import load_catalog
    from provisioning.adapters.file_loader import load_file
    from provisioning.core.kinds.kibana_connectors import desired_all as desired_connectors
    from provisioning.core.kinds.kibana_connectors import preconfigured_block, without_connector

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
    from provisioning.core.model import DesiredState

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
    from provisioning.adapters.file_loader import load_file
    from provisioning.sandbox.run import run_sandbox

    return run_sandbox(load_file(file_), sys.stdout)
