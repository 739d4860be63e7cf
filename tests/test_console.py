"""The console with a real client against its in-app server (App.run_test + Pilot).

Every test drives the official anthropic SDK at the proxy the console hosts, on the fake
CLI, and asserts on what the widgets show and what the engine did.
"""

import asyncio
import io
import os
from pathlib import Path

import aiohttp
import anthropic
import pytest

from conftest import live_fake_pids, make_settings, read_log, wait_no_fake_alive
from tui_proxy.console.app import ProxyConsole
from tui_proxy.console.widgets.event_panel import EventPanel
from tui_proxy.console.widgets.flows_table import FlowsTable
from tui_proxy.console.widgets.stream_panel import StreamPanel
from tui_proxy.core.flow import FlowState

MODEL = "claude-sonnet-5-5"


def console(tmp_path: Path, **settings) -> ProxyConsole:
    return ProxyConsole(make_settings(tmp_path, **settings), run_doctor=False,
                        screenshot_dir=tmp_path / "shots")


def client(app: ProxyConsole) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=app.server.url, api_key="x", max_retries=0)


async def until(pilot, condition, timeout: float = 10.0) -> None:
    """Poll a condition while the app runs (fixed sleeps are flaky on 2 cores)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await pilot.pause(0.05)


def panel_text(app: ProxyConsole, name: str) -> str:
    """What the panel shows; it is brought to front (a hidden RichLog defers its writes)."""
    app.query_one("#panels").active = name
    return "\n".join(line.text for line in app.query_one(f"#panel-{name}", EventPanel).lines)


def panel_flat(app: ProxyConsole, name: str) -> str:
    """The panel's text with wrapped lines joined again (long paths wrap)."""
    app.query_one("#panels").active = name
    return "".join(line.text.rstrip() for line in app.query_one(f"#panel-{name}",
                                                                 EventPanel).lines)


def rendered(widget, width: int = 150) -> str:
    """Plain text of a Static's Rich content."""
    from rich.console import Console
    out = Console(width=width, record=True, file=io.StringIO())
    out.print(widget.content)
    return out.export_text()


def stream_text(app: ProxyConsole) -> str:
    return "\n".join(line.text for line in app.query_one(StreamPanel).log_widget.lines)


async def test_a_streamed_request_shows_in_the_table_and_its_tokens_in_the_stream(tmp_path):
    app = console(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        async with client(app).messages.stream(
                model=MODEL, max_tokens=500,
                messages=[{"role": "user", "content": "FAKE:tokens=40 FAKE:think"}]) as s:
            text = "".join([t async for t in s.text_stream])
        table = app.query_one(FlowsTable)
        await until(pilot, lambda: "tok39" in stream_text(app))
        # the client may finish between two drains: wait for the drain that shows the end
        await until(pilot, lambda: table.row_count == 1
                    and str(table.get_row("1")[3]) == "done")
        row = [str(c) for c in table.get_row("1")]
        assert row[0] == "1" and row[2] == MODEL and row[3] == "done"
        assert int(row[6]) == app.engine.flows.get(1).output_tokens >= 40  # thinking counts
        assert text.split() == [f"tok{i}" for i in range(40)]
        words = stream_text(app).split()
        assert words[-40:] == text.split() and words.count("tok0") == 1, "each line once"
        # thinking is shown too, dimmed
        lines = app.query_one(StreamPanel).log_widget.lines
        assert any(seg.style and seg.style.dim for line in lines for seg in line)
        await until(pilot, lambda: "finished done" in panel_text(app, "log"))


async def test_c_cancels_the_selected_slow_flow_and_its_cli_is_gone(tmp_path):
    app = console(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        mark = len(read_log())

        async def slow():
            with pytest.raises(anthropic.APIStatusError) as info:
                await client(app).messages.create(
                    model=MODEL, max_tokens=50,
                    messages=[{"role": "user", "content": "FAKE:delay=0.2 FAKE:tokens=200"}])
            return info.value

        task = asyncio.create_task(slow())
        table = app.query_one(FlowsTable)
        # The operator cancels what the table shows: wait for the drained row, not the engine.
        await until(pilot, lambda: table.row_count == 1
                    and str(table.get_row("1")[3]) == "streaming")
        table.focus()
        await pilot.press("c")
        await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
        await pilot.press("y")
        error = await asyncio.wait_for(task, 10)
        assert error.status_code == 499 and "cancel" in str(error.body).lower()
        await until(pilot, lambda: "cancelled (operator)" in panel_text(app, "aborts"))
        flow = app.engine.flows.get(1)
        assert flow.state == FlowState.CANCELLED
        assert await wait_no_fake_alive() == []
        assert not [p for p in live_fake_pids() if p in {e["pid"] for e in read_log()[mark:]}]


async def test_r_applies_a_changed_setting_and_a_bad_file_keeps_the_old(tmp_path):
    config = tmp_path / "proxy.toml"
    config.write_text("max_concurrent = 3\nport = 0\n")
    app = ProxyConsole(make_settings(tmp_path, max_concurrent=3), config_file=str(config),
                       flags={"cwd": str(tmp_path),
                              "cli_path": str(Path(__file__).parent / "fake_cli" / "fake_claude")},
                       run_doctor=False)
    async with app.run_test(size=(160, 50)) as pilot:
        config.write_text("max_concurrent = 5\nport = 0\n")
        await pilot.press("r")
        await until(pilot, lambda: app.engine.settings.max_concurrent == 5)
        assert app.engine.slots.limit == 5
        await until(pilot, lambda: "settings reloaded" in panel_text(app, "log"))
        assert "max_concurrent" in panel_text(app, "log")

        import socket
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            new_port = probe.getsockname()[1]
        config.write_text(f"max_concurrent = 5\nport = {new_port}\n")
        await pilot.press("r")
        await until(pilot, lambda: app.server.port == new_port)
        reply = await client(app).messages.create(
            model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "rebound"}])
        assert reply.content[0].text == "You said: rebound"
        assert app.url.endswith(f":{new_port}")

        config.write_text("max_concurrent = -1\n")
        await pilot.press("r")
        await until(pilot, lambda: "NOT reloaded" in panel_text(app, "log"))
        assert app.engine.settings.max_concurrent == 5
        assert f"{config}:1" in panel_text(app, "log")


