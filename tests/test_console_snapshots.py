"""Snapshots of the console, fed by scripted events (tests/console_script.py): no server,
frozen clock, pinned address, fixed sizes. Sync tests: snap_compare runs the app itself.
Update with `python3 -m pytest tests/test_console_snapshots.py --snapshot-update`."""

import pytest

from console_script import scripted_app, script


@pytest.fixture(autouse=True)
def _no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)


def test_busy_flows_and_stream(snap_compare):
    async def before(pilot):
        await script(pilot)
        pilot.app.query_one("#flows").move_cursor(row=5)
        await pilot.pause()

    assert snap_compare(scripted_app(), terminal_size=(160, 50), run_before=before)


def test_file_operations_panel(snap_compare):
    async def before(pilot):
        await script(pilot)
        await pilot.press("2")
        await pilot.pause()

    assert snap_compare(scripted_app(), terminal_size=(160, 50), run_before=before)


def test_aborts_panel_with_a_rate_limit(snap_compare):
    async def before(pilot):
        await script(pilot)
        await pilot.press("4")
        await pilot.pause()

    assert snap_compare(scripted_app(), terminal_size=(160, 50), run_before=before)


def test_small_terminal(snap_compare):
    async def before(pilot):
        await script(pilot)
        pilot.app.query_one("#flows").move_cursor(row=5)
        await pilot.pause()

    assert snap_compare(scripted_app(), terminal_size=(80, 24), run_before=before)
