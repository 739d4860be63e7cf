"""Does the console slow the proxy down? 8 concurrent streams at ~100 tokens/s, on the fake
CLI, measured twice: headless (engine + server only) and with the console attached (the
Textual app running headless at 160x50, draining the bus as it does for a person).

Prints event-loop lag (a 5 ms probe's overshoot: p50 / p99 / max) and delivered tokens/s.
Target: the console keeps at least 60 % of the headless throughput.

    python3 bench/console_throughput.py [--streams 8] [--tokens 400] [--delay 0.01]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FAKE = ROOT / "tests" / "fake_cli" / "fake_claude"
os.environ.pop("NO_COLOR", None)

import anthropic  # noqa: E402

from tui_proxy.core.bus import EventBus  # noqa: E402
from tui_proxy.sdk.runner import sdk_engine  # noqa: E402
from tui_proxy.http.server import ProxyServer  # noqa: E402
from tui_proxy.config.settings import Settings  # noqa: E402


async def lag_probe(samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.005)
        samples.append(time.perf_counter() - start - 0.005)


async def load(url: str, streams: int, tokens: int, delay: float) -> tuple[int, float]:
    client = anthropic.AsyncAnthropic(base_url=url, api_key="x", max_retries=0, timeout=300)

    async def one(i: int) -> int:
        count = 0
        async with client.messages.stream(model="claude-sonnet-5-5", max_tokens=10, messages=[
                {"role": "user", "content": f"FAKE:delay={delay} FAKE:tokens={tokens} n{i}"}]) as s:
            async for _ in s.text_stream:
                count += 1
        return count

    start = time.perf_counter()
    counts = await asyncio.gather(*(one(i) for i in range(streams)))
    return sum(counts), time.perf_counter() - start


def settings(work: Path) -> Settings:
    return Settings(cwd=str(work), cli_path=str(FAKE), port=0, spare_process=False,
                    pool_size=0, max_concurrent=16, journal_dir=str(work / "journal"))


async def headless(work: Path, args) -> dict:
    engine = sdk_engine(settings(work), EventBus())
    server = ProxyServer(engine)
    sub = engine.bus.subscribe(name="headless-log")  # a subscriber, as the headless log has

    async def drain():
        while True:
            await asyncio.sleep(0.2)
            sub.drain()

    drainer = asyncio.create_task(drain())
    await server.start()
    samples: list[float] = []
    stop = asyncio.Event()
    probe = asyncio.create_task(lag_probe(samples, stop))
    tokens, took = await load(server.url, args.streams, args.tokens, args.delay)
    stop.set()
    await probe
    drainer.cancel()
    await server.stop()
    return {"tokens": tokens, "seconds": took, "lag": samples}


async def with_console(work: Path, args) -> dict:
    from tui_proxy.console.app import ProxyConsole

    app = ProxyConsole(settings(work), run_doctor=False)
    samples: list[float] = []
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.3)
        stop = asyncio.Event()
        probe = asyncio.create_task(lag_probe(samples, stop))
        tokens, took = await load(app.server.url, args.streams, args.tokens, args.delay)
        stop.set()
        await probe
        await pilot.pause(0.3)
    return {"tokens": tokens, "seconds": took, "lag": samples}


def describe(name: str, result: dict) -> float:
    lag = sorted(result["lag"])
    p = lambda q: lag[min(len(lag) - 1, int(q * len(lag)))] * 1000  # noqa: E731
    rate = result["tokens"] / result["seconds"]
    print(f"{name:<9} {rate:8.0f} tok/s  ({result['tokens']} tokens in {result['seconds']:.2f} s)"
          f"   loop lag p50 {statistics.median(lag) * 1000:5.1f} ms  p99 {p(0.99):6.1f} ms"
          f"  max {lag[-1] * 1000:6.1f} ms")
    return rate


async def main(args) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        os.environ["CLAUDE_CONFIG_DIR"] = str(Path(tmp) / "claude-config")
        os.environ["FAKE_CLAUDE_STATE_DIR"] = str(Path(tmp) / "fake-sessions")
        print(f"{args.streams} streams x {args.tokens} tokens, {args.delay * 1000:.0f} ms "
              f"between tokens (~{1 / args.delay:.0f} tok/s each), fake CLI")
        base = describe("headless", await headless(Path(tmp), args))
        ui = describe("console", await with_console(Path(tmp), args))
        print(f"console throughput = {ui / base:.0%} of headless (target >= 60 %)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--delay", type=float, default=0.01)
    asyncio.run(main(parser.parse_args()))
