"""Copy and export from the table and the flow detail: the response text, the request as a
curl command that really re-sends it, the flow as JSON in a file beside the screenshots."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import anthropic

from conftest import make_settings
from tui_proxy.console.app import ProxyConsole
from tui_proxy.console.widgets.flows_table import FlowsTable


async def _until(pilot, condition, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await pilot.pause(0.05)


async def test_copy_text_curl_and_export(tmp_path: Path) -> None:
    app = ProxyConsole(make_settings(tmp_path), run_doctor=False,
                       screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=(160, 50)) as pilot:
        reply = await anthropic.AsyncAnthropic(
            base_url=app.server.url, api_key="x", max_retries=0).messages.create(
                model="claude-sonnet-5-5", max_tokens=50,
                messages=[{"role": "user", "content": "copy me please"}])
        said = reply.content[0].text
        table = app.query_one(FlowsTable)
        await _until(pilot, lambda: table.row_count == 1
                     and app.engine.flows.get(1).state.terminal)
        await pilot.pause(0.2)
        await pilot.press("y")
        await _until(pilot, lambda: app.clipboard == said)
        await pilot.press("Y")
        await _until(pilot, lambda: app.clipboard.startswith("curl "))
        curl = app.clipboard
        assert "copy me please" in curl and app.server.url in curl
        # The command works: run it against the same server (from a thread: the app's
        # loop must keep serving).
        proc = await asyncio.to_thread(subprocess.run, ["bash", "-c", curl],
                                       capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["content"][0]["text"] == said
        await _until(pilot, lambda: table.row_count == 2)
        await pilot.press("g")  # back to the first flow
        await _until(pilot, lambda: table.selected_flow_id == 1)
        await pilot.press("enter")
        await _until(pilot, lambda: type(app.screen).__name__ == "FlowDetail")
        await pilot.press("x")  # inside the detail: this flow
        await _until(pilot, lambda: list((tmp_path / "shots").glob("flow-1-*.json")))
        saved = json.loads(next((tmp_path / "shots").glob("flow-1-*.json")).read_text())
        assert saved["id"] == 1 and saved["state"] == "done"
        assert saved["response_text"] == said
        assert saved["request"]["messages"][0]["content"] == "copy me please"
        assert any(e["kind"] == "flow_started" for e in saved["timeline"])
        assert json.loads(app.clipboard)["id"] == 1
