"""Pulumi unit-test harness: a recording mock engine, no Pulumi CLI and no AWS.

`RecordingMocks` answers like the AWS provider would for the few computed outputs we read (ARNs, ids,
the access-key secret) and records every resource's inputs; `RecordingMonitor` additionally keeps the
raw registration requests, which carry options the Mocks API does not show (dependencies,
replacement triggers, delete-before-replace, parent).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

ACCOUNT = "123456789012"
PROJECT = "managed-llm"
STACK = "test"
# A fake secret with a distinctive shape, so tests can prove it never leaks into other inputs or outputs.
FAKE_SECRET_PREFIX = "fake-secret-access-key-"  # noqa: S105 (a test marker, not a credential)

# What GetInferenceProfile answers per (source region, profile id): the foundation models it routes to.
# Illustrative routes of the US geo profiles; the real list is GetInferenceProfile's `models[].modelArn`
# (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html).
US_ROUTES = ("us-east-1", "us-east-2", "us-west-2")
PROFILE_ROUTES: dict[str, tuple[str, ...]] = {
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0": US_ROUTES,
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0": US_ROUTES,
    "us.anthropic.claude-haiku-4-5-20251001-v1:0": US_ROUTES,
    "us.anthropic.claude-sonnet-4-6": US_ROUTES,
}


@dataclass
class Recorded:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str | None
    outputs: dict[str, Any]

    @property
    def urn(self) -> str:
        return f"urn:pulumi:{STACK}::{PROJECT}::{self.type}::{self.name}"


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    resources: list[Recorded] = field(default_factory=list)
    calls: list[MockCallArgs] = field(default_factory=list)
    profile_routes: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(PROFILE_ROUTES))
    regions: dict[str, str] = field(default_factory=dict)

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        region = self._region(args.provider)
        outputs = dict(args.inputs)
        resource_id = f"{args.name}-id"
        name = args.inputs.get("name", f"{args.name}-autonamed")
        match args.typ:
            case "pulumi:providers:aws":
                self.regions[args.name] = args.inputs["region"]
            case "aws:kms/key:Key":
                resource_id = f"key-{args.name}"
                outputs |= {"arn": f"arn:aws:kms:{region}:{ACCOUNT}:key/{resource_id}", "keyId": resource_id}
            case "aws:cloudwatch/logGroup:LogGroup":
                outputs |= {"name": name, "arn": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{name}"}
            case "aws:iam/role:Role":
                outputs |= {"name": name, "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"}
                resource_id = name
            case "aws:iam/policy:Policy":
                outputs |= {"arn": f"arn:aws:iam::{ACCOUNT}:policy{args.inputs.get('path', '/')}{args.name}"}
                resource_id = outputs["arn"]
            case "aws:iam/user:User":
                outputs |= {"name": name, "arn": f"arn:aws:iam::{ACCOUNT}:user{args.inputs.get('path', '/')}{name}"}
                resource_id = name
            case "aws:iam/accessKey:AccessKey":
                resource_id = f"AKIAFAKE{abs(hash(args.name)) % 10**12:012d}"
                outputs |= {"secret": f"{FAKE_SECRET_PREFIX}{args.name}"}
            case "aws:secretsmanager/secret:Secret":
                outputs |= {"arn": f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{args.name}-AbCdEf"}
                resource_id = outputs["arn"]
            case "aws:bedrock/inferenceProfile:InferenceProfile":
                # An application profile's id is its ARN's last segment (CreateInferenceProfile answers
                # `inferenceProfileArn`; docs/research/models-and-apis-2026-12.md §6): 12 characters here.
                resource_id = hashlib.sha256(args.name.encode()).hexdigest()[:12]
                arn = f"arn:aws:bedrock:{region}:{ACCOUNT}:application-inference-profile/{resource_id}"
                outputs |= {"arn": arn, "status": "ACTIVE", "type": "APPLICATION"}
            case "aws:sns/topic:Topic":
                outputs |= {"arn": f"arn:aws:sns:{region}:{ACCOUNT}:{args.name}"}
                resource_id = outputs["arn"]
        self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), args.provider, outputs))
        return resource_id, outputs

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append(args)
        region = self._region(args.provider)
        match args.token:
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer", "id": ACCOUNT}, []
            case "aws:bedrock/getInferenceProfile:getInferenceProfile":
                profile_id = args.args["inferenceProfileId"]
                if profile_id not in self.profile_routes:
                    raise LookupError(f"ResourceNotFoundException: inference profile {profile_id} not found")
                model = profile_id.split(".", 1)[1]
                return {
                    "inferenceProfileId": profile_id,
                    "inferenceProfileArn": f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{profile_id}",
                    "models": [
                        {"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{model}"}
                        for r in self.profile_routes[profile_id]
                    ],
                    "type": "SYSTEM_DEFINED",
                }, []
        raise NotImplementedError(args.token)

    def _region(self, provider_ref: str | None) -> str:
        """The region of the explicit provider a resource or call went through ('no-provider' if none)."""
        if not provider_ref:
            return "no-provider"
        # A provider reference is "<provider urn>::<provider id>"; the urn ends with the provider's name.
        provider_name = provider_ref.split("::")[-2]
        return self.regions.get(provider_name, "unknown-provider")

    # Query helpers for tests.
    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str) -> Recorded:
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, found {[r.name for r in found]}"
        return found[0]


class RecordingMonitor(MockMonitor):
    """Keeps every RegisterResource request so tests can read resource options."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.requests: dict[str, Any] = {}
        # URN -> its parent's URN ("" for the stack): names repeat across types, URNs do not.
        self.parents: dict[str, str] = {}

    def RegisterResource(self, request: Any) -> Any:
        self.requests[request.name] = request
        self.parents[self.make_urn(request.parent, request.type, request.name)] = request.parent
        return super().RegisterResource(request)

    def subtree(self, root: str) -> set[str]:
        """`root` and every URN registered under it, at any depth."""
        found = {root}
        while grown := {urn for urn, parent in self.parents.items() if parent in found} - found:
            found |= grown
        return found


