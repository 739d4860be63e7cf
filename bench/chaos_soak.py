"""Chaos soak: many requests, faults and disconnects, then count what was lost.

Loopback only, on the fake CLI, bounded in count and time. Requests go through the official
anthropic SDK and raw aiohttp clients; about 20 % ask the fake CLI for a fault (crash
mid-stream, hang until the inactivity limit, rate limit, auth failure, slow start, huge
reply) and about 10 % of the clients walk away mid-stream. Reported: requests sent,
completed, errors by class, malformed SSE endings (must be 0), CLI processes left (0), open
connections left (0), journal records vs requests (must match), proxy RSS before/after.

Three faults of issue 13 ride along (``main`` turns them on; ``soak()`` alone runs without):

- start-up hangs: ~5 % of the requests get a CLI that never answers initialize (it sleeps
  before reading stdin, or reads it and ignores initialize; ``FAKE:startup_hang`` /
  ``FAKE:no_initialize`` in the system prompt), under a short start-up limit; ~30 % of those
  clients walk away during start-up. Counted: the answer's class (504 timeout_error, or
  cancelled client_disconnect) and how long the CLI outlived the limit / the disconnect.
- an unwritable journal: from 30 % to 50 % of the run every journal write fails with ENOSPC
  (a full disk, as tests/test_journal_loss.py fills it; root ignores permissions), with a
  small backlog bound so records are dropped. Counted: drops in /health and /metrics, the
  backlog and RSS while failing, the recovery note, records written after, and that journal
  records + counted drops == 2 x requests.
- a burst of parked calls: at 65 %, 3 x max_parked passthrough requests with client tools at
  once, never continued. Counted: parked runs never above max_parked, the oldest released with
  a note (parked_limit), no CLI left at the end.

    python3 bench/chaos_soak.py [--requests 1000] [--concurrency 16] [--seed 1] [--rounds 1]
        [--startup-share 0.05] [--startup-limit 2] [--no-journal-fault] [--max-parked 4]
        [--parked-burst 12]
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

import errno  # noqa: E402
import re  # noqa: E402

import aiohttp  # noqa: E402
import anthropic  # noqa: E402

from sse_grammar import check_stream  # noqa: E402
from tui_proxy.core import logbridge  # noqa: E402
from tui_proxy.core.bus import EventBus  # noqa: E402
from tui_proxy.core.engine import Engine  # noqa: E402
from tui_proxy.sdk.runner import sdk_engine  # noqa: E402
from tui_proxy.core.events import Cancelled, Note  # noqa: E402
from tui_proxy.journal.reader import load_journal  # noqa: E402
from tui_proxy.sdk import live_run  # noqa: E402
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


class LogTail:
    """The fake CLI's log read as it grows: which pid started with which argv marker."""

    def __init__(self, log: Path, offset: int) -> None:
        self.log, self.offset, self.rest = log, offset, b""
        self.by_marker: dict[str, tuple[int, float]] = {}  # marker -> (pid, start time)

    def refresh(self) -> None:
        if not self.log.exists():
            return
        with open(self.log, "rb") as handle:
            handle.seek(self.offset)
            data = self.rest + handle.read()
            self.offset = handle.tell()
        *lines, self.rest = data.split(b"\n")
        for line in lines:
            if b'"start"' not in line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") != "start":
                continue
            found = MARKER.search(" ".join(map(str, rec.get("argv", []))))
            if found:
                self.by_marker[found.group(0)] = (rec["pid"], rec["t"])


MARKER = re.compile(r"\b(?:sh|pk)-\d+\b")