async def test_a_write_in_agent_mode_shows_its_absolute_path_in_file_operations(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    app = ProxyConsole(make_settings(tmp_path, cwd=str(work), mode="agent"), run_doctor=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await client(app).messages.create(
            model=MODEL, max_tokens=50,
            messages=[{"role": "user", "content": "FAKE:write=notes/hello.txt"}])
        target = work / "notes" / "hello.txt"
        await until(pilot, lambda: str(target) in panel_flat(app, "files"))
        assert target.read_text() == "hello from fake claude\n"
        flat = panel_flat(app, "files")
        assert "Write" in flat and "23 B" in flat and " ok" in flat and "OUTSIDE" not in flat
        await until(pilot, lambda: "→ Write" in panel_text(app, "tools"))

        await client(app).messages.create(
            model=MODEL, max_tokens=50,
            messages=[{"role": "user", "content": "FAKE:write=../elsewhere.txt"}])
        outside = str(tmp_path / "elsewhere.txt")
        await until(pilot, lambda: outside in panel_flat(app, "files"))
        assert "OUTSIDEWORKING DIRECTORY" in panel_flat(app, "files").replace(
            "OUTSIDE WORKING", "OUTSIDEWORKING")


async def test_a_rate_limited_request_shows_its_reason_in_aborts(tmp_path):
    app = console(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        with pytest.raises(anthropic.RateLimitError):
            await client(app).messages.create(
                model=MODEL, max_tokens=50,
                messages=[{"role": "user", "content": "FAKE:rate_limit_event=rejected"}])
        await until(pilot, lambda: "RATE LIMITED" in panel_text(app, "aborts")
                    and "ERROR 429" in panel_text(app, "aborts"))
        aborts = panel_text(app, "aborts")
        assert "five_hour" in aborts and "resets" in aborts and "429" in aborts
        assert app.model.rate.status == "rejected"
        status = rendered(app.query_one("#status"), 400)
        assert "LIMITED" in status and "resets in" in status


async def test_enter_opens_the_detail_and_filter_narrows_the_table(tmp_path):
    app = console(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        for word in ("alpha", "beta"):
            await client(app).messages.create(
                model=MODEL if word == "alpha" else "claude-haiku-5-5", max_tokens=50,
                messages=[{"role": "user", "content": word}])
        table = app.query_one(FlowsTable)
        await until(pilot, lambda: table.row_count == 2)
        await until(pilot, lambda: "You said: beta" in stream_text(app))
        assert stream_text(app).count("You said: beta") == 1, "a new flow's lines show once"
        table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "FlowDetail")
        body = rendered(app.screen.query_one("#detail-body"))
        assert "timeline" in body and "SDK options" in body and "You said: beta" in body
        await pilot.press("escape")
        await until(pilot, lambda: app.screen.__class__.__name__ != "FlowDetail")

        await pilot.press("slash")
        await pilot.press(*"haiku")
        await until(pilot, lambda: table.row_count == 1)
        assert str(table.get_row("2")[2]) == "claude-haiku-5-5"
        await pilot.press("escape")
        await until(pilot, lambda: table.row_count == 2)


async def test_quit_with_a_flow_in_flight_asks_cancels_and_leaves_no_cli(tmp_path):
    app = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        task = asyncio.create_task(client(app).messages.create(
            model=MODEL, max_tokens=50,
            messages=[{"role": "user", "content": "FAKE:delay=0.2 FAKE:tokens=500"}]))
        await until(pilot, lambda: any(f.state == FlowState.STREAMING
                                       for f in app.engine.flows.all()))
        await pilot.press("q")
        await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
        await pilot.press("y")
    with pytest.raises(anthropic.APIError):
        await asyncio.wait_for(task, 10)
    assert await wait_no_fake_alive() == []
    assert app.server.runner is None


async def test_help_palette_and_small_terminal(tmp_path):
    app = console(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await client(app).messages.create(model=MODEL, max_tokens=20,
                                          messages=[{"role": "user", "content": "hi"}])
        await until(pilot, lambda: app.query_one(FlowsTable).row_count == 1)
        assert app.query_one(FlowsTable).region.height >= 3, "the table keeps some rows"
        assert app.query_one("#panels").region.height >= 6
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen.__class__.__name__ == "HelpScreen")
        body = rendered(app.screen.query_one("#help-body"))
        assert "Cancel the selected flow" in body and "Sessions" in body
        await pilot.press("escape")
        from tui_proxy.console.commands import ConsoleCommands
        names = [name for name, _, _ in ConsoleCommands(app.screen)._commands()]
        assert any(n.startswith("Cancel (c)") for n in names)
        assert any("Reload" in n for n in names)
        await pilot.press("3")
        assert app.query_one("#panels").active == "tools"


def test_screenshot_key_writes_svg_and_png(tmp_path):
    async def run():
        app = console(tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("s")
            await until(pilot, lambda: len(list((tmp_path / "shots").glob("*"))) >= 2, 20)
        return sorted(p.suffix for p in (tmp_path / "shots").iterdir())

    pytest.importorskip("cairosvg")
    assert asyncio.run(run()) == [".png", ".svg"]
    assert os.path.getsize(next((tmp_path / "shots").glob("*.png"))) > 10_000


async def test_a_parked_flow_shows_its_waiting_tool_calls_and_c_releases_it(tmp_path):
    tools = [{"name": "bash", "description": "Run a command",
              "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}]
    app = console(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        reply = await client(app).messages.create(
            model=MODEL, max_tokens=50, tools=tools,
            messages=[{"role": "user", "content": 'FAKE:call=bash{"command":"ls"}'}])
        assert reply.stop_reason == "tool_use" and reply.content[-1].name == "bash"
        table = app.query_one(FlowsTable)
        await until(pilot, lambda: table.row_count == 1
                    and str(table.get_row("1")[3]).startswith("parked"))
        await until(pilot, lambda: "waiting for the client's result of bash"
                    in panel_text(app, "tools"))
        await pilot.press("6")
        await until(pilot, lambda: "#1 waits on bash" in str(
            app.query_one("#pool-line").content))
        table.focus()
        await pilot.press("c")
        await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
        await pilot.press("y")
        await until(pilot, lambda: app.engine.flows.get(1).state == FlowState.CANCELLED)
        assert await wait_no_fake_alive() == []
        await until(pilot, lambda: str(table.get_row("1")[3]) == "cancelled")


async def test_a_quick_first_flow_shows_its_text_once(tmp_path):
    """Its row and its text arrive in one tick: the redraw on selection must not be
    followed by the same lines appended again."""
    app = console(tmp_path)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.pause(0.5)
        async with (
            aiohttp.ClientSession() as session,
            session.post(app.server.url + "/v1/messages", json={
                "model": MODEL, "max_tokens": 20,
                "messages": [{"role": "user", "content": "quick"}]}) as resp,
        ):
            assert resp.status == 200
        await until(pilot, lambda: "You said: quick" in stream_text(app))
        await pilot.pause(0.5)
        assert stream_text(app).count("You said: quick") == 1


async def test_login_state_is_live_and_l_runs_the_clis_own_login(tmp_path, monkeypatch):
    """The bar asks the CLI the proxy drives, with the environment it gets (a stripped
    ANTHROPIC_API_KEY is no login); an auth error re-checks it; L runs `auth login`."""
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "cli-config"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-stripped")
    app = ProxyConsole(make_settings(tmp_path), run_doctor=True, screenshot_dir=tmp_path / "s")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.login.startswith("NO"))
        assert "claude-proxy-tui login" in app.login
        assert "login NO" in rendered(app.query_one("#status"), 200)
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await client(app).messages.create(model=MODEL, max_tokens=20, messages=[
                {"role": "user", "content": "FAKE:auth"}])
        assert "claude-proxy-tui login" in caught.value.message
        # logged in elsewhere meanwhile: the auth error makes the console ask again
        (tmp_path / "cli-config").mkdir(exist_ok=True)
        (tmp_path / "cli-config" / ".credentials.json").write_text("{}")
        await until(pilot, lambda: app.login == "yes")
        (tmp_path / "cli-config" / ".credentials.json").unlink()
        await pilot.press("r")
        await until(pilot, lambda: app.login.startswith("NO"))
        await pilot.press("L")  # the headless test driver cannot hand the terminal over
        await until(pilot, lambda: any("cannot hand over" in str(n.message)
                                       for n in app._notifications))
