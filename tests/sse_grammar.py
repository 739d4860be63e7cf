"""One invariant checker for every streaming test: the client must see exactly one
well-formed Messages API message, optionally followed by one ``error`` event."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CheckedStream:
    events: list[dict[str, Any]]
    text: str = ""
    thinking: str = ""
    stop_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    block_types: list[str] = field(default_factory=list)
    pings: int = 0


def parse_sse(raw: str | bytes) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(raw, bytes):
        raw = raw.decode()
    out = []
    for chunk in raw.replace("\r\n", "\n").split("\n\n"):
        if not chunk.strip():
            continue
        name, data = None, []
        for line in chunk.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        assert name is not None, f"SSE chunk without event name: {chunk!r}"
        payload = json.loads("\n".join(data))
        assert payload.get("type") == name, f"event name {name!r} != data type {payload!r}"
        out.append((name, payload))
    return out


def check_stream(raw: str | bytes, *, expect_error: bool | None = None) -> CheckedStream:
    """Assert the SSE grammar; return what the stream carried."""
    events = parse_sse(raw)
    result = CheckedStream(events=[e for _, e in events])
    assert events, "empty stream"
    seen_start = seen_delta = seen_stop = False
    next_index = 0
    open_blocks: dict[int, str] = {}
    for name, event in events:
        if name == "ping":
            result.pings += 1
            assert not seen_stop, "ping after message_stop"
            continue
        if name == "error":
            assert seen_stop, "error event before the message was closed"
            assert result.error is None, "two error events"
            result.error = event["error"]
            assert set(event["error"]) >= {"type", "message"}, event
            continue
        assert result.error is None, f"{name} after the error event"
        if name == "message_start":
            assert not seen_start, "second message_start"
            seen_start = True
            message = event["message"]
            assert message["role"] == "assistant" and message["content"] == []
            assert message["id"].startswith("msg_")
            continue
        assert seen_start, f"{name} before message_start"
        assert not seen_stop, f"{name} after message_stop"
        if name == "content_block_start":
            assert not seen_delta, "block started after message_delta"
            assert event["index"] == next_index, f"index {event['index']} != {next_index}"
            block_type = event["content_block"]["type"]
            open_blocks[event["index"]] = block_type
            result.block_types.append(block_type)
            next_index += 1
        elif name == "content_block_delta":
            index = event["index"]
            assert index in open_blocks, f"delta for closed/unknown block {index}"
            delta = event["delta"]
            if delta["type"] == "text_delta":
                assert open_blocks[index] == "text"
                result.text += delta["text"]
            elif delta["type"] == "thinking_delta":
                assert open_blocks[index] == "thinking"
                result.thinking += delta["thinking"]
        elif name == "content_block_stop":
            assert event["index"] in open_blocks, f"stop of unopened block {event['index']}"
            del open_blocks[event["index"]]
        elif name == "message_delta":
            assert not open_blocks, f"message_delta with open blocks {open_blocks}"
            assert not seen_delta, "second message_delta"
            seen_delta = True
            result.stop_reason = event["delta"]["stop_reason"]
            result.usage = event["usage"]
            assert "output_tokens" in event["usage"]
        elif name == "message_stop":
            assert seen_delta, "message_stop without message_delta"
            seen_stop = True
        else:
            raise AssertionError(f"unknown event {name}")
    assert seen_stop, "stream ended without message_stop"
    if expect_error is True:
        assert result.error is not None, "expected an error event"
    elif expect_error is False:
        assert result.error is None, f"unexpected error event {result.error}"
    return result
