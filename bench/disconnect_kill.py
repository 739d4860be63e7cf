"""How long a CLI outlives the client that walked away (target: gone within 0.5 s).

A raw aiohttp client starts a request on the fake CLI, waits until the CLI is running (the
engine's ``sdk_spawned`` event names its pid), lets it work for a moment and then drops the
connection. The clock runs from the drop until the pid is gone (exited and reaped, or a
zombie). Three cases:

- streaming: the CLI is sending tokens;
- hang: the CLI went quiet waiting on upstream (it honours SIGTERM);
- hang_hard: the CLI ignores SIGTERM (the SDK's own close would wait 5 s + 5 s).
- startup: the CLI is still starting (``FAKE_CLAUDE_STARTUP_DELAY``: it has not answered the
  SDK's initialize yet); its pid is the proxy's new child process.

    python bench/disconnect_kill.py [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FAKE = ROOT / "tests" / "fake_cli" / "fake_claude"
TMP = tempfile.TemporaryDirectory(prefix="bench-")  # removed at exit
TARGET_S = 0.5

from tui_proxy.core.bus import EventBus  # noqa: E402
from tui_proxy.sdk.runner import sdk_engine  # noqa: E402
from tui_proxy.http.server import ProxyServer  # noqa: E402
from tui_proxy.config.settings import Settings  # noqa: E402

CASES = {
    "streaming": "FAKE:tokens=2000 FAKE:delay=0.01",
    "hang": "FAKE:hang",
    "hang_hard": "FAKE:hang_hard",
    "startup": "hello",
}
STARTUP_DELAY_S = "30"  # far longer than the measurement: the CLI is mid start-up throughout


def children() -> set[int]:
    """This process's child pids (setpriv execs the CLI, so a child pid is the CLI's)."""
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        with open(task / "children") as handle:
            pids.update(int(p) for p in handle.read().split())
    return pids


def gone(pid: int) -> bool:
    """Exited: no /proc entry, or only a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def one(url: str, sub, prompt: str, startup: bool = False) -> float:
    sub.drain()
    before = children()
    async with aiohttp.ClientSession() as session:
        async def request() -> None:
            async with session.post(url + "/v1/messages", json={
                    "model": "claude-sonnet-5-5", "max_tokens": 5, "stream": True,
                    "messages": [{"role": "user", "content": prompt}]}) as resp:
                async for _ in resp.content:
                    pass

        task = asyncio.create_task(request())
        pid = None
        while pid is None:
            if startup:  # no sdk_spawned yet: it comes once the CLI has started
                await asyncio.sleep(0.005)
                pid = next(iter(children() - before), None)
                continue
            await sub.wait(5)
            pid = next((e.pid for e in sub.drain() if e.kind == "sdk_spawned"), None)
        await asyncio.sleep(0.3)  # the CLI is at work (streaming, hung or starting)
        dropped = time.perf_counter()
        task.cancel()  # closes the connection under the proxy's feet
        await asyncio.gather(task, return_exceptions=True)
    while not gone(pid):
        await asyncio.sleep(0.001)
        if time.perf_counter() - dropped > 30:
            raise SystemExit(f"pid {pid} outlived its client by 30 s")
    return time.perf_counter() - dropped


async def main(runs: int) -> int:
    # The SDK logs each killed CLI's exit code as an error: here every kill is the point.
    logging.getLogger("claude_agent_sdk").setLevel(logging.CRITICAL)
    settings = Settings(port=0, cwd=TMP.name, cli_path=str(FAKE), pool_size=0,
                        spare_process=False, journal_dir=str(Path(TMP.name) / "journal"))
    bus = EventBus()
    sub = bus.subscribe(name="bench")
    server = ProxyServer(sdk_engine(settings, bus))
    await server.start()
    worst = 0.0
    try:
        print(f"runs: {runs} per case, fake CLI {FAKE.relative_to(ROOT)}, target {TARGET_S} s")
        for name, prompt in CASES.items():
            startup = name == "startup"
            if startup:
                os.environ["FAKE_CLAUDE_STARTUP_DELAY"] = STARTUP_DELAY_S  # the CLI inherits it
            await one(server.url, sub, prompt, startup)  # warm-up
            times = [await one(server.url, sub, prompt, startup) for _ in range(runs)]
            os.environ.pop("FAKE_CLAUDE_STARTUP_DELAY", None)
            worst = max(worst, max(times))
            median = statistics.median(times) * 1000
            print(f"{name:10s} disconnect → CLI gone: median {median:6.1f} ms"
                  f"  p90 {statistics.quantiles(times, n=10)[-1] * 1000:6.1f} ms"
                  f"  max {max(times) * 1000:6.1f} ms")
    finally:
        await server.stop()
    verdict = "within" if worst <= TARGET_S else "OVER"
    print(f"worst case {worst * 1000:.1f} ms: {verdict} the {TARGET_S} s target")
    return 0 if worst <= TARGET_S else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    sys.exit(asyncio.run(main(parser.parse_args().runs)))
