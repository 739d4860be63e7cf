"""Issue 13 item 8: no secret reaches the journal, the headless log or the CLI's environment
through a side door (model, User-Agent, tool names, error messages, CLI stderr, the proxy's own
settings variables), and what the proxy writes privately is private (0600 files, 0700 dirs)."""

import io
import os
import stat
from pathlib import Path

import anthropic
import pytest

from conftest import read_log
from tui_proxy.headless import print_events
import asyncio

SECRET = "sk-ant-api03-Zq9xW8vU7tS6rR5qP4oN3mM2lL1kK0jJ"
TOOL_SECRET = "sk-ant-oat01-ToolNameSecret0123456789"
PROXY_KEY = "proxy-own-key-7f3c9a1e5b"  # no secret pattern: redacted because it is the key


def journal_text(folder: Path) -> str:
    return "".join(p.read_text() for p in sorted(folder.glob("journal-*.jsonl")))


async def test_secrets_in_model_user_agent_tool_names_and_errors_stay_out_of_the_journal(
        start_proxy, tmp_path):
    folder = tmp_path / "journal"
    proxy = await start_proxy(journal_dir=str(folder), api_key=PROXY_KEY)
    log = io.StringIO()
    stop = asyncio.Event()
    printer = asyncio.create_task(print_events(proxy.bus, log, False, stop))
    client = anthropic.AsyncAnthropic(
        base_url=proxy.url, api_key=PROXY_KEY, max_retries=0,
        default_headers={"User-Agent": f"bot/1 {SECRET} {PROXY_KEY}"})
    await client.messages.create(
        model=f"claude-{SECRET}", max_tokens=50,
        tools=[{"name": TOOL_SECRET, "description": "d",
                "input_schema": {"type": "object"}}],
        messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.APIError):
        await client.messages.create(
            model="claude-sonnet-5-5", max_tokens=50,
            messages=[{"role": "user",
                       "content": f"FAKE:stderr={SECRET} FAKE:stderr={PROXY_KEY} FAKE:crash=3"}])
    await proxy.server.stop()
    stop.set()
    await printer
    text = journal_text(folder)
    assert text.count('"record": "end"') == 2
    for secret in (SECRET, TOOL_SECRET, PROXY_KEY):
        assert secret not in text, f"{secret} in the journal"
        assert secret not in log.getvalue(), f"{secret} in the headless log"
    assert "[redacted]" in text and "[redacted]" in log.getvalue()


async def test_the_cli_never_sees_the_proxys_settings_variables(start_proxy, monkeypatch):
    from tui_proxy.sdk.login import cli_environment
    monkeypatch.setenv("CLAUDE_PROXY_API_KEY", PROXY_KEY)
    monkeypatch.setenv("CLAUDE_PROXY_JOURNAL_MAX_MB", "64")
    monkeypatch.setenv("CLAUDE_PROXY_CLI_ENV_CLAUDE_CODE_MAX_OUTPUT_TOKENS", "777")
    proxy = await start_proxy(api_key=PROXY_KEY)
    mark = len(read_log())
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key=PROXY_KEY, max_retries=0)
    reply = await client.messages.create(model="claude-sonnet-5-5", max_tokens=20,
                                         messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "You said: hi"
    env = [e for e in read_log()[mark:] if e.get("event") == "start"][0]["env"]
    assert not [k for k in env if k.startswith("CLAUDE_PROXY_")], env
    assert env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] == "777", "given on purpose, under its own name"
    mirrored = cli_environment()  # what `login` and the doctor run the CLI with
    assert not [k for k in mirrored if k.startswith("CLAUDE_PROXY_")]
    assert mirrored["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] == "777"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_seeded_transcripts_and_the_config_file_are_private(tmp_path):
    from tui_proxy.config.settings_file import write_config
    from tui_proxy.sdk.seed import write_seed
    old = os.umask(0o022)
    try:
        existing = tmp_path / "cfg"
        existing.mkdir(mode=0o755)
        os.chmod(existing, 0o755)
        env = {"CLAUDE_CONFIG_DIR": str(existing)}
        _, path = write_seed([{"role": "user", "content": "a secret plan"}], cwd=str(tmp_path),
                             model="m", version="v", tools=False, rename=str, env=env)
        assert _mode(path) == 0o600
        assert _mode(path.parent) == 0o700 and _mode(path.parent.parent) == 0o700
        assert _mode(existing) == 0o755, "a folder the proxy did not create keeps its mode"
        config = write_config(tmp_path / "new" / "sub" / "config.toml")
        assert _mode(config) == 0o600
        assert _mode(tmp_path / "new") == 0o700 and _mode(tmp_path / "new" / "sub") == 0o700
        again = write_config(config, force=True)
        assert _mode(again) == 0o600
    finally:
        os.umask(old)
