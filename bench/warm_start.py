"""Time to first token: cold vs spare vs warm vs resumed-cold, through the proxy.

The fake CLI simulates the real CLI's start-up with FAKE_CLAUDE_STARTUP_DELAY (default
0.7 s, the real CLI's measured cold start). Four cases, median of --runs each:
  new conversation, cold        (no pool, no spare: spawn + initialize)
  new conversation, spare       (a pre-started process is waiting)
  follow-up turn, warm          (the session's process stayed connected)
  follow-up turn, resumed cold  (the seed's way: spawn with --resume)

    python bench/warm_start.py [--runs 7] [--startup 0.7] [--real]

--real measures the same four cases on the real Claude Code CLI bundled in the SDK wheel,
inside a loopback-only network namespace (``unshare -rn``) against the Messages API stub of
the tests (tests/realcli_scenarios.py, scenario "bench").
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

import anthropic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FAKE = ROOT / "tests" / "fake_cli" / "fake_claude"
TMP = tempfile.TemporaryDirectory(prefix="bench-")  # removed at exit

from tui_proxy.sdk.runner import sdk_engine  # noqa: E402
from tui_proxy.http.server import ProxyServer  # noqa: E402
from tui_proxy.config.settings import Settings  # noqa: E402

MODEL = "claude-sonnet-5-5"


async def ttft(client, messages) -> tuple[float, list]:
    started = time.perf_counter()
    first = None
    async with client.messages.stream(model=MODEL, max_tokens=50, messages=messages) as stream:
        async for event in stream:
            if first is None and event.type == "content_block_delta":
                first = time.perf_counter() - started
        message = await stream.get_final_message()
    return first, message.content


async def measure(runs: int, **settings) -> dict[str, list[float]]:
    cwd = TMP.name
    engine = sdk_engine(Settings(port=0, cwd=cwd, cli_path=str(FAKE), **settings))
    server = ProxyServer(engine)
    await server.start()
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key="x", max_retries=0)
    new, follow = [], []
    try:
        for i in range(runs):
            if settings.get("spare_process"):
                for _ in range(300):  # measure the spare case only with a spare waiting
                    if engine.pool._spare is not None:
                        break
                    await asyncio.sleep(0.01)
            messages = [{"role": "user", "content": f"conversation {i} begins"}]
            t, content = await ttft(client, messages)
            new.append(t)
            messages += [{"role": "assistant", "content": content},
                         {"role": "user", "content": "and continues"}]
            t, _ = await ttft(client, messages)
            follow.append(t)
    finally:
        await server.stop()
    return {"new": new, "follow": follow}


def fmt(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:7.1f} ms  (min {min(values) * 1000:.1f}," \
           f" max {max(values) * 1000:.1f})"


async def main(runs: int, startup: float) -> None:
    os.environ["FAKE_CLAUDE_STARTUP_DELAY"] = str(startup)
    cold = await measure(runs, pool_size=0, spare_process=False)
    warm = await measure(runs, pool_size=4, spare_process=True)
    print(f"fake CLI with simulated start-up {startup:.2f} s, {runs} runs each")
    print(f"new conversation, cold        : {fmt(cold['new'])}")
    print(f"new conversation, spare       : {fmt(warm['new'][1:])}")
    print(f"follow-up turn, warm          : {fmt(warm['follow'])}")
    print(f"follow-up turn, resumed cold  : {fmt(cold['follow'])}")


def main_real(runs: int) -> None:
    """Re-run the warm scenario inside a network namespace that has only loopback."""
    import json
    import subprocess

    scenarios = ROOT / "tests" / "realcli_scenarios.py"
    proc = subprocess.run(["unshare", "-rn", "sh", "-c",
                           f"ip link set lo up && exec {sys.executable} {scenarios} bench"],
                          capture_output=True, text=True, env={**os.environ,
                                                               "REALCLI_RUNS": str(runs)})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        sys.exit(f"the real-CLI run failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    result = json.loads(lines[-1])
    if "ttft_ms" not in result:
        sys.exit(result.get("traceback", result))
    if result["cli_alive_after"] or result["leftover_processes"]:
        sys.exit(f"processes outlived the run: {result['leftover_processes']}")
    ms = {k: [v / 1000 for v in vals] for k, vals in result["ttft_ms"].items()}
    print(f"real Claude Code CLI (bundled) against a loopback stub, {runs} runs each")
    print(f"new conversation, cold        : {fmt(ms['cold'])}")
    print(f"new conversation, spare       : {fmt(ms['spare'])}")
    print(f"follow-up turn, warm          : {fmt(ms['warm'])}")
    print(f"follow-up turn, resumed cold  : {fmt(ms['resumed'])}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--startup", type=float, default=0.7)
    parser.add_argument("--real", action="store_true",
                        help="the real bundled CLI in a loopback-only network namespace")
    args = parser.parse_args()
    if args.real:
        main_real(args.runs)
    else:
        asyncio.run(main(args.runs, args.startup))
