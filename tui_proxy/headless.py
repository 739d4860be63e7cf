"""Headless mode: the proxy with one human-readable log line per request event on stdout."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from contextlib import suppress
from typing import TextIO
from collections.abc import Callable

from tui_proxy.core import logbridge
from tui_proxy.core.bus import EventBus
from tui_proxy.sdk.runner import sdk_engine
from tui_proxy.core.describe import describe
from tui_proxy.core.events import (
    Event, FileOp, Note, ProxyLog, StderrLine, TextDelta, ThinkingDelta, ToolCall, ToolResult,
)
from tui_proxy.http.server import ProxyServer
from tui_proxy.config.settings import Settings
from tui_proxy.core.redact import redact_text, remember_environment, remember_secret
from tui_proxy.wire.jsonsafe import printable


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts % 1 * 1000):03d}"


# What a headless line puts before an event's text where the text alone would not say
# what it is (the console says it with the panel the line is in).
LABELS: dict[type, Callable[[Event], str]] = {
    ToolCall: lambda e: "tool ",
    ToolResult: lambda e: "tool result ",
    FileOp: lambda e: "file ",
    StderrLine: lambda e: "stderr: ",
    Note: lambda e: f"{e.level}: ",  # type: ignore[attr-defined]
    ProxyLog: lambda e: f"[{e.level}] ",  # type: ignore[attr-defined]
}


def format_line(event: Event, debug: bool = False) -> str | None:
    """One log line for an event, or None for per-token events (shown only with --debug)."""
    if isinstance(event, (TextDelta, ThinkingDelta)) and not debug:
        return None
    label = LABELS.get(type(event))
    text = (label(event) if label else "") + describe(event)
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
        with contextlib.suppress(asyncio.CancelledError):
            await print_events(bus, out, settings.debug, printer_done)

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
