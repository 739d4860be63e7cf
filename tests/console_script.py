"""Scripted console content for snapshot tests: flows and events with fixed times.

Nothing here is live: no server, no CLI, a frozen clock, a pinned address, so the
picture depends only on this script and the console's code.
"""

from __future__ import annotations

import time
from pathlib import Path

from tui_proxy.console.app import ProxyConsole
from tui_proxy.core.events import (
    ApiRetry, Cancelled, FileOp, FlowFailed, FlowFinished, FlowStarted, Parked, RateLimitInfo,
    SessionInfo, StderrLine, TextDelta, ThinkingDelta, TimedOut, ToolCall, ToolResult,
)
from tui_proxy.core.flow import Flow, FlowState
from tui_proxy.config.settings import Settings

T0 = 1_795_000_000.0  # 2026-11-18, any fixed instant
URL = "http://127.0.0.1:3456"


def utc_clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts))


def scripted_app(cwd: str = "/home/dev/project") -> ProxyConsole:
    settings = Settings(cwd=cwd, cli_path="/usr/local/bin/claude", port=3456, mode="auto")
    app = ProxyConsole(settings, start_server=False, run_doctor=False,
                       clock=lambda: T0 + 30, clock_format=utc_clock,
                       screenshot_dir=Path("/tmp/claude-proxy-tui-shots"))
    app.engine.cli = app.engine.cli.__class__("/usr/local/bin/claude", "flag:--cli-path",
                                              "2.1.330 (Claude Code)")
    app.url = URL
    app.login = "yes"
    return app


FLOWS = [  # id, client, model, state, elapsed, ttft, out, session
    (1, "claude-cli/2.1.330", "claude-sonnet-5-5", FlowState.DONE, 4.2, 0.81, 312, "3f2a9c1e"),
    (2, "opencode/1.4.2", "claude-opus-5-5", FlowState.ERROR, 1.1, None, 0, "9b1d7e20"),
    (3, "opencode/1.4.2", "claude-opus-5-5", FlowState.PARKED, 6.0, 0.92, 88, "9b1d7e20"),
    (4, "AsyncAnthropic/Py", "claude-haiku-5-5", FlowState.CANCELLED, 12.5, 0.35, 401,
     "c0ffee12"),
    (5, "claude-cli/2.1.330", "claude-sonnet-5-5", FlowState.TIMED_OUT, 900.0, 1.2, 57,
     "d00dfeed"),
    (6, "opencode/1.4.2", "claude-sonnet-5-5", FlowState.STREAMING, 3.4, 0.74, 164,
     "a1b2c3d4"),
    (7, "claude-cli/2.1.332", "claude-sonnet-5-5", FlowState.STREAMING, 23.0, 1.1, 40,
     "e7e7e7e7"),  # nothing since it started: stalled
]
OUTCOMES = {  # what the engine records as a flow ends: the reason column shows it
    1: {"stop_reason": "end_turn"},
    2: {"error": {"type": "rate_limit_error", "status": 429, "class": "plan_limit",
                  "message": "Claude plan usage limit reached"}},
    4: {"cancel_reason": "operator"},
    5: {"error": {"type": "timeout_error", "status": 504, "class": "timeout",
                  "message": "inactivity limit 900 s"}},
}


def add_flows(app: ProxyConsole) -> None:
    for fid, client, model, state, elapsed, ttft, out, session in FLOWS:
        flow = Flow(id=fid, request_id=f"req_{fid:024d}", method="POST", path="/v1/messages",
                    client=client, model=model, stream=True, mode="passthrough",
                    summary={"messages": 3, "tools": ["read", "edit", "bash"],
                             "system_chars": 12400})
        flow.created, flow.created_mono = T0 + fid, 1000.0 + fid
        flow.finished_mono = flow.created_mono + elapsed  # frozen, even for a live flow
        if ttft is not None:
            flow.first_token_mono = flow.created_mono + ttft
        flow.output_tokens, flow.session_id = out, session + "-0000-4000-8000"
        flow.transition(state)
        for name, value in OUTCOMES.get(fid, {}).items():
            setattr(flow, name, value)
        if state == FlowState.PARKED:
            flow.waiting_on = [{"id": "toolu_01", "name": "edit"}, {"id": "toolu_02",
                                                                    "name": "bash"}]
        app.engine.flows.add(flow)
        if state.terminal:
            app.engine.flows.finish(flow)
    app.engine.flows._next_id = 8


def events() -> list:
    at = lambda s: {"ts": T0 + s}  # noqa: E731
    out = [FlowStarted(6, "POST", "/v1/messages", "claude-sonnet-5-5", "opencode/1.4.2",
                       True, "passthrough", {"messages": 3}, **at(6)),
           SessionInfo(6, "a1b2c3d4-0000-4000-8000", "claude-sonnet-5-5", False, **at(6.2)),
           ThinkingDelta(6, "The user wants the failing test fixed; look at the fixture "
                            "first.\n", **at(6.5))]
    words = ["The", "fixture", "opens", "the", "journal", "before", "the", "temp", "dir",
             "exists,", "so", "the", "first", "write", "fails.", "I", "will", "create", "the",
             "folder", "in", "the", "fixture", "and", "keep", "the", "test", "as", "it",
             "is.\nHere", "is", "the", "change:\n"]
    out += [TextDelta(6, w + " ", **at(28 + i * 0.01)) for i, w in enumerate(words)]
    out += [
        ToolCall(1, "toolu_a", "Write", '{"file_path": "src/app.py"}',
                 path="/home/dev/project/src/app.py", **at(2)),
        ToolResult(1, "toolu_a", "Write", "ok", "wrote 1,204 bytes", 12.0, **at(2.1)),
        FileOp(1, "Write", "/home/dev/project/src/app.py", 1204, "ok", 12.0, False, **at(2.1)),
        FileOp(1, "Edit", "/home/dev/project/tests/test_app.py", 388, "ok", 8.0, False,
               **at(2.4)),
        FileOp(1, "Write", "/home/dev/notes/todo.md", 97, "ok", 5.0, True, **at(2.6)),
        RateLimitInfo(2, "rejected", "five_hour", 1.0, T0 + 3600 + 754, **at(3)),
        FlowFailed(2, "rate_limit_error", 429, "Claude plan usage limit reached (five-hour "
                   "limit, resets 15:00 UTC)", "plan_limit", **at(3.1)),
        Parked(3, ("toolu_01", "toolu_02"), ("edit", "bash"), 1800.0, **at(4)),
        ApiRetry(4, 1, 10, 500.0, 529, "overloaded", **at(4.5)),
        Cancelled(4, "operator", **at(16)),
        TimedOut(5, "inactivity", 900.0, 900.0, **at(905)),
        StderrLine(5, "Error: stream idle for 900 s", **at(905)),
        FlowFinished(1, "done", "end_turn", 5120, 312, 0.0412, 4.2, 0.81, "3f2a9c1e",
                     **at(5.2)),
    ]
    return out


async def script(pilot) -> None:
    app: ProxyConsole = pilot.app
    add_flows(app)
    for event in events():
        app.engine.publish(event)
    app.drain()
    app.slow_tick()
    await pilot.pause()
