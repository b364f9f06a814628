"""`rotate-credentials`: push the stack's newest key to every owned Bedrock endpoint, then smoke-test each.

Runs after `pulumi up` has issued a new key (bump `credentialsGeneration`). Each endpoint is updated in
place through the inference `_update` API (both keys, nothing else), then called once. A failure is
reported per endpoint and never stops the others; pushing the same key again is harmless, so a re-run
converges. Only endpoints in the ownership ledger are touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from provisioning.credentials import BedrockCredentials
from provisioning.errors import EXIT_ERROR, EXIT_OK, ManagedLlmError
from provisioning.kinds import inference_endpoints as endpoints
from provisioning.kinds.ownership import owned_endpoints
from provisioning.planner import ClusterState
from provisioning.smoke import Inference, Verdict, call_endpoint, new_canary


class KeyStatus(StrEnum):
    UPDATED = "updated"
    FAILED = "failed"


class CredentialWriter(Inference, Protocol):
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

    @property
    def exit_code(self) -> int:
        ok = all(r.key is KeyStatus.UPDATED and r.smoke is Verdict.PASS for r in self.results)
        return EXIT_OK if ok else EXIT_ERROR

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": 1,
            "credentials": self.source,
            "endpoints": [
                {
                    "id": r.endpoint_id,
                    "key": r.key.value,
                    "smoke": r.smoke.value if r.smoke else None,
                    "detail": r.detail,
                    "seconds": round(r.seconds, 3),
                }
                for r in self.results
            ],
            "exit_code": self.exit_code,
        }


def owned_bedrock_endpoints(state: ClusterState) -> list[tuple[str, str, str]]:
    """(id, task type, model) of every endpoint in the ledger that uses the amazonbedrock service."""
    owned = owned_endpoints(state.role_mappings)
    found = []
    for body in state.endpoints:
        spec = endpoints.normalize(body)
        if spec.id in owned and spec.service == endpoints.SERVICE:
            found.append((spec.id, spec.task_type, str(spec.get("service_settings.model"))))
    return sorted(found)


def rotate(client: CredentialWriter, credentials: BedrockCredentials) -> RotationReport:
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
    return RotationReport(credentials.source, tuple(results))
