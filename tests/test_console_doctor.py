"""The console's Doctor panel checks what runs, yet counts only the flags the user gave."""

import asyncio
import io

import pytest

from conftest import make_settings
from tui_proxy.console.app import ProxyConsole
from tui_proxy.config.settings import FIELDS


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for f in FIELDS:
        if f.env:
            monkeypatch.delenv(f.env, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # no settings file


def settings_detail(app: ProxyConsole) -> str:
    from rich.console import Console
    out = Console(width=400, record=True, file=io.StringIO())
    out.print(app.query_one("#checks-body").content)
    return next(line for line in out.export_text().splitlines() if "settings" in line)


async def doctor_line(tmp_path, flags) -> str:
    app = ProxyConsole(make_settings(tmp_path), flags=flags, screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=(160, 50)) as pilot:
        app.query_one("#panels").active = "doctor"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while "valid;" not in (line := _safe(settings_detail, app)):
            assert loop.time() < deadline, "doctor did not finish"
            await pilot.pause(0.05)
        return line


def _safe(fn, app) -> str:
    try:
        return fn(app)
    except StopIteration:
        return ""


async def test_no_flag_given_counts_no_flag(tmp_path):
    # what cli.py hands the console when no flag was typed: every setting flag, None
    line = await doctor_line(tmp_path, {name: None for name in (
        "host", "port", "cwd", "cli_path", "mode", "permission_mode", "debug")})
    assert "from flag" not in line and "all defaults" in line, line


async def test_a_given_flag_is_counted(tmp_path):
    line = await doctor_line(tmp_path, {"port": 0, "mode": None})
    assert "1 from flag" in line, line
