"""Chaos soak: many requests, faults and disconnects, then count what was lost.

Loopback only, on the fake CLI, bounded in count and time. Requests go through the official
anthropic SDK and raw aiohttp clients; about 20 % ask the fake CLI for a fault (crash
mid-stream, hang until the inactivity limit, rate limit, auth failure, slow start, huge
reply) and about 10 % of the clients walk away mid-stream. Reported: requests sent,
completed, errors by class, malformed SSE endings (must be 0), CLI processes left (0), open
connections left (0), journal records vs requests (must match), proxy RSS before/after.

    python3 bench/chaos_soak.py [--requests 1000] [--concurrency 16] [--seed 1] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
FAKE = ROOT / "tests" / "fake_cli" / "fake_claude"

import aiohttp  # noqa: E402
import anthropic  # noqa: E402

from sse_grammar import check_stream  # noqa: E402
from tui_proxy.core import logbridge  # noqa: E402
from tui_proxy.core.bus import EventBus  # noqa: E402
from tui_proxy.core.engine import Engine  # noqa: E402
from tui_proxy.http.server import ProxyServer  # noqa: E402
from tui_proxy.config.settings import Settings  # noqa: E402

MODEL = "claude-sonnet-5-5"
FAULTS = [("crash", "FAKE:crash=3 FAKE:delay=0.01"), ("hang", "FAKE:hang"),
          ("rate_limit", "FAKE:rate_limit"), ("auth", "FAKE:auth"),
          ("slow_start", "FAKE:delay=0.3 FAKE:tokens=3"), ("huge", "FAKE:big=300000")]


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def cli_pids(log: Path, offset: int) -> list[int]:
    if not log.exists():
        return []
    pids = []
    with open(log, "rb") as handle:
        handle.seek(offset)
        for line in handle:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") == "start":
                pids.append(rec["pid"])
    return pids


def plan(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        fault = rng.choice(FAULTS) if rng.random() < 0.2 else ("none", "")
        out.append({"i": i, "fault": fault[0],
                    "prompt": f"{fault[1]} FAKE:tokens={rng.randint(5, 60)} req {i}".strip(),
                    "client": rng.choice(["sdk", "raw"]), "stream": rng.random() < 0.7,
                    "disconnect": rng.random() < 0.1})
    return out


async def one(job: dict[str, Any], url: str, session: aiohttp.ClientSession,
              sdk: anthropic.AsyncAnthropic, tally: Counter, malformed: list) -> None:
    body = {"model": MODEL, "max_tokens": 50, "stream": job["stream"],
            "messages": [{"role": "user", "content": job["prompt"]}]}
    if job["disconnect"]:
        body["stream"] = True
        async with session.post(url + "/v1/messages", json=body) as resp:
            await resp.content.readline()  # walk away mid-stream
        tally["disconnected"] += 1
        return
    if job["client"] == "raw":
        async with session.post(url + "/v1/messages", json=body) as resp:
            raw = await resp.read()
            if resp.status != 200:
                tally[f"error {json.loads(raw)['error']['type']}"] += 1
                return
            if job["stream"]:
                try:
                    checked = check_stream(raw)
                except AssertionError as exc:
                    malformed.append((job, str(exc)[:200]))
                    return
                if checked.error is not None:
                    tally[f"error {checked.error['type']} (mid-stream)"] += 1
                    return
        tally["completed"] += 1
        return
    try:
        if job["stream"]:
            async with sdk.messages.stream(**{k: v for k, v in body.items()
                                              if k != "stream"}) as stream:
                async for _ in stream.text_stream:
                    pass
                await stream.get_final_message()
        else:
            await sdk.messages.create(**body)
        tally["completed"] += 1
    except anthropic.APIStatusError as exc:
        tally[f"error {exc.body.get('error', {}).get('type') if isinstance(exc.body, dict) else exc.status_code}"] += 1  # noqa: E501
    except anthropic.APIError as exc:  # a stream that ended with event: error
        tally[f"error {type(exc).__name__} (mid-stream)"] += 1


async def soak(requests: int, concurrency: int, seed: int, work: Path,
               log: Path) -> dict[str, Any]:
    journal = work / "journal"
    settings = Settings(cwd=str(work), cli_path=str(FAKE), port=0, spare_process=False,
                        max_concurrent=concurrency, max_queue=4 * concurrency,
                        inactivity_ms=2000, journal_dir=str(journal), pool_size=4)
    engine = Engine(settings, EventBus())
    handler = logbridge.install(engine.bus, False)  # the SDK's log lines go to the bus
    server = ProxyServer(engine)
    await server.start()
    offset = log.stat().st_size if log.exists() else 0
    rss_before = rss_mb()
    jobs = plan(requests, seed)
    tally: Counter = Counter()
    malformed: list = []
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        sdk = anthropic.AsyncAnthropic(base_url=server.url, api_key="x", max_retries=0,
                                       timeout=60)

        async def worker() -> None:
            while not queue.empty():
                job = queue.get_nowait()
                try:
                    await asyncio.wait_for(one(job, server.url, session, sdk, tally, malformed),
                                           60)
                except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
                    tally[f"client failure {type(exc).__name__}"] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await sdk.close()
    took = time.perf_counter() - started
    for _ in range(100):  # disconnected flows end asynchronously
        if not engine.flows.active:
            break
        await asyncio.sleep(0.05)
    def open_connections_now() -> int:
        return len(getattr(server.runner.server, "connections", []) or [])

    for _ in range(100):  # the clients have closed; the server notices within moments
        if not open_connections_now():
            break
        await asyncio.sleep(0.05)
    open_connections = open_connections_now()
    await server.stop()
    logbridge.uninstall(handler)
    rss_after = rss_mb()
    pids = cli_pids(log, offset)
    await asyncio.sleep(0.5)
    orphans = [p for p in pids if pid_alive(p)]
    records = [json.loads(line) for p in sorted(journal.glob("journal-*.jsonl"))
               for line in p.read_text().splitlines() if line.strip()]
    starts = sum(1 for r in records if r["record"] == "start")
    ends = sum(1 for r in records if r["record"] == "end")
    states = Counter(r["state"] for r in records if r["record"] == "end")
    return {"requests": requests, "seconds": took, "tally": dict(tally),
            "malformed_sse": malformed, "cli_processes": len(pids), "orphans": orphans,
            "open_connections": open_connections, "journal_starts": starts,
            "journal_ends": ends, "journal_states": dict(states), "rss_before_mb": rss_before,
            "rss_after_mb": rss_after, "faults": dict(Counter(j["fault"] for j in jobs)),
            "disconnects": sum(j["disconnect"] for j in jobs)}


def report(r: dict[str, Any]) -> None:
    print(f"requests sent       {r['requests']} in {r['seconds']:.1f} s "
          f"({r['requests'] / r['seconds']:.0f}/s); faults asked {r['faults']}, "
          f"client disconnects {r['disconnects']}")
    for key, count in sorted(r["tally"].items()):
        print(f"  {key:<40} {count}")
    print(f"malformed SSE endings {len(r['malformed_sse'])} (must be 0)")
    print(f"CLI processes started {r['cli_processes']}, left running {len(r['orphans'])} "
          "(must be 0)")
    print(f"open connections left {r['open_connections']} (must be 0)")
    print(f"journal: {r['journal_starts']} start / {r['journal_ends']} end records for "
          f"{r['requests']} requests (must match); end states {r['journal_states']}")
    print(f"proxy RSS {r['rss_before_mb']:.0f} MB before, {r['rss_after_mb']:.0f} MB after")


async def main(args) -> int:
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        work = Path(tmp)
        log = work / "fake-cli.jsonl"
        os.environ["FAKE_CLAUDE_LOG"] = str(log)
        os.environ["FAKE_CLAUDE_STATE_DIR"] = str(work / "sessions")
        os.environ["CLAUDE_CONFIG_DIR"] = str(work / "claude-config")
        ok = True
        for round_no in range(args.rounds):  # more rounds: does memory level off?
            if args.rounds > 1:
                print(f"-- round {round_no + 1} of {args.rounds}")
            shutil.rmtree(work / "journal", ignore_errors=True)
            result = await soak(args.requests, args.concurrency, args.seed + round_no, work,
                                log)
            report(result)
            ok = ok and (not result["malformed_sse"] and not result["orphans"]
                         and not result["open_connections"]
                         and result["journal_starts"] == result["journal_ends"]
                         == args.requests)
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat in one process (a fresh proxy each round) to watch RSS")
    sys.exit(asyncio.run(main(parser.parse_args())))
