"""Secrets never reach logs or the journal; the log level setting is honoured."""

import asyncio
import logging

from tui_proxy.core import logbridge
from tui_proxy.core.bus import EventBus
from tui_proxy.core.redact import REDACTED, redact

KEY = "sk-ant-oat01-abcdefghijklmnopqrstuvwxyz"


def test_secret_keys_and_secret_looking_values_are_hidden():
    data = {"x-api-key": "abc", "Authorization": "Bearer abcdefghijkl", "max_tokens": 5,
            "input_tokens": 7, "messages": [{"role": "user", "content": f"my key {KEY}"}],
            "nested": {"claudeAiOauth": {"accessToken": "t0ken-value"}}}
    out = redact(data)
    assert out["x-api-key"] == out["Authorization"] == REDACTED
    assert out["max_tokens"] == 5 and out["input_tokens"] == 7
    assert KEY not in str(out) and out["messages"][0]["content"] == f"my key {REDACTED}"
    assert "t0ken-value" not in str(out)
    assert data["x-api-key"] == "abc", "the original is untouched"


async def test_log_lines_are_redacted_and_below_the_level_dropped():
    bus = EventBus()
    sub = bus.subscribe()
    handler = logbridge.install(bus, debug=False, level="warning")
    try:
        logging.getLogger("tui_proxy.x").info("not shown")
        logging.getLogger("tui_proxy.x").warning("client sent %s", KEY)
        await asyncio.sleep(0.05)
        messages = [e.message for e in sub.drain()]
    finally:
        logbridge.uninstall(handler)
    assert messages == [f"client sent {REDACTED}"]
