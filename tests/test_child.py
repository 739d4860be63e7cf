"""The CLI child: no inherited loop back to the proxy, and it dies with the proxy."""

import os
import re
import signal
import subprocess
import sys
import time

import aiohttp
import anthropic
import pytest

from conftest import FAKE_CLAUDE, pid_alive, read_log
from tui_proxy.sdk.child import command_prefix, dropped_vars, explicit_env

MODEL = "claude-sonnet-5-5"


def test_inherited_anthropic_variables_are_dropped_unless_given_on_purpose():
    environ = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:3456", "ANTHROPIC_API_KEY": "sk-x",
               "CLAUDE_PROXY_CLI_ENV_ANTHROPIC_API_KEY": "sk-real", "HOME": "/h"}
    # The proxy's own settings variables go too: the CLI gets the given one under its name.
    assert dropped_vars(environ) == ["ANTHROPIC_BASE_URL", "CLAUDE_PROXY_CLI_ENV_ANTHROPIC_API_KEY"]
    assert explicit_env(environ) == {"ANTHROPIC_API_KEY": "sk-real"}
    prefix = command_prefix(str(FAKE_CLAUDE), environ)
    assert prefix[-4:] == ["-u", "ANTHROPIC_BASE_URL", "-u",
                           "CLAUDE_PROXY_CLI_ENV_ANTHROPIC_API_KEY"] and prefix[-5].endswith("env")
    if sys.platform.startswith("linux"):
        assert "--pdeathsig" in prefix or "launcher.py" in " ".join(prefix)
    assert command_prefix("/no/such/claude", environ) == [], "a missing CLI stays the SDK's"


async def test_the_cli_never_sees_the_proxys_own_base_url(start_proxy, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:3456")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "leaked")
    monkeypatch.setenv("CLAUDE_PROXY_CLI_ENV_ANTHROPIC_API_KEY", "given-on-purpose")
    proxy = await start_proxy()
    mark = len(read_log())
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    reply = await client.messages.create(model=MODEL, max_tokens=20,
                                         messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "You said: hi"
    env = [e for e in read_log()[mark:] if e.get("event") == "start"][0]["env"]
    assert "ANTHROPIC_BASE_URL" not in env and "ANTHROPIC_AUTH_TOKEN" not in env
    assert env["ANTHROPIC_API_KEY"] == "given-on-purpose"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
async def test_the_cli_dies_when_the_proxy_is_killed_with_sigkill(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_PROXY_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_proxy", "--headless", "--port", "0", "--cli-path",
         str(FAKE_CLAUDE), "--cwd", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", proc.stdout.readline())
        assert match
        mark = len(read_log())
        async with (
            aiohttp.ClientSession() as session,
            session.post(match.group(1) + "/v1/messages", json={
                "model": MODEL, "max_tokens": 10, "stream": True, "messages": [
                    {"role": "user", "content": "FAKE:hang_hard"}]}) as resp,
        ):
            await resp.content.readline()  # the stream has begun; the CLI ignores all but SIGKILL
            pids = [e["pid"] for e in read_log()[mark:] if e.get("event") == "start"]
            assert pids and all(pid_alive(p) for p in pids)
            proc.send_signal(signal.SIGKILL)
            proc.wait(5)
        deadline = time.monotonic() + 3
        while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in pids if pid_alive(p)], "the CLI outlived a SIGKILLed proxy"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
