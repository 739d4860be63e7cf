"""Agent mode: observe Claude Code's own tool calls through SDK hooks.

Hooks only watch (they return ``{}``, no opinion); the permission mode decides. Each call
becomes a ToolCall event, each outcome a ToolResult, and each file tool a FileOp with
the absolute resolved path and a flag when it falls outside the working directory —
the answer to "Claude says it edited files but I don't see changes".
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable

from claude_agent_sdk import HookContext, HookInput, HookJSONOutput, HookMatcher
from claude_agent_sdk.types import HookEvent

from tui_proxy.core.events import Event, FileOp, ToolCall, ToolResult

FILE_TOOLS = {"Write": "file_path", "Edit": "file_path", "MultiEdit": "file_path",
              "Read": "file_path", "NotebookEdit": "notebook_path"}
WRITING_TOOLS = {"Write", "Edit", "MultiEdit", "NotebookEdit"}


def summarize(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def resolve_path(raw: str, cwd: str) -> tuple[str, bool]:
    """Absolute, normalised path and whether it lies outside ``cwd``."""
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = Path(cwd) / path
    resolved = Path(os.path.realpath(path))
    root = Path(os.path.realpath(cwd))
    outside = resolved != root and root not in resolved.parents
    return str(resolved), outside


class ToolObserver:
    def __init__(self, flow_id: int, cwd: str, publish: Callable[[Event], None],
                 on_tool_start: Callable[[], None] | None = None,
                 on_tool_end: Callable[[], None] | None = None) -> None:
        # flow_id and the callbacks are reassigned when a warm run serves a new flow.
        self.flow_id = flow_id
        self.cwd = cwd
        self.publish = publish
        self.on_tool_start = on_tool_start
        self.on_tool_end = on_tool_end
        self._started: dict[str, float] = {}
        self._reported: set[str] = set()

    def reported(self, tool_use_id: str) -> bool:
        return tool_use_id in self._reported

    def hooks(self) -> dict[HookEvent, list[HookMatcher]]:
        return {
            "PreToolUse": [HookMatcher(matcher=None, hooks=[self._pre])],
            "PostToolUse": [HookMatcher(matcher=None, hooks=[self._post])],
            "PostToolUseFailure": [HookMatcher(matcher=None, hooks=[self._failed])],
        }

    def _path_of(self, tool: str, tool_input: dict[str, Any]) -> tuple[str | None, bool]:
        key = FILE_TOOLS.get(tool)
        raw = tool_input.get(key) if key else None
        if not isinstance(raw, str) or not raw:
            return None, False
        return resolve_path(raw, self.cwd)

    # The hooks read their input as a plain mapping: the fields they use are common to the
    # three hook events they are registered for.
    async def _pre(self, hook_input: HookInput, tool_use_id: str | None,
                   _ctx: HookContext) -> HookJSONOutput:
        data: dict[str, Any] = dict(hook_input)
        tool = str(data.get("tool_name", "?"))
        tool_input = data.get("tool_input") or {}
        use_id = tool_use_id or str(data.get("tool_use_id", ""))
        self._started[use_id] = time.monotonic()
        path, outside = self._path_of(tool, tool_input)
        self.publish(ToolCall(self.flow_id, use_id, tool, summarize(tool_input), path, outside))
        if self.on_tool_start:
            self.on_tool_start()
        return {}

    def _duration(self, use_id: str, data: dict[str, Any]) -> float | None:
        started = self._started.pop(use_id, None)
        if isinstance(data.get("duration_ms"), (int, float)):
            return float(data["duration_ms"])
        return (time.monotonic() - started) * 1000 if started is not None else None

    def _finish(self, data: dict[str, Any], tool_use_id: str | None, outcome: str,
                summary: str) -> None:
        tool = str(data.get("tool_name", "?"))
        tool_input = data.get("tool_input") or {}
        use_id = tool_use_id or str(data.get("tool_use_id", ""))
        duration = self._duration(use_id, data)
        self._reported.add(use_id)
        self.publish(ToolResult(self.flow_id, use_id, tool, outcome, summary, duration))
        path, outside = self._path_of(tool, tool_input)
        if path is not None:
            size: int | None = None
            if tool == "Write" and isinstance(tool_input.get("content"), str):
                size = len(tool_input["content"].encode())
            elif tool in WRITING_TOOLS and outcome == "ok":
                try:
                    size = os.path.getsize(path)
                except OSError:
                    size = None
            self.publish(FileOp(self.flow_id, tool, path, size, outcome, duration, outside))
        if self.on_tool_end:
            self.on_tool_end()

    async def _post(self, hook_input: HookInput, tool_use_id: str | None,
                    _ctx: HookContext) -> HookJSONOutput:
        data: dict[str, Any] = dict(hook_input)
        self._finish(data, tool_use_id, "ok", summarize(data.get("tool_response", "")))
        return {}

    async def _failed(self, hook_input: HookInput, tool_use_id: str | None,
                      _ctx: HookContext) -> HookJSONOutput:
        data: dict[str, Any] = dict(hook_input)
        self._finish(data, tool_use_id, "error", summarize(data.get("error", "failed")))
        return {}
