"""The flow detail: scrolled from the keyboard, live while its flow streams, errors and
times in words."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import anthropic
from rich.console import Console

from conftest import make_settings
from tui_proxy.console.app import ProxyConsole
from tui_proxy.console.screens.detail import error_text
from tui_proxy.core.flow import FlowState


def _body(app: ProxyConsole) -> str:
    out = Console(width=150, record=True, file=io.StringIO())
    out.print(app.screen.query_one("#detail-body").content)
    return out.export_text()


async def _until(pilot, condition, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await pilot.pause(0.05)


async def test_the_detail_of_a_streaming_flow_moves_and_scrolls_from_the_keyboard(
        tmp_path: Path) -> None:
    app = ProxyConsole(make_settings(tmp_path), run_doctor=False,
                       screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=(100, 24)) as pilot:
        task = asyncio.create_task(anthropic.AsyncAnthropic(
            base_url=app.server.url, api_key="x", max_retries=0).messages.create(
                model="claude-sonnet-5-5", max_tokens=50,
                messages=[{"role": "user", "content": "FAKE:delay=0.05 FAKE:tokens=80"}]))
        await _until(pilot, lambda: any(f.state == FlowState.STREAMING
                                        for f in app.engine.flows.all()))
        await pilot.press("enter")
        await _until(pilot, lambda: type(app.screen).__name__ == "FlowDetail")
        first = _body(app)
        assert "started" in first and "20" in first  # a date, not an epoch number
        await _until(pilot, lambda: _body(app) != first)  # elapsed and text move on
        await asyncio.wait_for(task, 20)
        await _until(pilot, lambda: _row(_body(app), "state") == "done")  # and its end
        # Scrolled once it has stopped growing.
        view = app.screen.query_one("#detail-scroll")
        assert view.max_scroll_y > 0, "the detail is longer than the screen"
        for key, check in (("G", lambda: view.scroll_y == view.max_scroll_y),
                           ("g", lambda: view.scroll_y == 0),
                           ("j", lambda: view.scroll_y == 1),
                           ("space", lambda: view.scroll_y > 1),
                           ("home", lambda: view.scroll_y == 0),
                           ("end", lambda: view.scroll_y == view.max_scroll_y)):
            await pilot.press(key)
            await _until(pilot, check)


def _row(body: str, key: str) -> str | None:
    for line in body.splitlines():
        if line.startswith(key + " "):
            return line[len(key):].strip()
    return None


def test_an_error_reads_as_a_sentence() -> None:
    assert error_text({"type": "rate_limit_error", "status": 429, "class": "plan_limit",
                       "message": "Claude plan usage limit reached"}) == (
        "429 rate_limit_error [plan_limit]: Claude plan usage limit reached")
    assert error_text(None) is None
