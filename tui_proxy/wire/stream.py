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
from typing import Any
from collections.abc import Callable

from tui_proxy.wire.stops import Cut, StopRules

ClientEvent = dict[str, Any]
_DELTA_KEYS = {"text_delta": "text", "thinking_delta": "thinking",
               "input_json_delta": "partial_json"}


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
        # Proxy-side stop rules (stop_sequences, max_tokens, tool_choice): see stops.py.
        # Once ``cut`` is set the response ends there; later SDK events are dropped.
        self.rules: StopRules | None = None
        self.cut: Cut | None = None
        self._client_tool: dict[int, str] = {}  # client index -> client tool name

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
        if self.cut is not None:
            return []  # the response ended at a stop rule; the CLI is being interrupted
        kind = event.get("type")
        rules = self.rules
        if kind == "content_block_delta":  # first: nearly every event is one
            delta_index = self._index_map.get(event.get("index", 0))
            if rules is not None:
                return self._ruled_delta(rules, delta_index, event.get("delta") or {})
            if delta_index is None or delta_index not in self._open:
                return []
            return [{"type": "content_block_delta", "index": delta_index,
                     "delta": event.get("delta")}]
        if kind == "message_start":
            self._index_map.clear()
            return self.start((event.get("message") or {}).get("usage"))
        if kind == "content_block_start":
            return self._block_start(event)
        if kind == "content_block_stop":
            stop_index = self._index_map.pop(event.get("index", 0), None)
            if stop_index is None or stop_index not in self._open:
                return []
            held: list[ClientEvent] = []
            if rules is not None:
                held = self._held_text(stop_index)
                rules.after_block(self._client_tool.pop(stop_index, None))
            self._open.discard(stop_index)
            return held + [{"type": "content_block_stop", "index": stop_index}]
        if kind == "message_delta":
            self._message_delta(event)
        return []  # message_stop, ping and anything new: the envelope is ours

    def _block_start(self, event: dict[str, Any]) -> list[ClientEvent]:
        """A block the client sees (renumbered, a tool under its client name), or none: a
        block of a type or tool the client is not given, or one a stop rule ends before."""
        block = event.get("content_block") or {}
        forwarded = block.get("type") in self.forwarded_types and not (
            block.get("type") == "tool_use" and self.forward_tool is not None
            and not self.forward_tool(block.get("name", "")))
        client_tool = None
        if forwarded and block.get("type") == "tool_use":
            client_tool = (self.tool_name(block.get("name", "")) if self.tool_name
                           else block.get("name", ""))
        if self.rules is not None:
            self.cut = self.rules.before_block(str(block.get("type")), client_tool)
            if self.cut is not None:
                return []
        if not forwarded:
            return []
        out = self.start()
        if client_tool is not None:
            block = {**block, "name": client_tool}
        index = self._next_index
        self._next_index += 1
        self._index_map[event.get("index", 0)] = index
        self._open.add(index)
        if client_tool is not None:
            self._client_tool[index] = client_tool
        self.blocks_forwarded[block["type"]] = self.blocks_forwarded.get(block["type"], 0) + 1
        out.append({"type": "content_block_start", "index": index, "content_block": block})
        return out

    def _message_delta(self, event: dict[str, Any]) -> None:
        reason = (event.get("delta") or {}).get("stop_reason")
        if reason:
            self.last_stop_reason = reason
        output_tokens = (event.get("usage") or {}).get("output_tokens")
        if isinstance(output_tokens, int):
            self.last_output_tokens = output_tokens
        if self.rules is not None:
            self.rules.call_ended()

    def _ruled_delta(self, rules: StopRules, index: int | None,
                     delta: dict[str, Any]) -> list[ClientEvent]:
        """A delta under the stop rules: counted against max_tokens (shown or not), text
        scanned for stop sequences."""
        shown = index is not None and index in self._open
        key = _DELTA_KEYS.get(str(delta.get("type")))
        if key is None:  # signature, citations: no output text of their own
            return [{"type": "content_block_delta", "index": index, "delta": delta}] \
                if shown else []
        value = str(delta.get(key) or "")
        allowed = rules.budget(len(value), shown)
        truncated = allowed < len(value)
        value = value[:allowed]
        out: list[ClientEvent] = []
        if shown and key == "text":
            assert index is not None
            send, matched = rules.scan(index, value)
            if matched is not None:
                if send:
                    out.append(_text_delta(index, send))
                self.cut = Cut("stop_sequence", matched, rules.used_tokens)
                return out
            if truncated:
                send += rules.flush(index)
            if send:
                out.append(_text_delta(index, send))
        elif shown and value:
            out.append({"type": "content_block_delta", "index": index,
                        "delta": {**delta, key: value}})
        if truncated:
            self.cut = rules.max_tokens_cut()
        return out

    def _held_text(self, index: int) -> list[ClientEvent]:
        held = self.rules.flush(index) if self.rules is not None else ""
        return [_text_delta(index, held)] if held else []

    def synthetic_text(self, text: str) -> list[ClientEvent]:
        """One text block the proxy writes itself (a structured output's JSON), under the
        stop sequences but not counted again against max_tokens (the CLI's usage already
        counts the tool call that carried it)."""
        saved_types, saved_max = set(self.forwarded_types), None
        self.forwarded_types.add("text")
        if self.rules is not None:
            saved_max, self.rules.max_tokens = self.rules.max_tokens, None
        sdk_index = -1  # no SDK API call uses it
        try:
            out = self.feed({"type": "content_block_start", "index": sdk_index,
                             "content_block": {"type": "text", "text": ""}})
            out += self.feed({"type": "content_block_delta", "index": sdk_index,
                              "delta": {"type": "text_delta", "text": text}})
            out += self.feed({"type": "content_block_stop", "index": sdk_index})
        finally:
            self.forwarded_types = saved_types
            if self.rules is not None:
                self.rules.max_tokens = saved_max
        return out

    def close_blocks(self) -> list[ClientEvent]:
        out = []
        for i in sorted(self._open):
            out += self._held_text(i)
            out.append({"type": "content_block_stop", "index": i})
        self._open.clear()
        self._index_map.clear()
        return out

    def finish(self, stop_reason: str | None, usage: dict[str, Any] | None,
               stop_sequence: str | None = None) -> list[ClientEvent]:
        """Close everything: open blocks, one message_delta, one message_stop."""
        if self.finished:
            return []
        self.finished = True
        out = self.start() + self.close_blocks()
        usage = usage or {}
        delta_usage = {
            "input_tokens": int(usage.get("input_tokens")
                                or self.input_usage.get("input_tokens", 0)),
            "output_tokens": int(usage.get("output_tokens") or 0),
            "cache_creation_input_tokens": int(usage.get("cache_creation_input_tokens") or 0),
            "cache_read_input_tokens": int(usage.get("cache_read_input_tokens") or 0),
        }
        out.append({"type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                    "usage": delta_usage})
        out.append({"type": "message_stop"})
        return out


def _text_delta(index: int, text: str) -> ClientEvent:
    return {"type": "content_block_delta", "index": index,
            "delta": {"type": "text_delta", "text": text}}


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
