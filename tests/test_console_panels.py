"""Side panels keep their full width for entries that arrive while another panel is shown."""

from __future__ import annotations

import contextlib
from pathlib import Path

from conftest import make_settings
from tui_proxy.console.app import ProxyConsole
from tui_proxy.console.widgets.event_panel import EventPanel
from tui_proxy.core.events import Note

LINE = "a line long enough to be cut at twenty columns"  # fits the panel whole


async def test_entries_written_while_the_panel_was_hidden_are_not_wrapped_at_20_columns(
        tmp_path: Path) -> None:
    app = ProxyConsole(make_settings(tmp_path), run_doctor=False,
                       screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=(160, 50)) as pilot:
        tabs = app.query_one("#panels")
        log = app.query_one("#panel-log", EventPanel)
        tabs.active = "log"  # viewed once …
        await pilot.pause(0.2)
        before = len(log.lines)
        tabs.active = "stream"  # … then left
        await pilot.pause(0.1)
        for n in range(3):
            app.engine.publish(Note(None, "info", f"{LINE} #{n}"))
        await pilot.pause(0.5)  # several drain ticks while hidden
        tabs.active = "log"
        await pilot.pause(0.3)
        new = [line.text for line in log.lines[before:]]
        assert len(new) == 3, new  # one line each, not 4–6 pieces
        assert all(LINE in text for text in new), new
        assert log.count >= 3


async def test_s_in_a_modal_saves_a_screenshot_and_every_quit_asks(tmp_path: Path) -> None:
    import asyncio

    import anthropic

    from tui_proxy.core.flow import FlowState
    app = ProxyConsole(make_settings(tmp_path), run_doctor=False,
                       screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("s")
        for _ in range(100):
            if list((tmp_path / "shots").glob("*.svg")):
                break
            await pilot.pause(0.05)
        assert len(list((tmp_path / "shots").glob("*.svg"))) == 1
        assert type(app.screen).__name__ == "HelpScreen"  # the shot did not close it
        await pilot.press("escape")
        task = asyncio.create_task(anthropic.AsyncAnthropic(
            base_url=app.server.url, api_key="x", max_retries=0).messages.create(
                model="claude-sonnet-5-5", max_tokens=50,
                messages=[{"role": "user", "content": "FAKE:delay=0.2 FAKE:tokens=500"}]))
        for _ in range(200):
            if any(f.state == FlowState.STREAMING for f in app.engine.flows.all()):
                break
            await pilot.pause(0.05)
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "Confirm"  # not quit at once
        await pilot.press("n")
        await pilot.pause(0.1)
        quit_command = next(c for c in app.get_system_commands(app.screen) if c.title == "Quit")
        await quit_command.callback()
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "Confirm"
        await pilot.press("y")
    with contextlib.suppress(anthropic.APIError):  # cancelled by the quit, as q does
        await asyncio.wait_for(task, 10)
    assert app.return_code == 0


async def test_follow_survives_a_burst_and_only_the_user_turns_it_off(tmp_path: Path) -> None:
    import asyncio

    import anthropic

    from tui_proxy.console.widgets.flows_table import FlowsTable
    app = ProxyConsole(make_settings(tmp_path), run_doctor=False,
                       screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=(160, 50)) as pilot:
        client = anthropic.AsyncAnthropic(base_url=app.server.url, api_key="x", max_retries=0)
        table = app.query_one(FlowsTable)
        for burst in (3, 4):  # a fresh console, then again
            await asyncio.gather(*(client.messages.create(
                model="claude-sonnet-5-5", max_tokens=20,
                messages=[{"role": "user", "content": f"hi {n}"}]) for n in range(burst)))
            for _ in range(100):
                if table.row_count == (3 if burst == 3 else 7):
                    break
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            assert app.follow, f"follow turned itself off in a burst of {burst}"
            assert table.cursor_row == table.row_count - 1
        await pilot.press("up")
        await pilot.pause(0.2)
        assert not app.follow and table.cursor_row == table.row_count - 2


async def test_columns_and_footer_follow_the_terminal_size(tmp_path: Path) -> None:
    import anthropic

    from textual.widgets import Footer

    from tui_proxy.console.widgets.flows_table import FlowsTable
    app = ProxyConsole(make_settings(tmp_path), run_doctor=False,
                       screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=(160, 50)) as pilot:
        await anthropic.AsyncAnthropic(base_url=app.server.url, api_key="x",
                                       max_retries=0).messages.create(
            model="claude-sonnet-5-5", max_tokens=20,
            messages=[{"role": "user", "content": "hi"}])
        table = app.query_one(FlowsTable)
        wide = [c.key.value for c in table.columns.values()]
        assert "client" in wide and "reason" in wide
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.5)
        narrow = [c.key.value for c in table.columns.values()]
        assert "client" not in narrow and "reason" in narrow
        assert table.row_count == 1 and table.cursor_row == 0
        assert app.screen.has_class("-short")
        footer = " ".join(str(k.render()) for k in app.query_one(Footer).query("FooterKey")
                          if k.region.width and k.region.right <= 80)
        assert "Help" in footer and "Quit" in footer, footer
        await pilot.resize_terminal(160, 50)
        await pilot.pause(0.5)
        assert [c.key.value for c in table.columns.values()] == wide
        assert not app.screen.has_class("-short")


async def test_with_the_filter_open_a_small_terminal_keeps_rows_in_view(tmp_path: Path) -> None:
    from tui_proxy.console.widgets.flows_table import FlowsTable
    app = ProxyConsole(make_settings(tmp_path), run_doctor=False,
                       screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        await pilot.pause(0.2)
        assert app.query_one("#filter").display
        table = app.query_one(FlowsTable)
        assert table.region.height >= 4, table.region  # header + 3 rows at least
