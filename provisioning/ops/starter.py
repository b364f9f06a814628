"""`init`: a starter file (General Purpose LLM v1 + v2 presets, an admin mapping) and the stack config lines.

Each preset line says which current model it resolves to and what Elastic means by the same name today.

The text is rendered from the catalog and validated with the same loader as any file before it is
written, so `init` never produces a file that `validate` refuses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from catalog import lifecycle
from catalog.models import Preset, load_catalog
from provisioning.adapters.file_loader import parse_document
from provisioning.core.errors import ConfigError
from provisioning.core.model import DesiredState

SCHEMA_FILE = "managed-llm.schema.json"


@dataclass(frozen=True)
class Starter:
    text: str
    desired: DesiredState
    pulumi_config: tuple[str, ...]


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value)


def starter(admin_group: str, region: str, user_realm: str | None, file_name: str) -> Starter:
    catalog = load_catalog()
    today = lifecycle.today()

    def resolves(preset: Preset) -> str:
        """`-> <model> (<name>); Elastic's <preset> was <model>, past EOL <date>`, computed for today."""
        entry = catalog.model(preset.model)
        named = f"{preset.model} ({entry.name})" if entry is not None else preset.model
        elastic = lifecycle.elastic_meaning(preset, catalog, today)
        return f"-> {named}" + (f"; {elastic}" if elastic else "")

    endpoints = "\n".join(
        f"  - id: {preset.id}\n    preset: {preset.id}   # {resolves(preset)}"
        for preset in sorted(catalog.presets, key=lambda p: p.id, reverse=True)
    )
    users = (
        "\n  - name: llm-users\n    roles: [inference_user]\n"
        f"    rules: {{field: {{realm.name: {_quoted(user_realm)}}}}}"
        if user_realm
        else ""
    )
    text = f"""# yaml-language-server: $schema=./{SCHEMA_FILE}
# managed-llm: this cluster's managed LLM. Check with `managed-llm plan -f {file_name}`, converge with apply.
bedrock:
  region: {region}
  # The stack output credentialsSecretArn (or set BEDROCK_ACCESS_KEY_ID / BEDROCK_SECRET_ACCESS_KEY):
  # credentials: {{secret_arn: arn:aws:secretsmanager:{region}:123456789012:secret:managed-llm-credentials-AbCdEf}}
inference_endpoints:
{endpoints}
role_mappings:
  - name: llm-admins
    roles: [inference_admin]
    rules: {{field: {{groups: {_quoted(admin_group)}}}}}{users}
"""
    desired = parse_document(text, file_name)
    models = catalog.stack_default_models()
    config = (
        f"pulumi config set managed-llm:region {region}",
        *(f"pulumi config set --path 'managed-llm:models[{i}]' {model}" for i, model in enumerate(models)),
    )
    return Starter(text, desired, config)


def write_starter(path: Path, starter_file: Starter, schema_text: str, *, force: bool) -> list[Path]:
    """Write the file and its JSON Schema beside it; refuse to overwrite either without `force`."""
    schema_path = path.parent / SCHEMA_FILE
    existing = [p for p in (path, schema_path) if p.exists()]
    if existing and not force:
        raise ConfigError(f"{existing[0]} exists; pass --force to overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(starter_file.text, encoding="utf-8")
    schema_path.write_text(schema_text, encoding="utf-8")
    return [path, schema_path]