@dataclass
class Engine:
    mocks: RecordingMocks
    monitor: RecordingMonitor

    def run(self, program: Callable[[], Any]) -> None:
        """Run `program` to completion (every registration and apply resolved); errors propagate."""

        @pulumi.runtime.test
        def _program() -> Any:
            return program()

        try:
            _program()
        except BaseException:
            _retrieve_abandoned_failures()
            raise

    def dependencies(self, name: str) -> set[str]:
        return set(self.monitor.requests[name].dependencies)

    def request(self, name: str) -> Any:
        return self.monitor.requests[name]


def _retrieve_abandoned_failures() -> None:
    """Mark as retrieved the failed futures a failed program leaves on the engine's event loop.

    When a registration fails, Pulumi resolves that resource's urn/id/output futures with the error, and
    nothing awaits them once the program has stopped (`pulumi up` simply exits). Each one then logs "Future
    exception was never retrieved" whenever the garbage collector gets to it, often in a later test or at
    exit, ~1,500 lines per run. The test already holds the error that matters (the one `run` re-raises).
    """
    loop = asyncio.get_event_loop()
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.Future) and obj.get_loop() is loop and obj.done() and not obj.cancelled():
            obj.exception()


@pytest.fixture
def engine() -> Iterator[Engine]:
    """A fresh mock engine per test (fresh root stack, empty config)."""
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_all_config({})
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=STACK, preview=False, monitor=monitor)
    yield Engine(mocks, monitor)
    pulumi.runtime.set_all_config({})


def set_config(values: dict[str, Any]) -> None:
    """Set `managed-llm:*` config as the engine would pass it (structured values as JSON strings)."""
    pulumi.runtime.set_all_config(
        {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    )


def policy_of(resource: Recorded, key: str = "policy") -> dict[str, Any]:
    document = resource.inputs[key]
    return json.loads(document) if isinstance(document, str) else document


def scoped_to(region: str) -> pulumi.ResourceOptions:
    """Options carrying an explicit regional provider, as `infra/__main__.py` passes to components."""
    import pulumi_aws as aws

    return pulumi.ResourceOptions(providers=[aws.Provider(f"aws-{region}", region=region)])


def secret_wrapped(value: Any) -> bool:
    """Whether a recorded input reached the engine marked secret (Pulumi's wire signature)."""
    from pulumi.runtime import rpc

    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig
