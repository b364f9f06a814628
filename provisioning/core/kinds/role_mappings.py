"""Role mappings: canonical Specs, ownership by `metadata.managed_by`, and request bodies.

GET always returns `enabled` and `metadata`, and prints a one-value field rule as a scalar; roles are a
set to Elasticsearch. Operator-defined mappings (from file-based settings) are listed with the
`-read-only-operator-mapping` suffix and `metadata._read_only` and are never touched (elastic/elasticsearch
x-pack/plugin/security/.../rest/action/rolemapping/RestGetRoleMappingsAction.java).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provisioning.core.model import MANAGED_BY_KEY, MANAGED_BY_VALUE, OPERATOR_MAPPING_SUFFIX, RoleMapping

KIND = "role_mapping"


@dataclass(frozen=True)
class RoleMappingSpec:
    name: str
    enabled: bool
    roles: tuple[str, ...]
    role_templates: str | None
    rules: str
    metadata: str

    def field_map(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "roles": list(self.roles),
            "role_templates": self.role_templates,
            "rules": self.rules,
            "metadata": self.metadata,
        }


def canonical_rule(rule: Any) -> Any:
    """The rule as Elasticsearch echoes it: a one-element value list becomes the value itself."""
    if isinstance(rule, Mapping):
        out: dict[str, Any] = {}
        for key, value in rule.items():
            if key == "field" and isinstance(value, Mapping):
                out[key] = {f: (v[0] if isinstance(v, list) and len(v) == 1 else v) for f, v in value.items()}
            elif isinstance(value, list):
                out[key] = [canonical_rule(child) for child in value]
            else:
                out[key] = canonical_rule(value)
        return out
    return rule


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def is_owned(body: Mapping[str, Any]) -> bool:
    """Whether managed-llm wrote this role mapping (its metadata says so): a managed mapping or the ledger."""
    return (body.get("metadata") or {}).get(MANAGED_BY_KEY) == MANAGED_BY_VALUE


def is_read_only(name: str, body: Mapping[str, Any]) -> bool:
    return name.endswith(OPERATOR_MAPPING_SUFFIX) or bool((body.get("metadata") or {}).get("_read_only"))


def normalize(name: str, body: Mapping[str, Any]) -> RoleMappingSpec:
    templates = body.get("role_templates")
    return RoleMappingSpec(
        name=name,
        enabled=bool(body.get("enabled", True)),
        roles=tuple(sorted(body.get("roles") or [])),
        role_templates=_json(templates) if templates else None,
        rules=_json(canonical_rule(body.get("rules") or {})),
        metadata=_json(body.get("metadata") or {}),
    )


def desired(mapping: RoleMapping) -> RoleMappingSpec:
    metadata = {**mapping.metadata, MANAGED_BY_KEY: MANAGED_BY_VALUE}
    return RoleMappingSpec(
        name=mapping.name,
        enabled=mapping.enabled,
        roles=tuple(sorted(mapping.roles)),
        role_templates=None,
        rules=_json(canonical_rule(mapping.rules)),
        metadata=_json(metadata),
    )


def put_body(spec: RoleMappingSpec) -> dict[str, Any]:
    """`enabled` is always sent: the REST parser requires it (ExpressionRoleMapping.java in elastic/elasticsearch)."""
    return {
        "enabled": spec.enabled,
        "roles": list(spec.roles),
        "rules": json.loads(spec.rules),
        "metadata": json.loads(spec.metadata),
    }
