"""Seed an SDK session with a client's exact history, so a fresh CLI can resume it.

When a request carries earlier turns that no live or known session holds (the proxy
restarted, the conversation map forgot it, the client came from elsewhere), the CLI can
still get the real structure: we write a transcript in the CLI's own JSONL format under
its projects folder and start the CLI with ``--resume`` on it. The CLI then sends the
earlier turns upstream as real messages, tool_use/tool_result blocks and images included,
instead of a text record inside one user turn.

Limits the API imposes, handled here:
* tool_use/tool_result blocks are only valid when the request defines tools; without
  tools (chat mode) they are kept as tagged text, as in ``wire.history``;
* earlier thinking blocks are dropped (their signatures belong to the original call);
* tool names are renamed to the names the CLI exposes (``mcp__client__<name>``);
* ``tool_reference`` blocks (a client's tool search loading deferred tools) become a text
  naming the tool: the seeded run declares those tools itself.

A history whose last user message answers the assistant's tool calls is an *interrupted
turn*: the transcript ends with those tool results (and whatever the user sent beside them),
and the CLI continues the turn on its own at connect (``CLAUDE_CODE_RESUME_INTERRUPTED_TURN``),
merging ``CLAUDE_CODE_RESUME_PROMPT`` -- the message's trailing text -- into that message. The
model then sees ``[tool_result…, …, text]`` exactly as the client sent it (observed on the
real CLI 2.1.332 against a recording stub). Without trailing text the CLI adds its own
"Continue from where you left off.".
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable

from tui_proxy.config import locations
from tui_proxy.wire import jsonsafe
from tui_proxy.wire.history import _Builder, blocks_of

# The CLI reads the resume prompt from its environment; one variable may hold 128 KiB.
RESUME_PROMPT_LIMIT = 96 * 1024
RESUME_TURN_ENV = "CLAUDE_CODE_RESUME_INTERRUPTED_TURN"
RESUME_PROMPT_ENV = "CLAUDE_CODE_RESUME_PROMPT"

def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def convert_blocks(message: dict[str, Any], *, tools: bool,
                   rename: Callable[[str], str]) -> list[dict[str, Any]]:
    """One message's blocks as the transcript should hold them."""
    out: list[dict[str, Any]] = []
    text = _Builder()  # collects blocks the API would refuse, as tagged text

    def flush_text() -> None:
        out.extend(text.blocks)
        text.blocks = []

    for block in blocks_of(message):
        kind = block.get("type")
        if kind in ("thinking", "redacted_thinking"):
            continue
        if kind in ("tool_use", "tool_result") and not tools:
            text.block(block)
            continue
        if kind == "text":
            if block.get("text"):
                text.text(block["text"])
            continue
        flush_text()
        if kind == "tool_use":
            out.append({"type": "tool_use", "id": block["id"], "name": rename(block["name"]),
                        "input": block.get("input") or {}})
        elif kind == "tool_result":
            kept = {"type": "tool_result", "tool_use_id": block["tool_use_id"],
                    "content": _result_content(block.get("content"), rename)}
            if block.get("is_error"):
                kept["is_error"] = True
            out.append(kept)
        elif kind in ("image", "document"):
            out.append({k: block[k] for k in ("type", "source", "title", "context")
                        if k in block})
        else:
            text.block(block)
    flush_text()
    return out or [{"type": "text", "text": "(empty message)"}]


def tool_reference_text(name: str, rename: Callable[[str], str]) -> str:
    return f"Tool {name} is now available (call it as {rename(name)})."


def _result_content(content: Any, rename: Callable[[str], str]) -> Any:
    """A tool_result's content, with tool_reference blocks as text the API accepts."""
    if content is None:
        return ""
    if not isinstance(content, list):
        return content
    return [{"type": "text", "text": tool_reference_text(str(b.get("tool_name", "?")), rename)}
            if isinstance(b, dict) and b.get("type") == "tool_reference" else b
            for b in content]


@dataclass
class SeedPlan:
    """What a fresh CLI gets: ``transcript`` to resume, and either the index of the first
    request message still to send as the prompt, or (an interrupted turn) the environment
    that makes the CLI continue the turn by itself."""

    transcript: list[dict[str, Any]]
    prompt_from: int
    resume_env: dict[str, str] | None = None
    default_prompt: bool = False  # the CLI adds its own "Continue from where you left off."


