"""`rotate-credentials`: push the stack's newest key to every owned Bedrock endpoint, then smoke-test each.

Runs after `pulumi up` has issued a new key (bump `credentialsGeneration`). Each endpoint is updated in
place through the inference `_update` API (both keys, nothing else), then called once. A failure is
reported per endpoint and never stops the others; pushing the same key again is harmless, so a re-run
converges. Only endpoints in the ownership ledger are touched.

`_update` takes new Bedrock keys from 8.17.0 on (catalog `elasticsearch.parameters`, inference.update
`amazonbedrock.secret_settings`, with its sources), so every 9.x managed-llm supports can rotate in place.
A cluster reporting an older version is refused before any write rather than rotated by replacing its
endpoints: the 9.x client cannot talk to such a cluster anyway, and a delete + create would break, in
the meantime, every pipeline and semantic_text field using the endpoint, which is `apply`'s reviewed
decision (`--force-replace`), not a key rotation's. An unknown version (GET / needs `monitor`) goes
ahead: the client only speaks to 9.x, and the report says the version was not checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from catalog.models import Catalog, load_catalog
from provisioning.adapters.credentials import BedrockCredentials
from provisioning.core.errors import EXIT_ERROR, EXIT_OK, ManagedLlmError, PlanError
from provisioning.core.kinds import inference_endpoints as endpoints
from provisioning.core.kinds.ownership import owned_endpoints
from provisioning.core.planning import ClusterState
from provisioning.core.versions import at_least
from provisioning.ops.smoke import Inference, Verdict, call_endpoint, new_canary

# The catalog entry saying from which version `_update` takes new Bedrock keys.
UPDATE_KEYS = ("inference.update", "amazonbedrock.secret_settings")


class KeyStatus(StrEnum):
    UPDATED = "updated"
    FAILED = "failed"


class CredentialWriter(Inference, Protocol):
    def version(self) -> str | None: ...

    def read_all(self) -> ClusterState: ...

    def update_credentials(self, endpoint_id: str, task_type: str, credentials: BedrockCredentials) -> None: ...


@dataclass(frozen=True)
class RotationResult:
    endpoint_id: str
    key: KeyStatus
    smoke: Verdict | None
    detail: str
    seconds: float


@dataclass(frozen=True)
class RotationReport:
    source: str
    results: tuple[RotationResult, ...]
    # None when GET / was refused (no `monitor` privilege): the version check was skipped.
    cluster_version: str | None = None

    @property
    def exit_code(self) -> int:
        ok = all(r.key is KeyStatus.UPDATED and r.smoke is Verdict.PASS for r in self.results)
        return EXIT_OK if ok else EXIT_ERROR


def owned_bedrock_endpoints(state: ClusterState) -> list[tuple[str, str, str]]:
    """(id, task type, model) of every endpoint in the ledger that uses the amazonbedrock service."""
    owned = owned_endpoints(state.role_mappings)
    found = []
    for body in state.endpoints:
        spec = endpoints.normalize(body)
        if spec.id in owned and spec.service == endpoints.SERVICE:
            found.append((spec.id, spec.task_type, str(spec.get("service_settings.model"))))
    return sorted(found)


def refusal(version: str | None, catalog: Catalog) -> str | None:
    """Why a cluster of `version` cannot rotate in place, or None (unknown versions go ahead: see above)."""
    since = catalog.elasticsearch.parameter_since(*UPDATE_KEYS)
    if version is None or since is None or at_least(version, since):
        return None
    return (
        f"rotate-credentials: nothing changed: Elasticsearch {version} accepts new Bedrock keys through _update "
        f"only from {since}; upgrade the cluster (re-creating the endpoints would break whatever uses them)"
    )


def rotate(client: CredentialWriter, credentials: BedrockCredentials, catalog: Catalog | None = None) -> RotationReport:
    version = client.version()
    refused = refusal(version, catalog or load_catalog())
    if refused is not None:
        raise PlanError(refused)
    canary = new_canary()
    results = []
    for endpoint_id, task_type, model in owned_bedrock_endpoints(client.read_all()):
        began = time.monotonic()
        try:
            client.update_credentials(endpoint_id, task_type, credentials)
        except ManagedLlmError as exc:
            results.append(RotationResult(endpoint_id, KeyStatus.FAILED, None, exc.message, time.monotonic() - began))
            continue
        smoke = call_endpoint(client, endpoint_id, task_type, model, canary)
        results.append(
            RotationResult(endpoint_id, KeyStatus.UPDATED, smoke.verdict, smoke.detail, time.monotonic() - began)
        )
    return RotationReport(credentials.source, tuple(results), version)
