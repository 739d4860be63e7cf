"""``POST /v1/messages/count_tokens``: an estimate, not Anthropic's tokenizer.

About four characters per token for text and JSON, and a flat cost for images and
documents. Good enough for clients that budget context; documented as an estimate.
"""

from __future__ import annotations

import json
from typing import Any

CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 1_600
DOCUMENT_TOKENS = 3_000
PER_MESSAGE_OVERHEAD = 4


def _block_tokens(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return _text_tokens(block.get("text", ""))
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        source = block.get("source") or {}
        if source.get("type") == "text":
            return _text_tokens(str(source.get("data", "")))
        return DOCUMENT_TOKENS
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            return _text_tokens(content)
        return sum(_block_tokens(b) for b in content or [] if isinstance(b, dict))
    return _text_tokens(json.dumps(block, ensure_ascii=False))


def _text_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def estimate_input_tokens(body: dict[str, Any]) -> int:
    total = 0
    system = body.get("system")
    if isinstance(system, str):
        total += _text_tokens(system)
    elif isinstance(system, list):
        total += sum(_block_tokens(b) for b in system if isinstance(b, dict))
    for message in body.get("messages") or []:
        content = message.get("content")
        total += PER_MESSAGE_OVERHEAD
        if isinstance(content, str):
            total += _text_tokens(content)
        elif isinstance(content, list):
            total += sum(_block_tokens(b) for b in content if isinstance(b, dict))
    for tool in body.get("tools") or []:
        total += _text_tokens(json.dumps(tool, ensure_ascii=False))
    return max(total, 1)
