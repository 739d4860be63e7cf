"""Parse and validate a Messages API request body. Every failure names the field."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import invalid_request

BLOCK_TYPES = frozenset({
    "text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking",
    "server_tool_use", "web_search_tool_result", "search_result", "container_upload",
    "tool_reference",  # a client's tool search result: loads a deferred tool by name
})
# Parameters the SDK offers no way to honour: accepted, and reported as ignored.
IGNORED_PARAMS = ("temperature", "top_p", "top_k", "stop_sequences", "tool_choice",
                  "service_tier", "container", "mcp_servers", "output_config", "context_management")
MAX_MESSAGES = 10_000


@dataclass
class MessagesRequest:
    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    system: str | list[dict[str, Any]] | None = None
    max_tokens: int | None = None
    tools: list[dict[str, Any]] | None = None
    thinking: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    ignored: list[str] = field(default_factory=list)

    @property
    def wants_thinking(self) -> bool:
        return bool(self.thinking) and self.thinking.get("type") in ("enabled", "adaptive")

    @property
    def system_text(self) -> str:
        if self.system is None:
            return ""
        if isinstance(self.system, str):
            return self.system
        return "\n\n".join(block.get("text", "") for block in self.system)

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for message in self.messages:
            content = message["content"]
            kinds = ["text"] if isinstance(content, str) else [b["type"] for b in content]
            for kind in kinds:
                counts[kind] = counts.get(kind, 0) + 1
        return {
            "model": self.model,
            "messages": len(self.messages),
            "blocks": counts,
            "system_chars": len(self.system_text),
            "tools": [t.get("name", "?") for t in self.tools or []],
            "stream": self.stream,
            "max_tokens": self.max_tokens,
            "thinking": (self.thinking or {}).get("type"),
            "ignored": list(self.ignored),
        }


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise invalid_request("request body is empty; expected a JSON object")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid_request(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise invalid_request("request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise invalid_request("request body must be a JSON object")
    return data


def _check_block(block: Any, where: str, role: str) -> None:
    if not isinstance(block, dict):
        raise invalid_request(f"{where}: each content block must be an object")
    kind = block.get("type")
    if not isinstance(kind, str):
        raise invalid_request(f"{where}.type: field required (a string)")
    if kind not in BLOCK_TYPES:
        raise invalid_request(f"{where}.type: unsupported content block type {kind!r}")
    if kind == "text" and not isinstance(block.get("text"), str):
        raise invalid_request(f"{where}.text: must be a string")
    if kind in ("image", "document"):
        source = block.get("source")
        if not isinstance(source, dict) or not isinstance(source.get("type"), str):
            raise invalid_request(f"{where}.source: must be an object with a type")
    if kind == "tool_use" and (not isinstance(block.get("id"), str)
                               or not isinstance(block.get("name"), str)):
        raise invalid_request(f"{where}: tool_use blocks need string 'id' and 'name'")
    if kind == "tool_reference" and not isinstance(block.get("tool_name"), str):
        raise invalid_request(f"{where}.tool_name: must be a string")
    if kind == "tool_result":
        if role != "user":
            raise invalid_request(f"{where}: tool_result blocks belong in user messages")
        if not isinstance(block.get("tool_use_id"), str):
            raise invalid_request(f"{where}.tool_use_id: must be a string")
        content = block.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise invalid_request(f"{where}.content: must be a string or a list of blocks")
        if isinstance(content, list):
            for j, inner in enumerate(content):
                _check_block(inner, f"{where}.content.{j}", role)


def _fold_system_messages(messages: list[Any]) -> list[Any]:
    """Claude Code (2.1.3xx) puts ``role: "system"`` messages inside ``messages`` (its
    environment/date block, per-turn control). The SDK takes no such turn, so each one becomes
    a ``<system-reminder>`` text block -- the form the CLI itself uses for such context -- at
    the end of the user message before it, or else at the start of the next user message."""
    if not any(isinstance(m, dict) and m.get("role") == "system" for m in messages):
        return messages
    out: list[Any] = []
    pending: list[dict[str, Any]] = []
    first_pending = 0
    for i, message in enumerate(messages):
        if not (isinstance(message, dict) and message.get("role") == "system"):
            if pending and isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                blocks = [{"type": "text", "text": content}] if isinstance(content, str) \
                    else content
                if isinstance(blocks, list):
                    message = {**message, "content": pending + blocks}
                    pending = []
            out.append(message)
            continue
        content = message.get("content")
        if isinstance(content, list) and all(isinstance(b, dict) and b.get("type") == "text"
                                             and isinstance(b.get("text"), str)
                                             for b in content):
            content = "\n\n".join(b["text"] for b in content)
        if not isinstance(content, str):
            raise invalid_request(f"messages.{i}.content: a system message must be a string "
                                  "or a list of text blocks")
        block = {"type": "text", "text": f"<system-reminder>\n{content}\n</system-reminder>"}
        previous = out[-1] if out else None
        if isinstance(previous, dict) and previous.get("role") == "user" and not pending \
                and isinstance(previous.get("content"), (str, list)):
            blocks = previous["content"]
            blocks = [{"type": "text", "text": blocks}] if isinstance(blocks, str) else blocks
            out[-1] = {**previous, "content": [*blocks, block]}
        else:
            first_pending = first_pending if pending else i
            pending.append(block)
    if pending:
        raise invalid_request(f"messages.{first_pending}.role: a 'system' message needs a user "
                              "message before or after it")
    return out


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list):
        raise invalid_request("messages: must be a list of message objects")
    if not messages:
        raise invalid_request("messages: must contain at least one message")
    if len(messages) > MAX_MESSAGES:
        raise invalid_request(f"messages: at most {MAX_MESSAGES} messages are accepted")
    messages = _fold_system_messages(messages)
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise invalid_request(f"{where}: must be an object with role and content")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise invalid_request(f"{where}.role: must be 'user' or 'assistant', got {role!r}")
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise invalid_request(f"{where}.content: must be a string or a list of content blocks")
        for j, block in enumerate(content):
            _check_block(block, f"{where}.content.{j}", role)
    if messages[-1]["role"] != "user":
        raise invalid_request(
            "messages: the last message must have role 'user' (assistant prefill is not "
            "supported through the Claude Agent SDK)")
    return messages


def parse_messages_request(data: dict[str, Any]) -> MessagesRequest:
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid_request("model: field required (a non-empty string)")
    messages = _check_messages(data.get("messages"))

    stream = data.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise invalid_request("stream: must be a boolean")

    max_tokens = data.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens < 1):
        raise invalid_request("max_tokens: must be a positive integer")

    system = data.get("system")
    if system is not None and not isinstance(system, str):
        if not isinstance(system, list):
            raise invalid_request("system: must be a string or a list of text blocks")
        for j, block in enumerate(system):
            if not isinstance(block, dict) or block.get("type") != "text" \
                    or not isinstance(block.get("text"), str):
                raise invalid_request(f"system.{j}: must be a text block with a string 'text'")

    tools = data.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise invalid_request("tools: must be a list of tool definitions")
        for j, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                raise invalid_request(f"tools.{j}.name: field required (a string)")
        tools = tools or None

    thinking = data.get("thinking")
    if thinking is not None:
        if not isinstance(thinking, dict) or thinking.get("type") not in (
                "enabled", "disabled", "adaptive"):
            raise invalid_request("thinking.type: must be 'enabled', 'disabled' or 'adaptive'")
        budget = thinking.get("budget_tokens")
        if thinking["type"] == "enabled" and (isinstance(budget, bool)
                                              or not isinstance(budget, int) or budget < 1):
            raise invalid_request("thinking.budget_tokens: must be a positive integer")

    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise invalid_request("metadata: must be an object")

    return MessagesRequest(
        model=model.strip(), messages=messages, stream=stream, system=system,
        max_tokens=max_tokens, tools=tools, thinking=thinking, metadata=metadata,
        ignored=[name for name in IGNORED_PARAMS if data.get(name) is not None],
    )