def answers_tool_calls(messages: list[dict[str, Any]]) -> bool:
    """The last message is the user's tool results for the assistant message before it."""
    if len(messages) < 2 or messages[-2]["role"] != "assistant":
        return False
    uses = {b.get("id") for b in blocks_of(messages[-2]) if b.get("type") == "tool_use"}
    results = {b.get("tool_use_id") for b in blocks_of(messages[-1])
               if b.get("type") == "tool_result"}
    return bool(uses) and bool(uses & results)


def plan_seed(messages: list[dict[str, Any]], *, tools: bool) -> SeedPlan | None:
    if tools and answers_tool_calls(messages):
        blocks = blocks_of(messages[-1])
        tail = blocks[-1]
        prompt = tail.get("text") if tail.get("type") == "text" else None
        # The prompt travels in the environment: UTF-8, no NUL, under the size limit.
        if prompt and prompt.strip() and jsonsafe.printable(prompt) == prompt \
                and len(prompt.encode()) <= RESUME_PROMPT_LIMIT and "\0" not in prompt:
            blocks = blocks[:-1]
        else:
            prompt = None
        env = {RESUME_TURN_ENV: "1"}
        if prompt:
            env[RESUME_PROMPT_ENV] = prompt
        return SeedPlan(messages[:-1] + [{"role": "user", "content": blocks}], len(messages),
                        env, default_prompt=prompt is None)
    # Otherwise the seed ends at the last assistant message with no pending tool call, so
    # the API never sees a tool_use without its result; the rest goes as the prompt.
    cut = len(messages)
    while cut > 0 and not (messages[cut - 1]["role"] == "assistant" and not any(
            b.get("type") == "tool_use" for b in blocks_of(messages[cut - 1]))):
        cut -= 1
    return SeedPlan(messages[:cut], cut) if cut else None


def transcript_lines(messages: list[dict[str, Any]], *, session_id: str, cwd: str,
                     model: str, version: str, tools: bool,
                     rename: Callable[[str], str]) -> list[dict[str, Any]]:
    """Transcript entries (user/assistant, chained by parentUuid) for ``messages``."""
    lines: list[dict[str, Any]] = []
    parent: str | None = None
    start = time.time() - len(messages)  # strictly increasing timestamps, the last is now
    for i, message in enumerate(messages):
        entry_id = str(uuid.uuid4())
        entry: dict[str, Any] = {
            "parentUuid": parent, "isSidechain": False, "userType": "external",
            "cwd": cwd, "sessionId": session_id, "version": version,
            "type": message["role"], "uuid": entry_id, "timestamp": _iso(start + i),
        }
        content = convert_blocks(message, tools=tools, rename=rename)
        if message["role"] == "assistant":
            uses = any(b["type"] == "tool_use" for b in content)
            entry["message"] = {
                "id": f"msg_seed_{uuid.uuid4().hex[:24]}", "type": "message",
                "role": "assistant", "model": model, "content": content,
                "stop_reason": "tool_use" if uses else "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
        else:
            entry["message"] = {"role": "user", "content": content}
        lines.append(entry)
        parent = entry_id
    return lines


def write_seed(messages: list[dict[str, Any]], *, cwd: str, model: str, version: str,
               tools: bool, rename: Callable[[str], str],
               env: dict[str, str] | None = None) -> tuple[str, Path]:
    """Write a transcript of ``messages`` the CLI can ``--resume``; returns (id, path)."""
    session_id = str(uuid.uuid4())
    folder = locations.cli_project_dir(cwd, env)
    locations.private_dirs(folder)  # a transcript is a private conversation
    path = folder / f"{session_id}.jsonl"
    entries = transcript_lines(messages, session_id=session_id, cwd=cwd, model=model,
                               version=version, tools=tools, rename=rename)
    tmp = path.with_suffix(".jsonl.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a leftover tmp of another mode is made private too
    with open(fd, "w", encoding="utf-8") as f:
        for entry in entries:
            f.write(jsonsafe.dumps(entry, separators=(",", ":")) + "\n")
    os.replace(tmp, path)
    return session_id, path
