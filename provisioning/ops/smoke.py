"""Smoke tests: one tiny real inference per endpoint, then proof that Bedrock logged metadata only.

Each prompt carries a unique canary string. With `check_logs`, the invocation log group is polled
(bounded) until a record for each endpoint's model shows up after the calls started; the record must
carry the metadata fields (timestamp, model, region, status) and no body, and the canary must appear
nowhere in the log group: if it does, prompts are being stored and zero data retention is broken.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from provisioning.core.errors import EXIT_ERROR, EXIT_OK, ConfigError, ManagedLlmError
from provisioning.core.inference_stream import StreamResult
from provisioning.core.model import InferenceEndpoint
from provisioning.core.stack_outputs import StackOutputs
from provisioning.ops.invocation_logs import MAX_LOG_EVENTS, body_fields, has_body, invocation_records, log_group_name

MAX_TOKENS = 16
# Fields every invocation record must carry (Elastic: "timestamp, model used, region, and request status").
METADATA_FIELDS = ("timestamp", "modelId", "region")
# Clock skew allowed between this machine and CloudWatch when looking for records "after the call".
SKEW = timedelta(minutes=2)


class Verdict(StrEnum):
    PASS = "PASS"  # noqa: S105 (a verdict, not a password)
    FAIL = "FAIL"


def new_canary() -> str:
    return f"managed-llm-canary-{uuid.uuid4().hex}"


class Inference(Protocol):
    def complete(self, endpoint_id: str, text: str, max_tokens: int) -> str: ...

    def embed(self, endpoint_id: str, text: str) -> int: ...

    def chat(self, endpoint_id: str, text: str, max_tokens: int) -> StreamResult: ...


# Reads the invocation log group's events between two instants.
LogReader = Callable[[datetime, datetime], Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class SmokeResult:
    endpoint_id: str
    task_type: str
    model: str
    verdict: Verdict
    seconds: float
    detail: str


@dataclass(frozen=True)
class LogCheck:
    name: str
    verdict: Verdict
    evidence: str


@dataclass(frozen=True)
class SmokeReport:
    canary: str
    results: tuple[SmokeResult, ...]
    log_checks: tuple[LogCheck, ...] = ()

    @property
    def exit_code(self) -> int:
        failed = any(r.verdict is Verdict.FAIL for r in self.results) or any(
            c.verdict is Verdict.FAIL for c in self.log_checks
        )
        return EXIT_ERROR if failed or not self.results else EXIT_OK


def prompt(canary: str) -> str:
    return f"Reply with the single word OK. Reference {canary}."


def call_endpoint(client: Inference, endpoint_id: str, task_type: str, model: str, canary: str) -> SmokeResult:
    """One inference through Elasticsearch; a failure is a FAIL result, never an exception."""
    text = prompt(canary)
    began = time.monotonic()
    try:
        if task_type == "text_embedding":
            dimensions = client.embed(endpoint_id, text)
            verdict = Verdict.PASS if dimensions > 0 else Verdict.FAIL
            detail = f"{dimensions} dimensions"
        elif task_type == "chat_completion":
            result = client.chat(endpoint_id, text, MAX_TOKENS)
            verdict = Verdict.PASS if result.text else Verdict.FAIL
            detail = f"streamed {result.chunks} chunks, {len(result.text)} characters"
        else:
            answer = client.complete(endpoint_id, text, MAX_TOKENS)
            verdict = Verdict.PASS if answer else Verdict.FAIL
            detail = f"{len(answer)} characters"
    except ManagedLlmError as exc:
        verdict, detail = Verdict.FAIL, exc.message
    return SmokeResult(endpoint_id, task_type, model, verdict, time.monotonic() - began, detail)


def run_smoke(client: Inference, declared: Sequence[InferenceEndpoint], canary: str) -> tuple[SmokeResult, ...]:
    return tuple(call_endpoint(client, e.id, e.task_type, e.model, canary) for e in declared)


def check_logs(
    read_events: LogReader,
    models: Sequence[str],
    canary: str,
    started: datetime,
    *,
    timeout: float,
    poll_interval: float,
    on_wait: Callable[[int, int, float], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[LogCheck, ...]:
    """Wait (bounded) for one record per model after `started`, then check metadata, bodies and canary."""
    wanted = set(models)
    waited = 0.0
    while True:
        events = read_events(started - SKEW, clock() + SKEW)
        records = [r for r in invocation_records(events) if _after(r, started)]
        found = {str(r.get("modelId")) for r in records} & wanted
        if on_wait is not None:
            on_wait(len(found), len(wanted), waited)
        if found == wanted or waited >= timeout:
            break
        sleep(poll_interval)
        waited += poll_interval

    checks = [
        LogCheck(
            "invocation records",
            Verdict.PASS if found == wanted else Verdict.FAIL,
            f"{len(found)}/{len(wanted)} models logged after the calls"
            + ("" if found == wanted else f"; missing: {', '.join(sorted(wanted - found))} after {waited:.0f}s"),
        )
    ]
    ours = [r for r in records if str(r.get("modelId")) in wanted]
    incomplete = [r for r in ours if any(f not in r for f in METADATA_FIELDS)]
    statuses = sorted({str(r.get("errorCode") or "success") for r in ours})
    checks.append(
        LogCheck(
            "metadata fields",
            Verdict.PASS if ours and not incomplete else Verdict.FAIL,
            f"{len(ours) - len(incomplete)}/{len(ours)} records carry {', '.join(METADATA_FIELDS)}; "
            f"status: {', '.join(statuses) or 'none'}",
        )
    )
    with_body = [r for r in ours if has_body(r)]
    checks.append(
        LogCheck(
            "no prompt or output stored",
            Verdict.FAIL if with_body else Verdict.PASS,
            f"{len(with_body)} of {len(ours)} records carry a body field "
            f"({', '.join(sorted({f for r in with_body for f in body_fields(r)})) or 'inline or S3 path'})",
        )
    )
    leaks = [e for e in events if canary in str(e.get("message", ""))]
    checks.append(
        LogCheck(
            "canary absent from the log group",
            Verdict.FAIL if leaks else Verdict.PASS,
            f"canary found in {len(leaks)} of {len(events)} events" if leaks else f"searched {len(events)} events",
        )
    )
    return tuple(checks)


def _after(record: Mapping[str, Any], started: datetime) -> bool:
    stamp = record.get("timestamp")
    if not isinstance(stamp, str):
        return False
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    return moment >= started - SKEW


def smoke_test(
    client: Inference,
    endpoints: Sequence[InferenceEndpoint],
    stack: StackOutputs | None,
    *,
    log_timeout: float,
    poll_interval: float,
    on_wait: Callable[[int, int, float], None] | None = None,
) -> SmokeReport:
    """Call every endpoint once; with `stack` (--check-logs), then prove the calls were logged as metadata only."""
    canary, started = new_canary(), datetime.now(UTC)
    results = run_smoke(client, endpoints, canary)
    if stack is None:
        return SmokeReport(canary, results)
    from provisioning.adapters import aws

    region = stack.region
    group = log_group_name(stack.log_group_name, None if stack.log_group_name else aws.logging_configuration(region))
    if group is None:
        raise ConfigError("--check-logs: no invocation log group known (pass --stack-outputs)")
    checks = check_logs(
        lambda start, end: aws.log_events(group, region, start, end, limit=MAX_LOG_EVENTS),
        [r.model for r in results if r.verdict is Verdict.PASS],
        canary,
        started,
        timeout=log_timeout,
        poll_interval=poll_interval,
        on_wait=on_wait,
    )
    return SmokeReport(canary, results, checks)
