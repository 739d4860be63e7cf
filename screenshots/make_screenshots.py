"""Make the README's screenshots from the real console in use.

The app runs headless (``App.run_test``) with its proxy on a free loopback port and the
fake Claude CLI from tests/ (so no login or network is needed); the official anthropic SDK
sends real requests: slow streams, a file write in agent mode, a rate-limited request.
Each picture is saved as SVG by Textual and turned into PNG by cairosvg (Debian
``fonts-firacode`` makes it render as in a terminal).

    python3 screenshots/make_screenshots.py [--out screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FAKE = ROOT / "tests" / "fake_cli" / "fake_claude"
os.environ.pop("NO_COLOR", None)

import anthropic  # noqa: E402
import cairosvg  # noqa: E402

from tui_proxy.console.app import ProxyConsole  # noqa: E402
from tui_proxy.core.flow import FlowState  # noqa: E402
from tui_proxy.config.settings import Settings  # noqa: E402

MODEL = "claude-sonnet-5-5"
PROMPTS = [
    ("claude-sonnet-5-5", "FAKE:write=src/app.py please write the module"),
    ("claude-opus-5-5", "FAKE:rate_limit_event=rejected refactor everything"),
    ("claude-haiku-5-5", "FAKE:write=../notes/todo.md keep a note"),
    ("claude-sonnet-5-5", "FAKE:stderr=warming-cache FAKE:tokens=40 summarise the diff"),
    ("claude-opus-5-5", "FAKE:think FAKE:delay=0.15 FAKE:tokens=400 explain the design"),
    ("claude-sonnet-5-5", "FAKE:delay=0.2 FAKE:tokens=400 write the tests"),
    ("claude-haiku-5-5", "FAKE:delay=0.25 FAKE:tokens=400 review the change"),
]


def shoot(app: ProxyConsole, out: Path, name: str) -> Path:
    svg = Path(app.save_screenshot(filename=f"{name}.svg", path=str(out)))
    png = out / f"{name}.png"
    cairosvg.svg2png(url=str(svg), write_to=str(png))
    svg.unlink()
    print(f"wrote {png}")
    return png


async def until(pilot, condition, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition() and loop.time() < deadline:
        await pilot.pause(0.05)


async def busy(out: Path, work: Path) -> None:
    settings = Settings(cwd=str(work), cli_path=str(FAKE), port=0, mode="agent",
                        spare_process=False, journal_dir=str(work / "journal"))
    app = ProxyConsole(settings, screenshot_dir=out, run_doctor=True)
    async with app.run_test(size=(160, 50)) as pilot:
        client = anthropic.AsyncAnthropic(base_url=app.server.url, api_key="x", max_retries=0)

        async def ask(model: str, prompt: str) -> None:
            try:
                async with client.messages.stream(model=model, max_tokens=500, messages=[
                        {"role": "user", "content": prompt}]) as stream:
                    async for _ in stream.text_stream:
                        pass
            except anthropic.APIError:
                pass

        tasks = []
        for model, prompt in PROMPTS:
            tasks.append(asyncio.create_task(ask(model, prompt)))
            await asyncio.sleep(0.3)
        await until(pilot, lambda: len(app.engine.flows.all()) == len(PROMPTS))
        await pilot.pause(2.5)
        table = app.query_one("#flows")
        table.focus()
        table.move_cursor(row=4)  # the flow that thinks, then streams
        await pilot.pause(1.0)
        shoot(app, out, "console-busy")

        await pilot.press("2")
        await pilot.pause(0.5)
        shoot(app, out, "console-file-operations")
        await pilot.press("4")
        await pilot.pause(0.5)
        shoot(app, out, "console-aborts")
        await until(pilot, lambda: "running checks" not in str(
            app.query_one("#checks-body").content))
        await pilot.press("8")
        await pilot.pause(0.5)
        shoot(app, out, "console-doctor")

        table.focus()
        table.move_cursor(row=0)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "FlowDetail")
        await pilot.pause(0.5)
        shoot(app, out, "console-flow-detail")
        await pilot.press("escape")
        await pilot.pause(0.3)
        await pilot.press("question_mark")
        await pilot.pause(0.5)
        shoot(app, out, "console-help")
        await pilot.press("escape")
        app.engine.cancel_all("operator")
        await asyncio.gather(*tasks)
        assert all(f.state.terminal or f.state == FlowState.PARKED
                   for f in app.engine.flows.all())


async def small(out: Path, work: Path) -> None:
    settings = Settings(cwd=str(work), cli_path=str(FAKE), port=0, spare_process=False,
                        journal_dir=str(work / "journal"))
    app = ProxyConsole(settings, screenshot_dir=out, run_doctor=False)
    async with app.run_test(size=(80, 24)) as pilot:
        client = anthropic.AsyncAnthropic(base_url=app.server.url, api_key="x", max_retries=0)
        task = asyncio.create_task(client.messages.create(
            model=MODEL, max_tokens=100,
            messages=[{"role": "user", "content": "FAKE:delay=0.05 FAKE:tokens=120 hi"}]))
        await pilot.pause(2.0)
        shoot(app, out, "console-80x24")
        await task


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="shots-") as tmp:
        work = Path(tmp) / "project"
        work.mkdir()
        os.environ["CLAUDE_CONFIG_DIR"] = str(Path(tmp) / "claude-config")
        os.environ["FAKE_CLAUDE_STATE_DIR"] = str(Path(tmp) / "fake-sessions")
        # as after `claude-proxy-tui login`: the fake CLI keeps a marker credentials file
        subprocess.run([str(FAKE), "auth", "login"], check=True, capture_output=True)
        await busy(out, work)
        await small(out, work)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    asyncio.run(main(parser.parse_args().out))
