"""Which Elasticsearch version the file needs, from the catalog's feature table (data, not logic).

The 9.x client speaks only to 9.x clusters, and `chat_completion` for the `amazonbedrock` service exists
from 9.4.0. `refusals` says, before any write, what the cluster cannot do and which version would.
"""

from __future__ import annotations

import re

from catalog.models import Catalog, load_catalog
from provisioning.core.model import DesiredState

Version = tuple[int, int, int]


def parse_version(text: str) -> Version | None:
    """`9.4.0`, `9.4.0-SNAPSHOT` -> (9, 4, 0); None if it is not a version."""
    match = re.match(r"^(\d+)\.(\d+)\.(\d+)", text.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def at_least(version: str | None, since: str | None) -> bool:
    """Whether a cluster version is known and not older than `since` (False when either is unknown)."""
    have = parse_version(version) if version is not None else None
    need = parse_version(since) if since is not None else None
    return have is not None and need is not None and have >= need


def accepts_parameter(version: str | None, api: str, name: str, catalog: Catalog | None = None) -> bool:
    """Whether a cluster of `version` accepts request parameter `name` on `api` (catalog
    `elasticsearch.parameters`). Unknown version or unlisted parameter: False, so the parameter is not sent."""
    since = (catalog or load_catalog()).elasticsearch.parameter_since(api, name)
    return at_least(version, since)


def refusals(desired: DesiredState, version: str, catalog: Catalog) -> tuple[str, ...]:
    """One line per feature of the file the cluster's version lacks (empty when everything is supported)."""
    parsed = parse_version(version)
    if parsed is None:
        return (f"cannot read the cluster version {version!r}",)
    major = catalog.elasticsearch.client_major
    if parsed[0] != major:
        return (
            f"the cluster runs Elasticsearch {version}; managed-llm needs {major}.x (its client speaks only {major}.x)",
        )
    problems = []
    for endpoint in desired.inference_endpoints:
        for feature in catalog.elasticsearch.features:
            needed = parse_version(feature.since)
            if (
                feature.service == "amazonbedrock"
                and feature.task_type == endpoint.task_type
                and needed
                and parsed < needed
            ):
                problems.append(
                    f"inference endpoint {endpoint.id}: task_type {endpoint.task_type} for the amazonbedrock service "
                    f"needs Elasticsearch {feature.since} or later; the cluster runs {version}"
                )
    return tuple(problems)
