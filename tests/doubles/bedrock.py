"""Bedrock's model-catalog reads on loopback, for the APIs moto does not have.

moto 5.2.5's bedrock backend (moto/bedrock/responses.py) serves customization jobs, custom models, tags and
the invocation logging configuration only: not ListFoundationModels, ListInferenceProfiles nor
GetFoundationModelAvailability. This server answers those three with canned bodies in botocore's wire shapes
(rest-json; botocore/data/bedrock/2023-04-20/service-2.json: `FoundationModelSummary`,
`InferenceProfileSummary`, `GetFoundationModelAvailabilityResponse`; timestamps `iso8601`), and errors the way
rest-json services send them (status code, `x-amzn-ErrorType` header, `{"message": ...}` body), which is what
botocore's RestJSONParser reads. tests/provisioning/cli/test_models.py checks every canned body against the
service model with botocore's Stubber. Point boto3 at it with `AWS_ENDPOINT_URL_BEDROCK`.

The lifecycle facts mirror AWS's "Model lifecycle (Legacy)" page
(https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html) as the catalog ships them; tests
change them to disagree.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from provisioning.sandbox import Request, Response, StandinServer

ACCOUNT = "123456789012"
US_ROUTES = ("us-east-1", "us-east-2", "us-west-2")
OPERATIONS = ("ListFoundationModels", "ListInferenceProfiles", "GetFoundationModelAvailability")


def summary(
    model_id: str,
    status: str = "ACTIVE",
    *,
    legacy: str | None = None,
    extended: str | None = None,
    eol: str | None = None,
    region: str = "us-east-1",
    output: str = "TEXT",
) -> dict[str, Any]:
    """A FoundationModelSummary as Bedrock sends it (modelLifecycle with the optional timestamps it knows)."""
    lifecycle: dict[str, Any] = {"status": status}
    for key, day in (("legacyTime", legacy), ("publicExtendedAccessTime", extended), ("endOfLifeTime", eol)):
        if day is not None:
            lifecycle[key] = f"{day}T00:00:00Z"
    vendor = model_id.split(".")[0]
    return {
        "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model_id}",
        "modelId": model_id,
        "modelName": model_id.split(".", 1)[1],
        "providerName": {"anthropic": "Anthropic", "amazon": "Amazon"}.get(vendor, vendor),
        "inputModalities": ["TEXT"],
        "outputModalities": [output],
        "responseStreamingSupported": output == "TEXT",
        "customizationsSupported": [],
        "inferenceTypesSupported": ["INFERENCE_PROFILE"] if vendor == "anthropic" else ["ON_DEMAND"],
        "modelLifecycle": lifecycle,
    }


def profile(model_id: str, routes: tuple[str, ...] = US_ROUTES, region: str = "us-east-1") -> dict[str, Any]:
    """A SYSTEM_DEFINED InferenceProfileSummary: `us.<model>` routing to the model in each US region."""
    return {
        "inferenceProfileName": f"US {model_id}",
        "description": f"Routes requests to {model_id} in US regions",
        "createdAt": "2025-10-01T00:00:00Z",
        "updatedAt": "2025-10-01T00:00:00Z",
        "inferenceProfileArn": f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/us.{model_id}",
        "models": [{"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{model_id}"} for r in routes],
        "inferenceProfileId": f"us.{model_id}",
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }


def availability(
    model_id: str,
    *,
    authorized: bool = True,
    entitled: bool = True,
    in_region: bool = True,
    agreement: str = "AVAILABLE",
) -> dict[str, Any]:
    return {
        "modelId": model_id,
        "agreementAvailability": {"status": agreement},
        "authorizationStatus": "AUTHORIZED" if authorized else "NOT_AUTHORIZED",
        "entitlementAvailability": "AVAILABLE" if entitled else "NOT_AVAILABLE",
        "regionAvailability": "AVAILABLE" if in_region else "NOT_AVAILABLE",
    }


# The catalog's models as us-east-1 lists them on 2026-12-01 (Claude 3.7 Sonnet is retired: not listed).
ANTHROPIC = (
    summary(
        "anthropic.claude-sonnet-4-20250514-v1:0",
        "LEGACY",
        legacy="2026-04-14",
        extended="2026-07-14",
        eol="2026-10-14",
    ),
    summary(
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "LEGACY",
        legacy="2026-10-08",
        extended="2027-01-08",
        eol="2027-04-08",
    ),
    summary("anthropic.claude-sonnet-4-6"),
    summary("anthropic.claude-haiku-4-5-20251001-v1:0"),
    summary(
        "anthropic.claude-opus-4-1-20250805-v1:0",
        "LEGACY",
        legacy="2026-07-08",
        extended="2026-10-08",
        eol="2027-01-08",
    ),
    summary("anthropic.claude-opus-4-5-20251101-v1:0"),
    summary("anthropic.claude-opus-4-6-v1"),
)
TITAN = summary("amazon.titan-embed-text-v2:0", output="EMBEDDING")


@dataclass
class BedrockDouble:
    """The three reads, answered from editable state; `fail` makes one operation answer an AWS error."""

    models: list[dict[str, Any]] = field(default_factory=lambda: copy.deepcopy([*ANTHROPIC, TITAN]))
    profiles: list[dict[str, Any]] = field(default_factory=list)
    access: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, tuple[int, str]] = field(default_factory=dict)
    page_size: int = 3
    # Error messages repeat the request's Authorization header, as a hostile or careless server might.
    echo: bool = False
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for model in self.models:
            model_id = model["modelId"]
            if model_id.startswith("anthropic."):
                self.profiles.append(profile(model_id))
            self.access.setdefault(model_id, availability(model_id))

    def model(self, model_id: str) -> dict[str, Any]:
        return next(m for m in self.models if m["modelId"] == model_id)

    def fail(self, operation: str, code: str, status: int) -> None:
        self.failures[operation] = (status, code)

    def handle(self, request: Request) -> Response:
        if request.method != "GET":
            return self._error(request, 400, "ValidationException", "only the model-catalog reads are served")
        path = unquote(request.path)
        if path == "/foundation-models":
            return self._answer(request, "ListFoundationModels", lambda: {"modelSummaries": self.models})
        if path == "/inference-profiles":
            return self._answer(request, "ListInferenceProfiles", lambda: self._profiles(request))
        if path.startswith("/foundation-model-availability/"):
            model_id = path.removeprefix("/foundation-model-availability/")
            if model_id not in self.access:
                self.calls.append("GetFoundationModelAvailability")
                return self._error(request, 404, "ResourceNotFoundException", f"model {model_id} not found")
            return self._answer(request, "GetFoundationModelAvailability", lambda: self.access[model_id])
        return self._error(request, 404, "UnknownOperationException", "not served by this double")

    def _profiles(self, request: Request) -> dict[str, Any]:
        # ListInferenceProfiles pages with maxResults/nextToken; `type` filters SYSTEM_DEFINED/APPLICATION.
        wanted = [p for p in self.profiles if p["type"] == request.query.get("type", p["type"])]
        start = int(request.query.get("nextToken", "0"))
        size = int(request.query.get("maxResults", str(self.page_size)))
        page: dict[str, Any] = {"inferenceProfileSummaries": wanted[start : start + size]}
        if start + size < len(wanted):
            page["nextToken"] = str(start + size)
        return page

    def _answer(self, request: Request, operation: str, body: Any) -> Response:
        self.calls.append(operation)
        if operation in self.failures:
            status, code = self.failures[operation]
            return self._error(request, status, code, f"{operation} refused")
        return Response(200, body())

    def _error(self, request: Request, status: int, code: str, message: str) -> Response:
        if self.echo:
            message += f" for {request.headers.get('authorization')} {request.headers.get('x-amz-security-token')}"
        return Response(status, {"message": message}, headers={"x-amzn-ErrorType": code})


@contextmanager
def bedrock_server(double: BedrockDouble) -> Iterator[str]:
    """The double on http://127.0.0.1:<port> (no Elasticsearch product header: this is not Elasticsearch)."""
    with StandinServer(double, product_header=False) as server:
        yield server.url
