"""Agent mode: Claude Code's own tools run in the working directory; only text reaches the
client; every tool call and file operation is published with its absolute path."""

import json

import aiohttp

from conftest import read_log
from sse_grammar import check_stream

MODEL = "claude-sonnet-5-5"


async def stream(proxy, text):
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + "/v1/messages", json={
            "model": MODEL, "max_tokens": 50, "stream": True,
            "messages": [{"role": "user", "content": text}]}) as resp,
    ):
        assert resp.status == 200
        return check_stream(await resp.read(), expect_error=False)


async def test_write_tool_runs_in_cwd_and_is_observed(start_proxy, tmp_path):
    proxy = await start_proxy(mode="agent", permission_mode="bypassPermissions")
    checked = await stream(proxy, "FAKE:write=notes/hello.txt")
    target = tmp_path / "notes" / "hello.txt"
    assert target.read_text() == "hello from fake claude\n"
    # The client sees text only: no tool_use block, one message, final stop reason end_turn.
    assert checked.block_types == ["text"]
    assert checked.text == "Wrote 23 bytes to notes/hello.txt"
    assert checked.stop_reason == "end_turn"
    events = proxy.collect()
    call = next(e for e in events if e.kind == "tool_call")
    assert call.name == "Write" and call.path == str(target) and not call.outside_cwd
    op = next(e for e in events if e.kind == "file_op")
    assert (op.tool, op.path, op.bytes, op.outcome, op.outside_cwd) == (
        "Write", str(target), 23, "ok", False)
    assert op.duration_ms is not None
    result = next(e for e in events if e.kind == "tool_result")
    assert result.outcome == "ok"
    start = next(e for e in read_log() if e.get("event") == "start" and
                 "--permission-mode" in e["argv"])
    assert start["argv"][start["argv"].index("--permission-mode") + 1] == "bypassPermissions"
    assert start["cwd"] == str(tmp_path)


async def test_write_outside_the_working_directory_is_flagged(start_proxy, tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    proxy = await start_proxy(mode="agent", cwd=str(work))
    await stream(proxy, "FAKE:write=../elsewhere.txt")
    op = next(e for e in proxy.collect() if e.kind == "file_op")
    assert op.path == str(tmp_path / "elsewhere.txt") and op.outside_cwd


async def test_default_permission_mode_denial_is_reported(start_proxy, tmp_path):
    proxy = await start_proxy(mode="agent", permission_mode="default")
    checked = await stream(proxy, "FAKE:write=denied.txt")
    assert not (tmp_path / "denied.txt").exists()
    assert checked.text.startswith("I could not write denied.txt")
    outcomes = [e.outcome for e in proxy.collect() if e.kind == "tool_result"]
    assert "denied" in outcomes


async def test_chat_mode_has_no_tools_and_no_host_settings(proxy):
    await stream(proxy, "just chat")
    start = [e for e in read_log() if e.get("event") == "start"][-1]
    argv = start["argv"]
    assert argv[argv.index("--tools") + 1] == ""
    assert "--setting-sources=" in argv


async def test_client_tools_in_chat_mode_are_answered_without_tools_and_logged(start_proxy):
    proxy = await start_proxy(mode="chat")
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + "/v1/messages", json={
            "model": MODEL, "max_tokens": 50,
            "tools": [{"name": "read_file", "input_schema": {"type": "object"}}],
            "messages": [{"role": "user", "content": "use tools?"}]}) as resp,
    ):
        body = json.loads(await resp.read())
    assert body["content"][0]["text"] == "You said: use tools?"
    notes = [e.message for e in proxy.collect() if e.kind == "note"]
    assert any("answers without tools" in n for n in notes)
