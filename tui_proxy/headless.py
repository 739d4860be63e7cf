"""Headless mode: the proxy with one human-readable log line per request event on stdout."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from contextlib import suppress
from typing import TextIO

from tui_proxy.core import logbridge
from tui_proxy.core.bus import EventBus
from tui_proxy.sdk.runner import sdk_engine
from tui_proxy.core.events import (
    ApiRetry, Cancelled, Event, FileOp, FlowFailed, FlowFinished, FlowQueued, FlowStarted, Note,
    ProxyLog, RateLimitInfo, SdkSpawned, SessionInfo, SettingsApplied, StderrLine, TextDelta,
    ThinkingDelta, TimedOut, ToolCall, ToolResult,
)
from tui_proxy.http.server import ProxyServer
from tui_proxy.config.settings import Settings
from tui_proxy.core.redact import redact_text, remember_environment, remember_secret
from tui_proxy.wire.jsonsafe import printable


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts % 1 * 1000):03d}"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(epoch: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) if epoch else "unknown"


def describe(event: Event) -> str | None:
    """One line for an event, or None for per-token events (shown only with --debug)."""
    match event:
        case FlowStarted():
            mode = f" mode={event.mode}"
            return (f"started {event.method} {event.path} model={event.model} "
                    f"stream={'yes' if event.stream else 'no'}{mode} "
                    f"messages={event.summary.get('messages')} client={_short(event.client, 40)}")
        case FlowQueued():
            return f"queued at position {event.position}"
        case SdkSpawned():
            return f"CLI started pid={event.pid} in {event.spawn_ms:.0f} ms ({event.cli_path})"
        case SessionInfo():
            return f"session {event.session_id}{' (resumed)' if event.resumed else ''}"
        case ToolCall():
            where = f" path={event.path}" if event.path else ""
            warn = " OUTSIDE WORKING DIRECTORY" if event.outside_cwd else ""
            return f"tool {event.name} {event.input_summary}{where}{warn}"
        case ToolResult():
            took = f" in {event.duration_ms:.0f} ms" if event.duration_ms is not None else ""
            return f"tool result {event.name} {event.outcome}{took}: {_short(event.summary, 100)}"
        case FileOp():
            size = f" {event.bytes} bytes" if event.bytes is not None else ""
            warn = " OUTSIDE WORKING DIRECTORY" if event.outside_cwd else ""
            return f"file {event.tool} {event.path}{size} {event.outcome}{warn}"
        case StderrLine():
            return f"stderr: {_short(event.line, 200)}"
        case RateLimitInfo():
            used = f" {event.utilization:.0%} used" if event.utilization is not None else ""
            return (f"rate limit {event.status} ({event.limit_type or '?'}){used}, "
                    f"resets {_when(event.resets_at)}")
        case ApiRetry():
            return (f"API retry {event.attempt}/{event.max_retries} after {event.error_status} "
                    f"{event.error} (waiting {event.delay_ms} ms)")
        case TimedOut():
            return f"TIMED OUT: {event.limit} limit of {event.limit_s:g} s"
        case Cancelled():
            return f"cancelled ({event.reason})"
        case FlowFailed():
            return f"ERROR {event.status} {event.error_type} [{event.error_class}]: " \
                   f"{_short(event.message, 200)}"
        case FlowFinished():
            ttft = f" ttft={event.ttft_s:.2f}s" if event.ttft_s is not None else ""
            cost = f" cost=${event.cost_usd:.4f}" if event.cost_usd else ""
            return (f"finished {event.state} in {event.duration_s:.2f}s{ttft} "
                    f"tokens in={event.input_tokens} out={event.output_tokens}{cost} "
                    f"stop={event.stop_reason}")
        case Note():
            return f"{event.level}: {event.message}"
        case ProxyLog():
            return f"[{event.level}] {event.logger}: {_short(event.message, 300)}"
        case SettingsApplied():
            return ("settings reloaded: " + (", ".join(event.changed) or "no changes")
                    if not event.error else f"settings reload failed: {event.error}")
        case TextDelta() | ThinkingDelta():
            return None
    return f"{event.kind}"


def format_line(event: Event, debug: bool = False) -> str | None:
    text = describe(event)
    if text is None:
        if not debug:
            return None
        text = f"{event.kind} {event.text!r}"  # type: ignore[attr-defined]
    flow = f"#{event.flow_id}" if event.flow_id is not None else "proxy"
    # Every field can carry a secret (model=, client=, error messages, CLI stderr).
    return redact_text(f"{_clock(event.ts)} {flow:>6} {text}")


async def print_events(bus: EventBus, out: TextIO, debug: bool, stop: asyncio.Event) -> None:
    sub = bus.subscribe(name="headless")
    try:
        while not stop.is_set() or len(sub):
            await sub.wait(0.2)
            lines = [line for e in sub.drain() if (line := format_line(e, debug))]
            if lines:
                out.write(printable("\n".join(lines)) + "\n")
                out.flush()
    finally:
        sub.close()


async def run_headless(settings: Settings, out: TextIO = sys.stdout) -> int:
    remember_secret(settings.api_key)
    remember_environment()
    bus = EventBus()
    handler = logbridge.install(bus, settings.debug, settings.log_level)
    engine = sdk_engine(settings, bus)
    server = ProxyServer(engine)
    stop = asyncio.Event()
    printer_done = asyncio.Event()

    async def printer() -> None:
        try:
            await print_events(bus, out, settings.debug, printer_done)
        except asyncio.CancelledError:
            pass

    printer_task = asyncio.create_task(printer())
    try:
        await server.start()
    except OSError as exc:
        printer_done.set()
        await printer_task
        print(f"claude-proxy-tui: {exc}", file=sys.stderr)
        logbridge.uninstall(handler)
        return 2
    cli = engine.cli
    out.write(f"claude-proxy-tui listening on {server.where}\n"
              f"  cli: {cli.path} ({cli.source}) version {cli.version or '?'}"
              f"{'  ERROR: ' + cli.error if cli.error else ''}\n"
              f"  cwd: {settings.cwd}  mode: {settings.mode}  permission mode: "
              f"{settings.permission_mode}\n")
    out.flush()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        busy = len(engine.flows.active)
        out.write(f"shutting down ({busy} in flight"
                  + (f"; they may finish for up to {settings.drain_s} s" if busy else "")
                  + ")\n")
        out.flush()
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second signal: stop draining now
            with suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, engine.cancel_all, "shutdown")
        await server.stop(settings.drain_s)
        printer_done.set()
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(printer_task, 2)
        logbridge.uninstall(handler)
    return 0
