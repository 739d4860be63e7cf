"""Build the SDK options of one flow from the settings and the request."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

from claude_agent_sdk import ClaudeAgentOptions, HookMatcher

from ..settings import Settings
from ..wire.models import resolve_model
from ..wire.request import MessagesRequest

# A single CLI argument over 128 KiB makes exec fail (E2BIG); stay well below it.
SYSTEM_PROMPT_FILE_THRESHOLD = 64 * 1024
# The SDK's default limit on one stdout line is 1 MiB; a long reply is one line.
MAX_BUFFER_SIZE = 64 * 1024 * 1024


def effective_mode(settings: Settings, request: MessagesRequest) -> str:
    """chat or agent. (Client-tool pass-through arrives in a later issue.)"""
    if settings.mode == "agent":
        return "agent"
    return "chat"


@dataclass
class BuiltOptions:
    options: ClaudeAgentOptions
    summary: dict[str, Any]
    temp_files: list[str] = field(default_factory=list)

    def cleanup(self) -> None:
        for path in self.temp_files:
            try:
                os.unlink(path)
            except OSError:
                pass
        self.temp_files.clear()


def _system_prompt(text: str, temp_files: list[str]) -> str | dict[str, str] | None:
    if not text:
        return None
    if len(text.encode()) <= SYSTEM_PROMPT_FILE_THRESHOLD:
        return text
    fd, path = tempfile.mkstemp(prefix="claude-proxy-system-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    temp_files.append(path)
    return {"type": "file", "path": path}


def _thinking(request: MessagesRequest) -> dict[str, Any]:
    thinking = request.thinking or {}
    if thinking.get("type") == "enabled":
        return {"type": "enabled", "budget_tokens": int(thinking["budget_tokens"])}
    if thinking.get("type") == "adaptive":
        return {"type": "adaptive"}
    return {"type": "disabled"}


def build_options(
    settings: Settings,
    request: MessagesRequest,
    *,
    mode: str,
    cli_path: str | None,
    stderr: Callable[[str], None],
    hooks: dict[str, list[HookMatcher]] | None = None,
    resume: str | None = None,
) -> BuiltOptions:
    temp_files: list[str] = []
    system_text = request.system_text
    common: dict[str, Any] = dict(
        model=resolve_model(request.model, settings.model_aliases),
        cwd=settings.cwd,
        cli_path=cli_path,
        include_partial_messages=True,
        stderr=stderr,
        max_buffer_size=MAX_BUFFER_SIZE,
        thinking=_thinking(request),
        resume=resume,
        # Client text is untrusted: no @path expansion, no slash commands.
        verbatim_prompts=True,
    )
    if mode == "agent":
        system_prompt: Any = {"type": "preset", "preset": "claude_code"}
        if system_text:
            system_prompt["append"] = system_text
        options = ClaudeAgentOptions(
            **common,
            system_prompt=system_prompt,
            tools={"type": "preset", "preset": "claude_code"},
            permission_mode=settings.permission_mode,
            hooks=hooks,
        )
    else:
        options = ClaudeAgentOptions(
            **common,
            system_prompt=_system_prompt(system_text, temp_files),
            tools=[],
            setting_sources=[],
        )
    summary = {
        "mode": mode,
        "model": options.model,
        "cwd": settings.cwd,
        "cli_path": cli_path,
        "tools": "claude_code" if mode == "agent" else [],
        "setting_sources": options.setting_sources,
        "permission_mode": options.permission_mode,
        "system_prompt": ("file" if isinstance(options.system_prompt, dict)
                          and options.system_prompt.get("type") == "file"
                          else f"{len(system_text)} chars"),
        "thinking": options.thinking,
        "resume": resume,
    }
    return BuiltOptions(options, summary, temp_files)
