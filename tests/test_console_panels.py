"""Side panels keep their full width for entries that arrive while another panel is shown."""

from __future__ import annotations

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
