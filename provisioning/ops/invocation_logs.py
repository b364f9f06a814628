"""Bedrock invocation-log records as CloudWatch Logs returns them: which are records, and which kept a body.

Shared by `verify` (recent records), `smoke --check-logs` (the records of the smoke calls) and `evidence`
(how many events to read).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

# A record stores a body inline (Json/Base64) or, when it is too large to inline, in S3 and points to it
# (`input.inputBodyS3Path`, `output.outputBodyS3Path`): either way the payload was kept. Field names:
# https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html
BODY_FIELDS = (
    "inputBodyJson",
    "outputBodyJson",
    "inputBodyBase64",
    "outputBodyBase64",
    "inputBodyS3Path",
    "outputBodyS3Path",
)
MAX_LOG_EVENTS = 10_000


def invocation_records(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The JSON invocation records in CloudWatch log events; other lines are skipped."""
    records = []
    for event in events:
        try:
            record = json.loads(str(event.get("message", "")))
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def body_fields(record: Mapping[str, Any]) -> list[str]:
    """The body fields an invocation record carries (`input.inputBodyS3Path`, ...): prompt or output kept."""
    return [
        f"{part}.{field}"
        for part in ("input", "output")
        if isinstance(record.get(part), dict)
        for field in BODY_FIELDS
        if field in record[part]
    ]


def has_body(record: Mapping[str, Any]) -> bool:
    """Whether an invocation record carries prompt or output content, inline or as an S3 path."""
    return bool(body_fields(record))


def log_group_name(declared: str | None, logging_config: object) -> str | None:
    """The invocation log group: the one the stack declares, else the one Bedrock's logging configuration names."""
    if declared:
        return declared
    if isinstance(logging_config, Mapping):
        found = (logging_config.get("cloudWatchConfig") or {}).get("logGroupName")
        return found if isinstance(found, str) and found else None
    return None
