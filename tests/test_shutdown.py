"""Graceful shutdown of the headless proxy: stop accepting, let flows finish for drain_s,
cancel the rest with a clean error, exit with no CLI left."""

import asyncio
import os
import re
import signal
import subprocess
import sys

import aiohttp

from conftest import FAKE_CLAUDE, pid_alive, read_log
from sse_grammar import check_stream

MODEL = "claude-sonnet-5-5"


def start(tmp_path, drain_s: int) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_PROXY_")}
    env["CLAUDE_PROXY_DRAIN_S"] = str(drain_s)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_proxy", "--headless", "--port", "0", "--cli-path",
         str(FAKE_CLAUDE), "--cwd", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", proc.stdout.readline())
    assert match
    return proc, match.group(1)


async def until_shutting_down(proc: subprocess.Popen) -> str:
    """The headless log up to its "shutting down" line: from then on nothing new is accepted."""
    seen = ""
    while "shutting down" not in seen:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 15)
        assert line, f"proxy exited before shutting down: {seen}"
        seen += line
    return seen


async def stream_while_terminated(url: str, proc: subprocess.Popen,
                                  prompt: str) -> tuple[bytes, str]:
    """Stream, SIGTERM the proxy mid-stream, check a late request is refused; return the
    stream's bytes and the log read so far."""
    async with aiohttp.ClientSession() as session, session.post(url + "/v1/messages", json={
            "model": MODEL, "max_tokens": 1000, "stream": True,
            "messages": [{"role": "user", "content": prompt}]}) as resp:
        first = await resp.content.readline()
        proc.send_signal(signal.SIGTERM)
        seen = await until_shutting_down(proc)
        try:  # no new connections once shutdown began
            async with session.post(url + "/v1/messages", json={
                    "model": MODEL, "max_tokens": 5,
                    "messages": [{"role": "user", "content": "late"}]}) as late:
                assert late.status >= 500
        except aiohttp.ClientError:
            pass
        return first + await resp.read(), seen


async def test_in_flight_flows_finish_within_the_drain(tmp_path):
    proc, url = start(tmp_path, drain_s=10)
    mark = len(read_log())
    try:
        raw, seen = await stream_while_terminated(url, proc, "FAKE:delay=0.05 FAKE:tokens=30")
        checked = check_stream(raw, expect_error=False)
        assert checked.text.split() == [f"tok{i}" for i in range(30)]
        assert proc.wait(15) == 0
        out = seen + proc.stdout.read()
        assert "they may finish for up to 10 s" in out and "finished done" in out
    finally:
        if proc.poll() is None:
            proc.kill()
    pids = [e["pid"] for e in read_log()[mark:] if e.get("event") == "start"]
    assert pids and not [p for p in pids if pid_alive(p)]


async def test_flows_beyond_the_drain_are_cancelled_with_a_clean_error(tmp_path):
    proc, url = start(tmp_path, drain_s=1)
    mark = len(read_log())
    try:
        raw, _ = await stream_while_terminated(url, proc, "FAKE:delay=0.2 FAKE:tokens=500")
        checked = check_stream(raw, expect_error=True)
        assert "shut" in checked.error["message"].lower()
        assert proc.wait(15) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    pids = [e["pid"] for e in read_log()[mark:] if e.get("event") == "start"]
    assert pids and not [p for p in pids if pid_alive(p)]
