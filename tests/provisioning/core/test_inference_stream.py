"""Parsing Elasticsearch's server-sent events (BOM before each event, [DONE], error events)."""

from __future__ import annotations

import json

import pytest

from provisioning.core.inference_stream import StreamError, collect, parse_events

BOM = "\ufeff"


def event(data: object, kind: str = "message") -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    return f"{BOM}event: {kind}\ndata: {text}\n\n"


def chunk(content: str) -> dict[str, object]:
    return {"id": None, "choices": [{"delta": {"content": content}, "index": 0}], "model": None, "object": None}


def test_chat_chunks_are_concatenated_and_usage_kept() -> None:
    raw = (
        event(chunk("Hel"))
        + event(chunk("lo"))
        + event({"choices": [], "usage": {"total_tokens": 7}})
        + event("[DONE]")
    )
    result = collect(raw)
    assert (result.text, result.usage, result.chunks) == ("Hello", {"total_tokens": 7}, 3)


def test_the_specifications_wrapped_form_is_accepted() -> None:
    assert collect(event({"chat_completion": chunk("Hi")}) + event("[DONE]")).text == "Hi"


def test_completion_stream_deltas() -> None:
    assert collect(event({"completion": [{"delta": "a "}, {"delta": "b"}]}) + event("[DONE]")).text == "a b"


def test_an_error_event_mid_stream_raises_with_the_reason() -> None:
    error = {"error": {"type": "status_exception", "reason": "Throttled by Bedrock"}, "status": 429}
    with pytest.raises(StreamError, match="Throttled by Bedrock"):
        collect(event(chunk("partial")) + event(error, kind="error"))


def test_the_openai_style_error_shape_is_understood() -> None:
    with pytest.raises(StreamError, match="bad request"):
        collect(event({"error": {"code": "bad_request", "message": "bad request", "type": "x"}}, kind="error"))


def test_a_stream_cut_before_done_is_an_error() -> None:
    with pytest.raises(StreamError, match="before \\[DONE\\]"):
        collect(event(chunk("partial")))


def test_parse_events_strips_byte_order_marks_and_crlf() -> None:
    raw = event(chunk("x")).replace("\n", "\r\n")
    assert parse_events(raw) == [("message", json.dumps(chunk("x")))]
