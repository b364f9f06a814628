"""emit's dispatch: the formats each command offers are exactly those its report renders in."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from provisioning.cli.app import cli
from provisioning.render import FORMATS
from provisioning.render.dispatch import RENDERERS

HEAVY = ("boto3", "botocore", "elasticsearch", "elastic_transport", "rich")


def test_formats_table_matches_the_renderers() -> None:
    assert {t.__name__: tuple(f) for t, f in RENDERERS.items()} == FORMATS


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_advertised_output_format_is_rendered(name: str) -> None:
    output = next((p for p in cli.commands[name].params if p.name == "output"), None)
    if output is None:
        pytest.skip(f"{name} has no --output")
    assert isinstance(output.type, click.Choice)
    offered = set(output.type.choices)
    assert any(offered == set(formats) for formats in FORMATS.values()), (name, offered)


def test_apply_refuses_markdown_it_cannot_render() -> None:
    result = CliRunner().invoke(cli, ["apply", "-f", "examples/managed-llm.yaml", "-o", "markdown"])
    assert result.exit_code == 1
    assert "'markdown' is not one of 'text', 'json'" in result.output


def test_help_imports_no_client_library_nor_rich() -> None:
    program = (
        "import sys\n"
        "from provisioning.cli.app import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60)
    loaded = set(done.stdout.splitlines()[-1].split())
    assert "provisioning.cli.commands.reconcile" in loaded, "the commands were registered"
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY) == []
