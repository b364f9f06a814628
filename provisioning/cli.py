"""The `managed-llm` command line: thin click commands over the provisioning core."""

from __future__ import annotations

import click

from provisioning import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="managed-llm")
def cli() -> None:
    """Give an Elasticsearch cluster its own managed LLM on your AWS account (Amazon Bedrock, US regions)."""


def main() -> None:
    cli()
