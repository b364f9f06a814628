"""Offline IAM lint with parliament, with its known false positive on Bedrock ARNs handled explicitly.

Parliament reports RESOURCE_MISMATCH for any correct Bedrock invoke statement, for two reasons:
1. it treats every resource type IAM lists for `bedrock:InvokeModel` (foundation-model, inference-profile,
   provisioned-model, ...) as *each* required, where IAM's rule is "one of";
2. its strict ARN check refuses a `:` inside the resource id, and Bedrock model ids end in `-v1:0`.
We drop that finding only when every resource of the statement matches (glob match, resource type
included) one of the formats parliament itself lists for each action; a statement with a genuinely wrong
resource (an S3 ARN, another Bedrock resource type) still fails. Every other finding is kept.
"""

from __future__ import annotations

import json
from typing import Any

from parliament import analyze_policy_string, is_arn_match
from parliament.statement import get_arn_format, get_privilege_info


def _statement_resources(policy: dict[str, Any], line: int) -> list[str]:
    """Resources of the statement parliament located at `line` (documents are dumped one statement per line)."""
    statement = policy["Statement"][line - 2]
    resources = statement["Resource"]
    return [resources] if isinstance(resources, str) else list(resources)


def _arn_formats(action: str) -> list[str]:
    """Every ARN format IAM's metadata (as shipped with parliament) lists for `action`."""
    service, name = action.split(":", 1)
    info = get_privilege_info(service, name)
    # The same subset parliament checks: resource types marked required ("*").
    types = [t["resource_type"] for t in info["resource_types"] if "*" in t["resource_type"]]
    return [get_arn_format(t, info["service_resources"]) for t in types]


def _is_bedrock_one_of_false_positive(finding: Any, policy: dict[str, Any]) -> bool:
    if finding.issue != "RESOURCE_MISMATCH":
        return False
    actions = {d["action"] for d in finding.detail}
    if not all(a.startswith("bedrock:") for a in actions):
        return False
    resources = _statement_resources(policy, finding.location["line"])
    return all(
        any(is_arn_match("", fmt, resource) for fmt in _arn_formats(action))
        for action in actions
        for resource in resources
    )


def dump_one_statement_per_line(policy: dict[str, Any]) -> str:
    statements = ",\n".join(json.dumps(s) for s in policy["Statement"])
    return f'{{"Version": "{policy["Version"]}", "Statement": [\n{statements}\n]}}'


def lint(policy: dict[str, Any]) -> list[tuple[str, Any]]:
    """Parliament's findings for an identity policy, minus the documented Bedrock false positive."""
    analyzed = analyze_policy_string(dump_one_statement_per_line(policy))
    return [(f.issue, f.detail) for f in analyzed.findings if not _is_bedrock_one_of_false_positive(f, policy)]
