"""Route Python logging (ours, aiohttp's, the SDK's) into the event bus.

While the console runs, nothing may write to the terminal's stderr (it would draw over
the screen), so log records become ``ProxyLog`` events like everything else (the
pattern of mitmproxy's event store).
"""

from __future__ import annotations

import asyncio
import logging
import threading

from tui_proxy.core.bus import EventBus
from tui_proxy.core.redact import redact_text
from tui_proxy.core.events import ProxyLog


class BusLogHandler(logging.Handler):
    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.bus = bus
        self.loop = loop
        self._thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.levelno >= logging.ERROR:
                message += f" ({record.exc_info[1]!r})"
            event = ProxyLog(None, record.levelname.lower(), record.name, message)
            if threading.get_ident() == self._thread:
                self.bus.publish(event)
            elif not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self.bus.publish, event)
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


class _OwnKillFilter(logging.Filter):
    """The SDK logs an ERROR when a CLI exits on SIGTERM/SIGKILL; when the proxy sent that
    signal (cancel, timeout, release) it is expected, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not ("Fatal error in message reader" in text
                    and any(f"exit code {code}" in text for code in ("-15", "-9", "143", "137")))


def install(bus: EventBus, debug: bool, level: str = "info") -> BusLogHandler:
    """Replace the root handlers with the bus handler (nothing goes to stderr).

    ``level`` is the ``log_level`` setting; ``debug`` overrides it with everything."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = BusLogHandler(bus, asyncio.get_running_loop())
    handler.addFilter(_OwnKillFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else getattr(logging, level.upper(), logging.INFO))
    handler.addFilter(_Redact())
    # The SDK announces the bundled CLI on every spawn; that belongs in debug output.
    logging.getLogger("claude_agent_sdk").setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler


class _Redact(logging.Filter):
    """Keys and tokens never reach the log (see redact.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = redact_text(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


def uninstall(handler: BusLogHandler) -> None:
    logging.getLogger().removeHandler(handler)
