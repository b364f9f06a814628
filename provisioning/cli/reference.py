"""The command reference (docs/commands.md), generated from the click commands so it is written once.

`python -m provisioning.cli.reference > docs/commands.md` regenerates it; tests/test_docs.py fails when the
committed file differs from what the commands say today. Each command gets its usage line, the first
paragraph of its help, its exit codes (the docstring's `Exit ...` sentence) and a table of its options with
their choices, defaults, ranges and environment variables, exactly as `--help` reports them.
"""

from __future__ import annotations

import inspect
import re

import click

from provisioning.cli.app import cli

# Every command exits 1 on an error (provisioning/cli/app.py); a docstring names other codes in an `Exit` sentence.
DEFAULT_EXIT_CODES = "0 on success, 1 on error."
_EXIT_SENTENCE = re.compile(r"(?:^|(?<=\.\s))Exit (.+?\.)(?=\s|$)")


def _cell(text: str) -> str:
    """One markdown table cell: a single line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _paragraphs(help_text: str) -> list[str]:
    return [" ".join(p.split()) for p in inspect.cleandoc(help_text).split("\n\n") if p.strip()]


def exit_codes(help_text: str) -> str:
    """The docstring's `Exit ...` sentence(s), or the default every command shares."""
    found = [m.group(1) for p in _paragraphs(help_text) for m in _EXIT_SENTENCE.finditer(p)]
    return " ".join(found) if found else DEFAULT_EXIT_CODES


def summary(help_text: str) -> str:
    """The help's first paragraph without its exit-code sentence (shown on a line of its own)."""
    first = _paragraphs(help_text)[0] if help_text.strip() else ""
    return _EXIT_SENTENCE.sub("", first).strip()


def examples(help_text: str) -> list[str]:
    return [p.removeprefix("Example:").strip() for p in _paragraphs(help_text) if p.startswith("Example:")]


def details(help_text: str) -> list[str]:
    """The paragraphs between the first and the examples."""
    return [p for p in _paragraphs(help_text)[1:] if not p.startswith("Example:")]


def _option_rows(command: click.Command, ctx: click.Context) -> list[str]:
    rows = []
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or param.hidden or "--help" in param.opts:
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        extra = param.get_help_extra(ctx)
        notes = [f"default: {extra['default']}"] if "default" in extra else []
        notes += [extra[key] for key in ("range", "required") if key in extra]
        envvars = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or ())
        notes += [f"env: `{name}`" for name in envvars]
        rows.append(f"| `{_cell(record[0])}` | {_cell(param.help or '')} | {_cell('; '.join(notes))} |")
    return rows


def _command_section(name: str, command: click.Command, parent: click.Context) -> list[str]:
    ctx = click.Context(command, info_name=name, parent=parent, **command.context_settings)
    help_text = command.help or ""
    lines = [f"## `{ctx.command_path}`", ""]
    lines += ["```text", f"Usage: {ctx.command_path} {' '.join(command.collect_usage_pieces(ctx))}", "```", ""]
    lines += [summary(help_text), "", *[line for p in details(help_text) for line in (p, "")]]
    lines += [f"Exit codes: {exit_codes(help_text)}", ""]
    rows = _option_rows(command, ctx)
    if rows:
        lines += ["| option | meaning | default, range, environment |", "| --- | --- | --- |", *rows, ""]
    lines += [line for example in examples(help_text) for line in ("```bash", example, "```", "")]
    return lines


def render_reference(group: click.Group = cli) -> str:
    """docs/commands.md: the group's options, then each command in alphabetical order."""
    ctx = click.Context(group, info_name="managed-llm", **group.context_settings)
    lines = [
        "# Command reference",
        "",
        "<!-- Generated from the click commands: do not edit. Regenerate with",
        "     python -m provisioning.cli.reference > docs/commands.md -->",
        "",
        summary(group.help or ""),
        "",
        "```text",
        f"Usage: managed-llm {' '.join(group.collect_usage_pieces(ctx))}",
        "```",
        "",
        "| option | meaning | default, range, environment |",
        "| --- | --- | --- |",
        *_option_rows(group, ctx),
        "",
        "Every command takes `-h`/`--help`. Errors are one line on stderr (`error: ...`); a usage error exits 1.",
        "",
    ]
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            lines += _command_section(name, command, ctx)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    click.echo(render_reference(), nl=False)