def plan(n: int, seed: int, startup_share: float = 0.0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    hangs = random.Random(seed + 7919)  # its own stream: the rest of the plan stays as it was
    out = []
    for i in range(n):
        fault = rng.choice(FAULTS) if rng.random() < 0.2 else ("none", "")
        job = {"i": i, "fault": fault[0],
               "prompt": f"{fault[1]} FAKE:tokens={rng.randint(5, 60)} req {i}".strip(),
               "client": rng.choice(["sdk", "raw"]), "stream": rng.random() < 0.7,
               "disconnect": rng.random() < 0.1}
        if startup_share and hangs.random() < startup_share:
            kind = hangs.choice(["startup_hang", "no_initialize"])
            job.update(fault=kind, system=f"FAKE:{kind} sh-{i}", client="raw",
                       stream=hangs.random() < 0.5, disconnect=False,
                       walk_away=hangs.random() < 0.3, marker=f"sh-{i}")
        out.append(job)
    return out


async def startup_one(job: dict[str, Any], url: str, session: aiohttp.ClientSession,
                      engine: Engine, tail: LogTail, limit_s: float, tally: Counter,
                      malformed: list, startups: list) -> None:
    """A request whose CLI never finishes starting: a 504 at the limit, or the client walks
    away during start-up; either way the CLI must be gone within 0.5 s."""
    body = {"model": MODEL, "max_tokens": 50, "stream": job["stream"], "system": job["system"],
            "messages": [{"role": "user", "content": job["prompt"]}]}
    seen: dict[str, Any] = {"job": job["i"], "kind": job["fault"], "walk_away": job["walk_away"],
                            "marker": job["marker"]}
    startups.append(seen)

    async def post() -> tuple[int, bytes]:
        async with session.post(url + "/v1/messages", json=body) as resp:
            seen["request_id"] = resp.headers.get("request-id")
            return resp.status, await resp.read()

    sent = time.time()
    died: dict[str, float] = {}

    async def watch() -> None:  # the CLI's pid from its start, then the moment it is gone
        while job["marker"] not in tail.by_marker:
            tail.refresh()
            await asyncio.sleep(0.02)
        pid = tail.by_marker[job["marker"]][0]
        while pid_alive(pid):
            await asyncio.sleep(0.005)
        died["t"] = time.time()

    watcher = asyncio.ensure_future(watch())
    if job["walk_away"]:
        request = asyncio.ensure_future(post())
        for _ in range(400):  # until its CLI has started, then a moment inside its start-up
            tail.refresh()
            if job["marker"] in tail.by_marker or request.done():
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        request.cancel()
        await asyncio.gather(request, return_exceptions=True)
        ended = time.time()
        tally["startup: walked away"] += 1
        seen["answer"] = "walked away"
    else:
        status, raw = await post()
        ended = time.time()
        kind = None
        if status != 200:
            kind = f"{status} {json.loads(raw)['error']['type']}"
        else:
            try:
                checked = check_stream(raw) if job["stream"] else None
            except AssertionError as exc:
                malformed.append((job, str(exc)[:200]))
                return
            kind = f"200 {checked.error['type']} (in stream)" if checked and checked.error \
                else "200 answered"
        tally[f"startup: {kind}"] += 1
        seen["answer"] = kind
    tail.refresh()
    if job["marker"] not in tail.by_marker:
        await asyncio.sleep(0.5)  # spawned just now?
        tail.refresh()
    if job["marker"] not in tail.by_marker:
        watcher.cancel()
        seen["pid"] = None  # left before its CLI was spawned (queued)
        return
    pid, _ = tail.by_marker[job["marker"]]
    seen["pid"] = pid
    limit_at = sent + limit_s  # an upper bound: the limit runs from the CLI's spawn
    flow = next((f for f in engine.flows.all() if seen.get("request_id")
                 and f.request_id == seen["request_id"]), None)
    if flow is not None and flow.sdk_started_mono is not None:  # when the limit began
        limit_at = time.time() - (time.monotonic() - flow.sdk_started_mono) + limit_s
    try:
        await asyncio.wait_for(watcher, 3.0)
        dead = died["t"]
    except TimeoutError:
        dead = None
    seen["alive_after_s"] = None if dead is None else (
        dead - ended if job["walk_away"] else dead - limit_at)
    seen["answer_after_limit_s"] = None if job["walk_away"] else ended - limit_at


PARK_TOOLS = [{"name": "read_file", "description": "Read a file",
               "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]


async def park_one(i: int, url: str, session: aiohttp.ClientSession, tally: Counter,
                   answered: set) -> None:
    """A passthrough call that ends in a client tool_use and is never continued."""
    body = {"model": MODEL, "max_tokens": 100, "tools": PARK_TOOLS, "system": f"pk-{i}",
            "messages": [{"role": "user",
                          "content": f'FAKE:call=read_file{{"path":"f{i}"}} park {i}'}]}
    async with session.post(url + "/v1/messages", json=body) as resp:
        raw = await resp.read()
        if resp.status != 200:
            error = json.loads(raw)["error"]
            tally[f"parked burst: error {error['type']}"] += 1
            tally[f"  ({error['message'][:70]})"] += 1
            return
        stop = json.loads(raw).get("stop_reason")
        if stop == "tool_use":
            answered.add(f"pk-{i}")  # its CLI is parked now (or being released)
        tally[f"parked burst: {'parked (tool_use)' if stop == 'tool_use' else stop}"] += 1


def full_disk(fd: int, data: Any) -> int:
    raise OSError(errno.ENOSPC, "No space left on device")


async def get_observed(url: str, session: aiohttp.ClientSession) -> tuple[int, int | None]:
    """journal_dropped as /health and /metrics show it."""
    async with session.get(url + "/health") as resp:
        health = await resp.json()
    async with session.get(url + "/metrics") as resp:
        metrics = await resp.text()
    found = re.search(r"^claude_proxy_journal_dropped_records_total (\d+)", metrics, re.M)
    return health.get("journal_dropped"), int(found.group(1)) if found else None


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
               log: Path, *, startup_share: float = 0.0, startup_limit_s: float = 2.0,
               journal_fault: tuple[float, float] | None = None, journal_backlog: int = 50,
               max_parked: int = 8, parked_burst: int = 0,
               parked_at: float = 0.65) -> dict[str, Any]:
    journal = work / "journal"
    settings = Settings(cwd=str(work), cli_path=str(FAKE), port=0, spare_process=False,
                        max_concurrent=concurrency, max_queue=4 * concurrency,
                        inactivity_ms=2000, journal_dir=str(journal), pool_size=4,
                        max_parked=max_parked)
    engine = sdk_engine(settings, EventBus())
    notes_sub = engine.bus.subscribe(name="chaos-soak",
                                     accept=lambda e: isinstance(e, (Note, Cancelled)))
    handler = logbridge.install(engine.bus, False)  # the SDK's log lines go to the bus
    server = ProxyServer(engine)
    await server.start()
    saved_limit = live_run.STARTUP_LIMIT_S
    if startup_share:
        live_run.STARTUP_LIMIT_S = startup_limit_s  # stands for the SDK's 60 s initialize wait
    offset = log.stat().st_size if log.exists() else 0
    tail = LogTail(log, offset)
    rss_before = rss_mb()
    jobs = plan(requests, seed, startup_share)
    tally: Counter = Counter()
    malformed: list = []
    startups: list = []
    jf: dict[str, Any] = {}  # the journal fault's figures
    pk: dict[str, Any] = {}  # the parked burst's figures
    done = [0]
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency * 2 + parked_burst)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            sdk = anthropic.AsyncAnthropic(base_url=server.url, api_key="x", max_retries=0,
                                           timeout=60)

            async def worker() -> None:
                while not queue.empty():
                    job = queue.get_nowait()
                    try:
                        if "system" in job:
                            run = startup_one(job, server.url, session, engine, tail,
                                              startup_limit_s, tally, malformed, startups)
                        else:
                            run = one(job, server.url, session, sdk, tally, malformed)
                        await asyncio.wait_for(run, 60)
                    except (TimeoutError, aiohttp.ClientError) as exc:
                        tally[f"client failure {type(exc).__name__}"] += 1
                    done[0] += 1

            async def journal_window() -> None:
                j = server.journal
                j.max_records = jf["bound"] = journal_backlog
                lo, hi = journal_fault
                while done[0] < lo * requests:
                    await asyncio.sleep(0.05)
                jf.update(at=done[0], written_before=j.written, dropped_before=j.loss.dropped,
                          backlog_max=0, backlog_mib_max=0.0, rss_max=rss_mb())
                j._syswrite = full_disk
                while done[0] < hi * requests:
                    jf["backlog_max"] = max(jf["backlog_max"], j.loss.backlog)
                    jf["backlog_mib_max"] = max(jf["backlog_mib_max"],
                                                j.loss.backlog_bytes / 1024 / 1024)
                    jf["rss_max"] = max(jf["rss_max"], rss_mb())
                    await asyncio.sleep(0.1)
                jf["failing_seen"] = j.loss.failing
                jf["errors"] = j.loss.errors
                jf["dropped_before_fetch"] = j.loss.dropped  # records keep coming meanwhile
                jf["health_dropped"], jf["metrics_dropped"] = await get_observed(server.url,
                                                                                 session)
                jf["dropped_in_window"] = j.loss.dropped - jf["dropped_before"]
                jf["until"] = done[0]
                j._syswrite = os.write  # space again: it must write by itself
                restored = time.monotonic()
                written = j.written
                while j.loss.failing is not None and time.monotonic() - restored < 10:
                    await asyncio.sleep(0.05)
                jf["recovered_s"] = time.monotonic() - restored if j.loss.failing is None else None
                jf["written_at_recovery"] = written

            async def parked_burst_run() -> None:
                while done[0] < parked_at * requests:
                    await asyncio.sleep(0.05)
                pk.update(at=done[0], max_parked_seen=0, max_parked_flows=0, max_live_parked=0)
                answered: set = set()
                burst = asyncio.gather(*(park_one(i, server.url, session, tally, answered)
                                         for i in range(parked_burst)), return_exceptions=True)
                settle_until = None
                over_since = None
                pk["over_s"] = 0.0
                while settle_until is None or time.monotonic() < settle_until:
                    pk["max_parked_seen"] = max(pk["max_parked_seen"], len(engine.parked))
                    pk["max_parked_flows"] = max(pk["max_parked_flows"], sum(
                        1 for f in engine.flows.active.values() if f.state.value == "parked"))
                    tail.refresh()
                    live = [m for m in answered if m in tail.by_marker
                            and pid_alive(tail.by_marker[m][0])]
                    pk["max_live_parked"] = max(pk["max_live_parked"], len(live))
                    # a released CLI lives on while it is killed: how long is the bound passed?
                    if len(live) > max_parked:
                        over_since = over_since or time.monotonic()
                        pk["over_s"] = max(pk["over_s"], time.monotonic() - over_since)
                    else:
                        over_since = None
                    if burst.done() and settle_until is None:
                        settle_until = time.monotonic() + 1.0
                    await asyncio.sleep(0.01)
                pk["client_errors"] = [r for r in burst.result() if isinstance(r, BaseException)]
                # released runs end their CLI a moment later: then the live ones are the parked
                for _ in range(200):
                    tail.refresh()
                    pids = [p for m, (p, _) in tail.by_marker.items() if m.startswith("pk-")]
                    live = [p for p in pids if pid_alive(p)]
                    if len(live) <= max_parked:
                        break
                    await asyncio.sleep(0.01)
                pk["cli_started"], pk["cli_live_after"] = len(pids), len(live)
                pk["parked_after"] = len(engine.parked)

            lags: list[float] = []

            async def loop_lag() -> None:  # clients and proxy share this loop: how late it runs
                while True:
                    before = time.monotonic()
                    await asyncio.sleep(0.05)
                    lags.append(time.monotonic() - before - 0.05)

            lagger = asyncio.ensure_future(loop_lag())
            side = []
            if journal_fault:
                side.append(asyncio.ensure_future(journal_window()))
            if parked_burst:
                side.append(asyncio.ensure_future(parked_burst_run()))
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            await asyncio.gather(*side)
            took = time.perf_counter() - started
            lagger.cancel()
            for _ in range(100):  # disconnected flows end asynchronously; parked ones wait
                if all(f.state.value == "parked" for f in engine.flows.active.values()):
                    break
                await asyncio.sleep(0.05)
            if journal_fault:
                await asyncio.sleep(1.2)  # the journal's writer catches up (it polls each second)
                jf["health_dropped_end"], jf["metrics_dropped_end"] = await get_observed(
                    server.url, session)
            await sdk.close()
    finally:
        live_run.STARTUP_LIMIT_S = saved_limit

    def open_connections_now() -> int:
        return len(getattr(server.runner.server, "connections", []) or [])

    for _ in range(100):  # the clients have closed; the server notices within moments
        if not open_connections_now():
            break
        await asyncio.sleep(0.05)
    open_connections = open_connections_now()
    the_journal = server.journal
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
    seen_events = notes_sub.drain()
    notes = [e.message for e in seen_events if isinstance(e, Note)]
    flow_marker = {}
    for r in records:
        found = r["record"] == "start" and MARKER.search(str((r.get("body") or {}).get("system")))
        if found:
            flow_marker[r["flow_id"]] = found.group(0)
    ended = {flow_marker[r["flow_id"]]: r for r in records
             if r["record"] == "end" and r["flow_id"] in flow_marker}
    for seen in startups:
        end = ended.get(seen["marker"])
        seen["journal"] = end and (end["state"], end.get("cancel_reason") or end.get("error_type"))
    loss = the_journal.loss
    total = requests + parked_burst
    if journal_fault:
        jf["dropped"] = loss.dropped
        jf["bad_lines"] = load_journal(journal).bad_lines
        jf["failing_note"] = sum("cannot write" in n for n in notes if n.startswith("journal"))
        jf["recovery_note"] = sum("again" in n for n in notes if n.startswith("journal: writing"))
        jf["written_after_recovery"] = the_journal.written - jf["written_at_recovery"]
    if parked_burst:
        pk["released_notes"] = sum(n.startswith(f"released: more than max_parked ({max_parked})")
                                   and "this run was the oldest" in n for n in notes)
        # from the engine's events: the journal may have dropped some ends (its fault)
        pk["parked_limit_ends"] = sum(1 for e in seen_events if isinstance(e, Cancelled)
                                      and e.reason == "parked_limit")
        pk["shutdown_ends"] = sum(1 for r in records if r["record"] == "end"
                                  and r.get("cancel_reason") == "shutdown")
        told = {e.flow_id: e.ts for e in seen_events if isinstance(e, Note)
                and "this run was the oldest" in e.message}
        pk["release_s"] = sorted(e.ts - told[e.flow_id] for e in seen_events
                                 if isinstance(e, Cancelled) and e.flow_id in told)
        pk["max_parked"] = max_parked
        pk["burst"] = parked_burst
    return {"requests": total, "seconds": took, "tally": dict(tally),
            "malformed_sse": malformed, "cli_processes": len(pids), "orphans": orphans,
            "open_connections": open_connections, "journal_starts": starts,
            "journal_ends": ends, "journal_states": dict(states),
            "journal_dropped": loss.dropped, "rss_before_mb": rss_before,
            "rss_after_mb": rss_after, "faults": dict(Counter(j["fault"] for j in jobs)),
            "disconnects": sum(j["disconnect"] for j in jobs), "startups": startups,
            "startup_limit_s": startup_limit_s, "journal_fault": jf, "parked": pk,
            "loop_lag": sorted(lags)}


def check(r: dict[str, Any]) -> list[str]:
    """The invariants; each broken one is a line of the FAIL."""
    broken = []
    if r["malformed_sse"]:
        broken.append(f"{len(r['malformed_sse'])} malformed SSE endings")
    if r["orphans"]:
        broken.append(f"{len(r['orphans'])} CLI processes left running")
    if r["open_connections"]:
        broken.append(f"{r['open_connections']} connections left open")
    n, s, e, d = r["requests"], r["journal_starts"], r["journal_ends"], r["journal_dropped"]
    if s + e + d != 2 * n or s > n or e > n or (not r["journal_fault"] and d):
        broken.append(f"journal {s} start + {e} end + {d} dropped for {n} requests")
    lost = [k for k in r["tally"] if k.startswith("client failure")]
    if lost:
        broken.append(f"lost requests: {lost}")
    for seen in r["startups"]:
        if seen["walk_away"]:
            right = seen["journal"] in (None, ("cancelled", "client_disconnect"))
        else:
            right = seen["answer"] in ("504 timeout_error", "200 timeout_error (in stream)")
        if not right:
            broken.append(f"start-up hang answered wrongly: {seen}")
        if seen["pid"] is not None and (seen["alive_after_s"] is None
                                        or seen["alive_after_s"] > 0.5):
            broken.append(f"start-up CLI outlived its limit/disconnect by > 0.5 s: {seen}")
    jf = r["journal_fault"]
    if jf:
        if not (jf["dropped_before_fetch"] <= jf["health_dropped"] <= jf["metrics_dropped"]
                <= jf["dropped_before"] + jf["dropped_in_window"]) \
                or jf["health_dropped_end"] != jf["dropped"] \
                or jf["metrics_dropped_end"] != jf["dropped"]:
            broken.append(f"journal drops not shown right in /health, /metrics: {jf}")
        if jf["recovered_s"] is None or not jf["written_after_recovery"]:
            broken.append("journal did not recover by itself")
        if jf["failing_note"] != 1 or jf["recovery_note"] != 1 or jf["bad_lines"]:
            broken.append(f"journal notes or lines wrong: {jf}")
        if not jf["dropped_in_window"]:
            broken.append("the journal fault dropped nothing: the backlog bound was not tested")
    pk = r["parked"]
    if pk:
        # under load a call may time out before it parks: the bound applies to those parked
        over = max(0, r["tally"].get("parked burst: parked (tool_use)", 0) - pk["max_parked"])
        if pk["max_parked_seen"] > pk["max_parked"] or pk["over_s"] > 0.5:
            broken.append(f"more than max_parked parked: {pk}")
        if pk["cli_live_after"] > pk["max_parked"] or pk["released_notes"] != over \
                or pk["parked_limit_ends"] != over or pk["client_errors"]:
            broken.append(f"parked burst: {pk}")
    return broken


def spread(values: list[float]) -> str:
    if not values:
        return "n/a"
    values = sorted(values)
    med = values[len(values) // 2]
    return f"median {med * 1000:.0f} ms, max {values[-1] * 1000:.0f} ms"


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
    print(f"journal: {r['journal_starts']} start + {r['journal_ends']} end records + "
          f"{r['journal_dropped']} counted drops for {r['requests']} requests (must be "
          f"{2 * r['requests']}); end states {r['journal_states']}")
    print(f"proxy RSS {r['rss_before_mb']:.0f} MB before, {r['rss_after_mb']:.0f} MB after")
    lags = r["loop_lag"]
    if lags:
        print(f"event loop lag (clients and proxy in one loop): median "
              f"{lags[len(lags) // 2] * 1000:.0f} ms, p99 {lags[int(len(lags) * 0.99)] * 1000:.0f}"
              f" ms, max {lags[-1] * 1000:.0f} ms")
    if r["startups"]:
        st = r["startups"]
        answered = [x for x in st if not x["walk_away"]]
        walked = [x for x in st if x["walk_away"]]
        right = sum(x["answer"] in ("504 timeout_error", "200 timeout_error (in stream)")
                    for x in answered)
        cancelled = sum(x["journal"] == ("cancelled", "client_disconnect") for x in walked)
        print(f"start-up hangs {len(st)} (limit {r['startup_limit_s']:g} s): {len(answered)} "
              f"waited, {right} answered timeout_error (must be all); {len(walked)} walked "
              f"away, {cancelled} journalled cancelled client_disconnect")
        late = [x["answer_after_limit_s"] for x in answered if x.get("pid")]
        print(f"  answer after the limit: {spread(late)}")
        for label, group in (("limit", answered), ("disconnect", walked)):
            alive = [x["alive_after_s"] for x in group if x.get("pid")]
            bad = sum(a is None or a > 0.5 for a in alive)
            print(f"  CLI gone after the {label}: {spread([a for a in alive if a is not None])}"
                  f" ({len(alive)} CLIs, {bad} over 0.5 s, must be 0)")
    jf = r["journal_fault"]
    if jf:
        print(f"unwritable journal (ENOSPC) from request {jf['at']} to {jf['until']}: "
              f"{jf['errors']} failed writes ({jf['failing_seen']}), backlog max "
              f"{jf['backlog_max']} records / {jf['backlog_mib_max']:.2f} MiB (bound set "
              f"to {jf['bound']}), RSS max {jf['rss_max']:.0f} MB")
        print(f"  dropped {jf['dropped_in_window']} in the window; /health {jf['health_dropped']}"
              f", /metrics {jf['metrics_dropped']}; at the end {jf['dropped']} = /health "
              f"{jf['health_dropped_end']} = /metrics {jf['metrics_dropped_end']}")
        rec = "n/a" if jf["recovered_s"] is None else f"{jf['recovered_s']:.1f} s"
        print(f"  recovered by itself {rec} after space came back; notes: failing "
              f"{jf['failing_note']}, recovered {jf['recovery_note']}; "
              f"{jf['written_after_recovery']} records written after; cut lines "
              f"{jf['bad_lines']}")
    pk = r["parked"]
    if pk:
        print(f"parked burst at request {pk['at']}: {pk['burst']} passthrough calls at once, "
              f"max_parked {pk['max_parked']}; parked runs at most {pk['max_parked_seen']}, "
              f"live parked CLIs at most {pk['max_live_parked']}, over max_parked for at most "
              f"{pk['over_s'] * 1000:.0f} ms (released ones being killed; must be < 500 ms); "
              f"flows shown parked at most {pk['max_parked_flows']}")
        print(f"  released oldest {pk['parked_limit_ends']} (parked_limit), notes "
              f"{pk['released_notes']}; CLIs {pk['cli_started']} started, "
              f"{pk['cli_live_after']} live after the burst, left at the end counted above; "
              f"{pk['shutdown_ends']} ended at shutdown; release (note to its end) "
              f"{spread(pk['release_s'])}")


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
                                log, startup_share=args.startup_share,
                                startup_limit_s=args.startup_limit,
                                journal_fault=None if args.no_journal_fault else (0.3, 0.5),
                                max_parked=args.max_parked, parked_burst=args.parked_burst)
            report(result)
            broken = check(result)
            for line in broken:
                print(f"BROKEN: {line}"[:600])
            ok = ok and not broken
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat in one process (a fresh proxy each round) to watch RSS")
    parser.add_argument("--startup-share", type=float, default=0.05,
                        help="share of requests whose CLI never finishes starting")
    parser.add_argument("--startup-limit", type=float, default=2.0,
                        help="the start-up limit in s (stands for the SDK's 60 s)")
    parser.add_argument("--no-journal-fault", action="store_true")
    parser.add_argument("--max-parked", type=int, default=4)
    parser.add_argument("--parked-burst", type=int, default=12)
    sys.exit(asyncio.run(main(parser.parse_args())))
