"""Console conventions: j/k/g/G, sorting by a column (key and header click), errors only,
the user's own keymap by binding id, and a legend of states in help."""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path

import anthropic
from rich.console import Console

from conftest import make_settings
from tui_proxy.console.app import ProxyConsole, binding_ids
from tui_proxy.console.widgets.flows_table import FlowsTable


async def _until(pilot, condition, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await pilot.pause(0.05)


def _ids(table: FlowsTable) -> list[int]:
    return [int(table.coordinate_to_cell_key((r, 0)).row_key.value)
            for r in range(table.row_count)]


async def _three_flows(app: ProxyConsole, pilot) -> FlowsTable:
    client = anthropic.AsyncAnthropic(base_url=app.server.url, api_key="x", max_retries=0)
    for text in ("FAKE:tokens=30", "FAKE:overloaded", "FAKE:tokens=3"):
        with contextlib.suppress(anthropic.APIError):  # the overloaded one fails, as meant
            await client.messages.create(model="claude-sonnet-5-5", max_tokens=50,
                                         messages=[{"role": "user", "content": text}])
    table = app.query_one(FlowsTable)
    await _until(pilot, lambda: table.row_count == 3
                 and all(f.state.terminal for f in app.engine.flows.all()))
    await pilot.pause(0.3)
    return table


async def test_vi_keys_sorting_and_errors_only(tmp_path: Path) -> None:
    app = ProxyConsole(make_settings(tmp_path), run_doctor=False,
                       screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=(160, 50)) as pilot:
        table = await _three_flows(app, pilot)
        table.focus()
        assert table.cursor_row == 2  # following the newest
        await pilot.press("k")
        await _until(pilot, lambda: table.cursor_row == 1)
        assert not app.follow  # the user moved away
        await pilot.press("g")
        await _until(pilot, lambda: table.cursor_row == 0)
        await pilot.press("j")
        await _until(pilot, lambda: table.cursor_row == 1)
        await pilot.press("G")
        await _until(pilot, lambda: table.cursor_row == 2)
        assert _ids(table) == [1, 2, 3]
        # Sort by out tokens: o steps through the columns from # to client … out.
        table.sort_by("out", reverse=False)
        await pilot.pause(0.1)
        outs = [app.engine.flows.get(i).output_tokens for i in _ids(table)]
        assert outs == sorted(outs) and _ids(table) != [1, 2, 3]
        selected = table.selected_flow_id
        columns = list(table.columns.values())
        x = sum(c.get_render_width(table) for c in columns[:[c.key.value for c in columns]
                                                            .index("out")]) + 2
        await pilot.click(FlowsTable, offset=(x, 0))  # the header of "out tok"
        await pilot.pause(0.2)
        assert table.sort_key == "out" and table.sort_reverse
        assert [app.engine.flows.get(i).output_tokens for i in _ids(table)] == sorted(
            outs, reverse=True)
        assert table.selected_flow_id == selected  # the selection stayed on its flow
        assert "▼" in str(table.columns["out"].label)
        await pilot.press("o")
        await pilot.pause(0.1)
        assert table.sort_key == "rate"
        await pilot.press("e")
        await _until(pilot, lambda: table.row_count == 1)
        assert _ids(table) == [2]  # only the failed one
        await pilot.press("e")
        await _until(pilot, lambda: table.row_count == 3)


async def test_the_users_keymap_by_binding_id_and_the_state_legend(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('[keymap]\ncancel-flow = "x"\nno-such-binding = "y"\n')
    from tui_proxy.config.settings import load_settings
    settings = load_settings(config_file=config,
                             flags={"cli_path": make_settings(tmp_path).cli_path,
                                    "port": 0, "cwd": str(tmp_path)})
    assert settings.keymap == {"cancel-flow": "x", "no-such-binding": "y"}
    assert {"cancel-flow", "quit", "sort-flows", "errors-only"} <= binding_ids()
    app = ProxyConsole(settings, run_doctor=False, screenshot_dir=tmp_path / "shots",
                       config_file=str(config))
    async with app.run_test(size=(160, 50)) as pilot:
        log = " ".join(e.text for e in app.model.panels["log"])
        assert "no binding with id no-such-binding" in log
        task = asyncio.create_task(anthropic.AsyncAnthropic(
            base_url=app.server.url, api_key="x", max_retries=0).messages.create(
                model="claude-sonnet-5-5", max_tokens=50,
                messages=[{"role": "user", "content": "FAKE:delay=0.2 FAKE:tokens=500"}]))
        await _until(pilot, lambda: app.query_one(FlowsTable).row_count == 1)
        app.query_one(FlowsTable).focus()
        await pilot.press("c")  # no longer cancel
        await pilot.pause(0.2)
        assert type(app.screen).__name__ != "Confirm"
        await pilot.press("x")
        await _until(pilot, lambda: type(app.screen).__name__ == "Confirm")
        await pilot.press("y")
        with contextlib.suppress(anthropic.APIError):
            await asyncio.wait_for(task, 10)
        await pilot.press("question_mark")
        await _until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        out = Console(width=200, record=True, file=io.StringIO())
        out.print(app.screen.query_one("#help-body").content)
        body = out.export_text()
        assert "stalled" in body and "parked×N" in body  # the legend
        assert "cancel-flow" in body and any(line.lstrip().startswith("x ")
                                             for line in body.splitlines())
