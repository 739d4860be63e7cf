"""Limits and cancel reach a CLI that is still starting (issue 13 item 3).

The SDK's ``connect()`` waits for the CLI's answer to ``initialize`` and, when cancelled,
closes the process its own way (stdin EOF, 5 s, SIGTERM, 5 s …). The proxy kills the CLI
itself the moment a limit or a cancel fires, so the 504 arrives at the limit and a client
that walks away during start-up takes its CLI with it. The fake CLI sleeps before it reads
stdin with ``FAKE_CLAUDE_STARTUP_DELAY`` (read from the proxy's environment)."""

import asyncio
import json
import time

import aiohttp

from conftest import eventually, live_fake_pids, wait_no_fake_alive

MODEL = "claude-sonnet-5-5"


def body(stream=False):
    return {"model": MODEL, "max_tokens": 5, "stream": stream,
            "messages": [{"role": "user", "content": "hello"}]}


async def post(proxy, data):
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + "/v1/messages", json=data) as resp,
    ):
        return resp.status, await resp.read()


def one_terminal_state(proxy) -> str:
    finished = [e for e in proxy.collect() if e.kind == "finished"]
    assert len(finished) == 1, finished
    return finished[0].state


async def test_total_timeout_during_startup_is_a_504_at_the_limit(start_proxy, monkeypatch):
    monkeypatch.setenv("FAKE_CLAUDE_STARTUP_DELAY", "30")
    proxy = await start_proxy(timeout_ms=1000)
    started = time.monotonic()
    status, raw = await post(proxy, body())
    took = time.monotonic() - started
    assert status == 504, raw
    error = json.loads(raw)["error"]
    assert error["type"] == "timeout_error" and "total" in error["message"]
    assert took < 3.5, f"the 1 s limit answered after {took:.1f} s"
    assert await wait_no_fake_alive(2.0) == [], "the starting CLI outlived its timeout"
    await eventually(lambda: any(e.kind == "finished" for e in proxy.collect()))
    assert one_terminal_state(proxy) == "timed out"
    assert [e.limit for e in proxy.collect() if e.kind == "timeout"] == ["total"]


async def test_streamed_total_timeout_during_startup(start_proxy, monkeypatch):
    monkeypatch.setenv("FAKE_CLAUDE_STARTUP_DELAY", "30")
    proxy = await start_proxy(timeout_ms=1000)
    started = time.monotonic()
    status, raw = await post(proxy, body(stream=True))
    assert time.monotonic() - started < 3.5
    assert b"timeout_error" in raw, raw
    assert await wait_no_fake_alive(2.0) == []


async def test_a_cli_that_never_answers_initialize_is_a_504(start_proxy, monkeypatch):
    """The SDK gives up on initialize after 60 s with a plain Exception (a 500, and 5 s more
    to close); the proxy holds the same start-up bound, kills the CLI and answers 504."""
    from tui_proxy.sdk import live_run
    monkeypatch.setattr(live_run, "STARTUP_LIMIT_S", 1.0)  # stands for the SDK's 60 s
    monkeypatch.setenv("FAKE_CLAUDE_STARTUP_DELAY", "30")
    proxy = await start_proxy()
    started = time.monotonic()
    status, raw = await post(proxy, body())
    assert time.monotonic() - started < 3.5
    assert status == 504, raw
    error = json.loads(raw)["error"]
    assert error["type"] == "timeout_error" and "start" in error["message"]
    assert await wait_no_fake_alive(2.0) == []
    await eventually(lambda: any(e.kind == "finished" for e in proxy.collect()))
    assert one_terminal_state(proxy) == "timed out"
    assert [e.limit for e in proxy.collect() if e.kind == "timeout"] == ["startup"]


async def test_client_disconnect_during_startup_kills_the_cli(proxy, monkeypatch):
    monkeypatch.setenv("FAKE_CLAUDE_STARTUP_DELAY", "30")
    async with aiohttp.ClientSession() as session:
        request = asyncio.ensure_future(session.post(proxy.url + "/v1/messages",
                                                     json=body(stream=True)))
        await eventually(live_fake_pids, what="the CLI started")
        await asyncio.sleep(0.2)  # it is inside its start-up
        assert proxy.engine.flows.active
        request.cancel()
        await asyncio.gather(request, return_exceptions=True)
    dropped = time.monotonic()
    alive = await wait_no_fake_alive(2.0)
    assert alive == [], f"CLI still alive {time.monotonic() - dropped:.2f} s after disconnect"
    await eventually(lambda: any(e.kind == "finished" for e in proxy.collect()))
    assert one_terminal_state(proxy) == "cancelled"
    assert [e.reason for e in proxy.collect() if e.kind == "cancelled"] == ["client_disconnect"]


async def test_operator_cancel_during_startup(proxy, monkeypatch):
    monkeypatch.setenv("FAKE_CLAUDE_STARTUP_DELAY", "30")
    task = asyncio.ensure_future(post(proxy, body()))
    await eventually(live_fake_pids, what="the CLI started")
    flow = next(iter(proxy.engine.flows.active.values()))
    started = time.monotonic()
    assert proxy.engine.cancel(flow.id)
    status, raw = await task
    assert time.monotonic() - started < 2.0
    assert status == 499 and b"operator" in raw, raw
    assert await wait_no_fake_alive(2.0) == []
    assert one_terminal_state(proxy) == "cancelled"
