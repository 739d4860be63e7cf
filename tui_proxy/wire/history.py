"""Turn a Messages API history into the one user turn the SDK is sent.

The SDK takes user turns only. When the SDK session already holds the history (resume),
only the new user turn(s) are sent. When it does not, earlier turns are passed as a
clearly delimited record inside the new user turn: real image and document blocks stay
blocks, tool calls and results keep their ids and structure as tagged text, and nothing
is written as ``Human:``/``Assistant:`` dialogue that the model could continue as
self-play. Thinking blocks of earlier turns are dropped (their signatures are bound to
the original API call).
"""

from __future__ import annotations

import json
from typing import Any

HISTORY_PREAMBLE = (
    "<conversation_history>\n"
    "The conversation so far, from before this session, as a record for context. It is not "
    "a script to continue: do not write turns for either side. Reply only to the new message "
    "that follows the record.\n"
)
HISTORY_END = "</conversation_history>\n<new_message>\n"
NEW_MESSAGE_END = "\n</new_message>"


def blocks_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message["content"]
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def split_new_turns(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]],
                                                             list[dict[str, Any]]]:
    """(earlier messages, trailing user messages after the last assistant message)."""
    cut = len(messages)
    while cut > 0 and messages[cut - 1]["role"] == "user":
        cut -= 1
    return messages[:cut], messages[cut:]


def _attr(value: Any) -> str:
    return json.dumps(str(value))


class _Builder:
    """Collects blocks, merging adjacent text so the turn stays compact."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, Any]] = []

    def text(self, text: str) -> None:
        if not text:
            return
        if self.blocks and self.blocks[-1]["type"] == "text":
            self.blocks[-1]["text"] += text
        else:
            self.blocks.append({"type": "text", "text": text})

    def media(self, block: dict[str, Any]) -> None:
        kept: dict[str, Any] = {k: block[k] for k in ("type", "source", "title", "context")
                                if k in block}
        self.blocks.append(kept)

    def block(self, block: dict[str, Any]) -> None:
        kind = block["type"]
        if kind == "text":
            self.text(block["text"])
        elif kind in ("image", "document"):
            self.media(block)
        elif kind == "tool_use":
            args = json.dumps(block.get("input", {}), ensure_ascii=False)
            self.text(f"\n<tool_use id={_attr(block['id'])} name={_attr(block['name'])}>"
                      f"{args}</tool_use>\n")
        elif kind == "tool_result":
            error = ' is_error="true"' if block.get("is_error") else ""
            self.text(f"\n<tool_result tool_use_id={_attr(block['tool_use_id'])}{error}>\n")
            content = block.get("content")
            if isinstance(content, str):
                self.text(content)
            elif isinstance(content, list):
                for inner in content:
                    self.block(inner)
            self.text("\n</tool_result>\n")
        elif kind in ("thinking", "redacted_thinking"):
            return
        else:
            self.text(f"\n<{kind}>{json.dumps(block, ensure_ascii=False)}</{kind}>\n")


def build_prompt(messages: list[dict[str, Any]], *, session_has_history: bool
                 ) -> list[dict[str, Any]]:
    """Content blocks of the single user turn to send to the SDK."""
    earlier, new = split_new_turns(messages)
    out = _Builder()
    if earlier and not session_has_history:
        out.text(HISTORY_PREAMBLE)
        for message in earlier:
            tag = "user_turn" if message["role"] == "user" else "assistant_turn"
            out.text(f"<{tag}>\n")
            for block in blocks_of(message):
                out.block(block)
            out.text(f"\n</{tag}>\n")
        out.text(HISTORY_END)
        wrapped = True
    else:
        wrapped = False
    for i, message in enumerate(new):
        if i:
            out.text("\n\n")
        for block in blocks_of(message):
            out.block(block)
    if wrapped:
        out.text(NEW_MESSAGE_END)
    if not out.blocks:
        out.text("(empty message)")
    return out.blocks


def tool_results_of(request: Any) -> dict[str, dict[str, Any]]:
    """tool_use_id -> tool_result block, from the request's last user message."""
    last = request.messages[-1]
    return {b["tool_use_id"]: b for b in blocks_of(last) if b.get("type") == "tool_result"}
