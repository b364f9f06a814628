"""Parse the server-sent events Elasticsearch returns from `_inference/.../_stream`.

Wire format (ES `ServerSentEventsRestActionListener`): every event starts with a UTF-8 byte-order mark,
then `event: message|error`, then `data: <json>`, then a blank line; the stream ends with
`data: [DONE]`. A failure mid-stream keeps HTTP 200 and ends with an `error` event and no `[DONE]`.
Chat chunks are OpenAI-style (`choices[].delta.content`); the specification's examples wrap them in
`{"chat_completion": ...}`, which no server version sends, but both are accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

BYTE_ORDER_MARK = "\ufeff"
DONE = "[DONE]"


class StreamError(ValueError):
    """The stream carried an error event, or ended without [DONE]."""


@dataclass(frozen=True)
class StreamResult:
    text: str
    usage: dict[str, Any] = field(default_factory=dict)
    chunks: int = 0


def parse_events(raw: str) -> list[tuple[str, str]]:
    """(event type, data) pairs in order."""
    events: list[tuple[str, str]] = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        kind, data = "message", []
        for line in block.split("\n"):
            line = line.lstrip(BYTE_ORDER_MARK)
            if line.startswith("event:"):
                kind = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].strip())
        if data:
            events.append((kind, "\n".join(data)))
    return events


def collect(raw: str) -> StreamResult:
    """Concatenate the streamed text (chat deltas or completion deltas); raise on an error or a cut stream."""
    text: list[str] = []
    usage: dict[str, Any] = {}
    chunks = 0
    finished = False
    for kind, data in parse_events(raw):
        if kind == "error":
            raise StreamError(_error_reason(data))
        if data == DONE:
            finished = True
            continue
        chunk = json.loads(data)
        chunk = chunk.get("chat_completion", chunk)
        chunks += 1
        for choice in chunk.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if content:
                text.append(str(content))
        for piece in chunk.get("completion") or []:
            if piece.get("delta"):
                text.append(str(piece["delta"]))
        if chunk.get("usage"):
            usage = dict(chunk["usage"])
    if not finished:
        raise StreamError("the stream ended before [DONE]")
    return StreamResult("".join(text), usage, chunks)


def _error_reason(data: str) -> str:
    try:
        error = json.loads(data).get("error")
    except ValueError:
        return data[:200]
    if isinstance(error, dict):
        return str(error.get("reason") or error.get("message") or error.get("type") or error)[:500]
    return str(error)[:500]
