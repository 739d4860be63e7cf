"""Re-envelope the SDK's stream into exactly one Messages API message.

The SDK yields one ``message_start … message_stop`` per internal API call, with block
indexes restarting at 0 each time. The client must see one ``message_start``, contiguous
block indexes, every block closed, one ``message_delta`` carrying the final stop reason
and the run's usage, and one ``message_stop``. ``StreamTranslator`` does that; the
non-streaming path feeds the same events to ``MessageAccumulator``, so both paths return
the same content.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Callable

ClientEvent = dict[str, Any]


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex[:24]}"


class StreamTranslator:
    def __init__(self, model: str, *, forward_thinking: bool,
                 forward_types: frozenset[str] = frozenset({"text"}),
                 tool_name: Callable[[str], str] | None = None,
                 forward_tool: Callable[[str], bool] | None = None) -> None:
        self.model = model
        self.tool_name = tool_name
        self.forward_tool = forward_tool  # which tool_use blocks (by name) reach the client
        self.message_id = new_message_id()
        self.forwarded_types = set(forward_types)
        if forward_thinking:
            self.forwarded_types |= {"thinking", "redacted_thinking"}
        self.started = False
        self.finished = False
        self._next_index = 0
        self._index_map: dict[int, int] = {}   # SDK index in this API call -> client index
        self._open: set[int] = set()           # client indexes not yet stopped
        self.input_usage: dict[str, Any] = {}
        self.last_stop_reason: str | None = None
        self.last_output_tokens = 0
        self.blocks_forwarded: dict[str, int] = {}

    def start(self, usage: dict[str, Any] | None = None) -> list[ClientEvent]:
        """The message_start event; emitted on the first SDK message_start or on demand."""
        if self.started:
            return []
        self.started = True
        usage = dict(usage or {})
        start_usage = {
            "input_tokens": int(usage.get("input_tokens") or 0),
            "output_tokens": int(usage.get("output_tokens") or 0),
            "cache_creation_input_tokens": int(usage.get("cache_creation_input_tokens") or 0),
            "cache_read_input_tokens": int(usage.get("cache_read_input_tokens") or 0),
        }
        self.input_usage = start_usage
        return [{
            "type": "message_start",
            "message": {
                "id": self.message_id, "type": "message", "role": "assistant",
                "model": self.model, "content": [], "stop_reason": None,
                "stop_sequence": None, "usage": start_usage,
            },
        }]

    def feed(self, event: dict[str, Any]) -> list[ClientEvent]:
        """Translate one raw SDK stream event into zero or more client events."""
        kind = event.get("type")
        if kind == "message_start":
            self._index_map.clear()
            return self.start((event.get("message") or {}).get("usage"))
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") not in self.forwarded_types:
                return []
            if block.get("type") == "tool_use" and self.forward_tool is not None \
                    and not self.forward_tool(block.get("name", "")):
                return []
            out = self.start()
            if block.get("type") == "tool_use" and self.tool_name is not None:
                block = {**block, "name": self.tool_name(block.get("name", ""))}
            index = self._next_index
            self._next_index += 1
            self._index_map[event.get("index", 0)] = index
            self._open.add(index)
            self.blocks_forwarded[block["type"]] = self.blocks_forwarded.get(block["type"], 0) + 1
            out.append({"type": "content_block_start", "index": index, "content_block": block})
            return out
        if kind == "content_block_delta":
            index = self._index_map.get(event.get("index", 0))
            if index is None or index not in self._open:
                return []
            return [{"type": "content_block_delta", "index": index, "delta": event.get("delta")}]
        if kind == "content_block_stop":
            index = self._index_map.pop(event.get("index", 0), None)
            if index is None or index not in self._open:
                return []
            self._open.discard(index)
            return [{"type": "content_block_stop", "index": index}]
        if kind == "message_delta":
            reason = (event.get("delta") or {}).get("stop_reason")
            if reason:
                self.last_stop_reason = reason
            out = (event.get("usage") or {}).get("output_tokens")
            if isinstance(out, int):
                self.last_output_tokens = out
            return []
        return []  # message_stop, ping and anything new: the envelope is ours

    def close_blocks(self) -> list[ClientEvent]:
        out = [{"type": "content_block_stop", "index": i} for i in sorted(self._open)]
        self._open.clear()
        self._index_map.clear()
        return out

    def finish(self, stop_reason: str | None, usage: dict[str, Any] | None) -> list[ClientEvent]:
        """Close everything: open blocks, one message_delta, one message_stop."""
        if self.finished:
            return []
        self.finished = True
        out = self.start() + self.close_blocks()
        usage = usage or {}
        delta_usage = {
            "input_tokens": int(usage.get("input_tokens") or self.input_usage.get("input_tokens", 0)),
            "output_tokens": int(usage.get("output_tokens") or 0),
            "cache_creation_input_tokens": int(usage.get("cache_creation_input_tokens") or 0),
            "cache_read_input_tokens": int(usage.get("cache_read_input_tokens") or 0),
        }
        out.append({"type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": delta_usage})
        out.append({"type": "message_stop"})
        return out


class MessageAccumulator:
    """Builds the non-streaming JSON message from the client events."""

    def __init__(self) -> None:
        self.message: dict[str, Any] | None = None
        self._partial_json: dict[int, str] = {}

    def feed(self, event: ClientEvent) -> None:
        kind = event["type"]
        if kind == "message_start":
            self.message = json.loads(json.dumps(event["message"]))
        elif self.message is None:
            return
        elif kind == "content_block_start":
            block = dict(event["content_block"])
            self.message["content"].append(block)
        elif kind == "content_block_delta":
            block = self.message["content"][event["index"]]
            delta = event["delta"] or {}
            dtype = delta.get("type")
            if dtype == "text_delta":
                block["text"] = block.get("text", "") + delta.get("text", "")
            elif dtype == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
            elif dtype == "signature_delta":
                block["signature"] = block.get("signature", "") + delta.get("signature", "")
            elif dtype == "input_json_delta":
                self._partial_json[event["index"]] = (self._partial_json.get(event["index"], "")
                                                      + delta.get("partial_json", ""))
            elif dtype == "citations_delta":
                block.setdefault("citations", []).append(delta.get("citation"))
        elif kind == "content_block_stop":
            raw = self._partial_json.pop(event["index"], None)
            if raw is not None:
                block = self.message["content"][event["index"]]
                try:
                    block["input"] = json.loads(raw) if raw.strip() else {}
                except json.JSONDecodeError:
                    block["input"] = {}
        elif kind == "message_delta":
            self.message["stop_reason"] = event["delta"].get("stop_reason")
            self.message["stop_sequence"] = event["delta"].get("stop_sequence")
            usage = self.message["usage"]
            usage.update({k: v for k, v in event.get("usage", {}).items() if v is not None})
