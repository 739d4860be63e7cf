"""Build the SDK options of one flow from the settings and the request."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from claude_agent_sdk import ClaudeAgentOptions, HookMatcher
from claude_agent_sdk.types import (
    HookEvent, McpSdkServerConfig, SystemPromptFile, SystemPromptPreset,
)

from tui_proxy.config.settings import Settings
from tui_proxy.wire.models import resolve_model
from tui_proxy.wire.request import THINKING_DISPLAYS, MessagesRequest
from tui_proxy.wire.jsonsafe import printable
from tui_proxy.sdk.child import explicit_env
from tui_proxy.sdk.workdir import run_cwd

# A single CLI argument over 128 KiB makes exec fail (E2BIG); stay well below it.
SYSTEM_PROMPT_FILE_THRESHOLD = 64 * 1024
# The SDK's default limit on one stdout line is 1 MiB; a long reply is one line.
MAX_BUFFER_SIZE = 64 * 1024 * 1024


# Switches of the CLI that would change what the client sent before the model sees it.
# Found in the bundled CLI's strings and checked against a recording upstream stub:
# CLAUDE_CODE_TOTAL_TOKENS_REMINDER=off keeps tool results byte-exact (otherwise a
# "<total_tokens>" reminder is appended inside every tool_result and a newline to its text);
# ENABLE_TOOL_SEARCH=false keeps the client's tools declared as sent (no CLI tool search).
CONVERSATION_ENV = {"CLAUDE_CODE_TOTAL_TOKENS_REMINDER": "off", "ENABLE_TOOL_SEARCH": "false"}


PASSTHROUGH_NOTE = (
    "\n\nThe client's tools are available to you as mcp__client__<name>; "
    "<name> is how any instructions above refer to them.")


@dataclass
class BuiltOptions:
    options: ClaudeAgentOptions
    summary: dict[str, Any]
    temp_files: list[str] = field(default_factory=list)

    def cleanup(self) -> None:
        for path in self.temp_files:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.temp_files.clear()


def _system_prompt(text: str, temp_files: list[str]) -> str | SystemPromptFile | None:
    if not text:
        return None
    # A lone surrogate cannot travel in argv or a UTF-8 file: it becomes U+FFFD there.
    text = printable(text)
    if len(text.encode()) <= SYSTEM_PROMPT_FILE_THRESHOLD:
        return text
    fd, path = tempfile.mkstemp(prefix="claude-proxy-system-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    temp_files.append(path)
    return SystemPromptFile(type="file", path=path)


def _thinking(request: MessagesRequest) -> dict[str, Any]:
    thinking = request.thinking or {}
    display = thinking.get("display")
    shown = {"display": display} if display in THINKING_DISPLAYS else {}
    if thinking.get("type") == "enabled":
        return {"type": "enabled", "budget_tokens": int(thinking["budget_tokens"]), **shown}
    if thinking.get("type") == "adaptive":
        return {"type": "adaptive", **shown}
    return {"type": "disabled"}


def _honoured(request: MessagesRequest) -> dict[str, Any]:
    """Request fields the SDK takes as options (see wire/fields.py)."""
    out: dict[str, Any] = {}
    if request.effort:
        out["effort"] = request.effort
    if request.output_format:
        out["output_format"] = request.output_format
    if request.task_budget:
        out["task_budget"] = {"total": request.task_budget}
    if request.betas:
        out["betas"] = list(request.betas)
    return out


def tool_choice_note(request: MessagesRequest) -> str:
    """What the model is told of a forced or refused tool choice (the stream rules in
    wire/stops.py then end the response where the API would)."""
    choice = request.tool_choice or {}
    kind = choice.get("type")
    if kind == "tool":
        return (f"\n\nIn this response, call the tool mcp__client__{choice['name']} (and "
                "nothing else) before anything else.")
    if kind == "any":
        return "\n\nIn this response, call one of the mcp__client__ tools before anything else."
    if kind == "none":
        return "\n\nIn this response, do not call any tool: answer in text."
    if choice.get("disable_parallel_tool_use"):
        return "\n\nCall at most one tool in this response."
    return ""


def build_options(
    settings: Settings,
    request: MessagesRequest,
    *,
    mode: str,
    cli_path: str | None,
    stderr: Callable[[str], None],
    hooks: dict[HookEvent, list[HookMatcher]] | None = None,
    resume: str | None = None,
    client_tools: McpSdkServerConfig | None = None,
    extra_env: dict[str, str] | None = None,
) -> BuiltOptions:
    temp_files: list[str] = []
    system_text = request.system_text
    common: dict[str, Any] = dict(
        model=resolve_model(request.model, settings.model_aliases),
        cwd=run_cwd(settings.cwd, system_text, mode),
        cli_path=cli_path,
        include_partial_messages=True,
        stderr=stderr,
        max_buffer_size=MAX_BUFFER_SIZE,
        thinking=_thinking(request),
        resume=resume,
        # Client text is untrusted: no @path expansion, no slash commands.
        verbatim_prompts=True,
        # Only the servers we pass: none of the host's MCP configuration leaks in.
        strict_mcp_config=True,
        **_honoured(request),
    )
    # What the user gives the CLI on purpose (CLAUDE_PROXY_CLI_ENV_X=v) wins over our
    # conversation switches; a resumed interrupted turn's variables belong to this spawn.
    # (Agent mode is the CLI's own conversation: its switches stay as they are.)
    switches = {} if mode == "agent" else CONVERSATION_ENV
    env = {**switches, **explicit_env(), **(extra_env or {})}
    options = ClaudeAgentOptions(**common, **_mode_options(
        settings, request, mode, env, hooks, client_tools, temp_files))
    summary = _summary(request, options, mode, common["cwd"], cli_path, resume)
    return BuiltOptions(options, summary, temp_files)


def _mode_options(settings: Settings, request: MessagesRequest, mode: str, env: dict[str, str],
                  hooks: dict[HookEvent, list[HookMatcher]] | None,
                  client_tools: McpSdkServerConfig | None,
                  temp_files: list[str]) -> dict[str, Any]:
    """What each mode gives the CLI: its system prompt, tools, settings and environment."""
    system_text = request.system_text
    if mode == "agent":
        system_prompt = SystemPromptPreset(type="preset", preset="claude_code")
        if system_text:
            system_prompt["append"] = printable(system_text)
        return dict(system_prompt=system_prompt,
                    tools={"type": "preset", "preset": "claude_code"},
                    permission_mode=settings.permission_mode, hooks=hooks, env=env)
    if mode == "passthrough":
        assert client_tools is not None
        # A parked call may wait as long as the proxy keeps it parked; the CLI must not
        # give up first.
        mcp_timeout_ms = settings.parked_timeout_ms + 60_000
        return dict(
            system_prompt=_system_prompt(system_text + PASSTHROUGH_NOTE
                                         + tool_choice_note(request), temp_files),
            # The CLI's own WebSearch/WebFetch fulfil the request's web_search/web_fetch
            # server tools inside the turn (request.server_tools); nothing else built in.
            tools=list(request.cli_tools),
            setting_sources=[],
            mcp_servers={client_tools["name"]: client_tools},
            allowed_tools=[f"mcp__{client_tools['name']}", *request.cli_allow],
            disallowed_tools=list(request.cli_deny),
            env={**env, "MCP_TOOL_TIMEOUT": str(mcp_timeout_ms)},
        )
    return dict(system_prompt=_system_prompt(system_text, temp_files),
                tools=list(request.cli_tools), allowed_tools=list(request.cli_allow),
                disallowed_tools=list(request.cli_deny), setting_sources=[], env=env)


def _summary(request: MessagesRequest, options: ClaudeAgentOptions, mode: str, cwd: Any,
             cli_path: str | None, resume: str | None) -> dict[str, Any]:
    """The options a flow shows (console, journal): what the CLI was really given."""
    return {
        "mode": mode,
        "model": options.model,
        "cwd": cwd,
        "cli_path": cli_path,
        "tools": ("claude_code" if mode == "agent" else
                  [t["name"] for t in request.tools or []] if mode == "passthrough" else []),
        "mcp_tool_timeout_ms": options.env.get("MCP_TOOL_TIMEOUT"),
        "setting_sources": options.setting_sources,
        "permission_mode": options.permission_mode,
        "system_prompt": ("file" if isinstance(options.system_prompt, dict)
                          and options.system_prompt.get("type") == "file"
                          else f"{len(request.system_text)} chars"),
        "thinking": options.thinking,
        "resume": resume,
        **{key: value for key, value in _honoured(request).items() if key != "output_format"},
        **({"output_format": "json_schema"} if request.output_format else {}),
        **({"cli_tools": list(request.cli_tools)} if request.cli_tools else {}),
    }
