"""Drive tests/fake_cli/fake_claude through the REAL claude_agent_sdk (no mocks).

Every directive of the fake is exercised here and asserted on the SDK's parsed
message objects.  After each test no fake process may still be alive (pids
come from the fake's own FAKE_CLAUDE_LOG).
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import json
import os
import signal
import sys
import time
from asyncio.base_subprocess import BaseSubprocessTransport
from pathlib import Path

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    CLIJSONDecodeError,
    ConversationResetMessage,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ProcessError,
    RateLimitEvent,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    create_sdk_mcp_server,
    query,
    tool,
)
from claude_agent_sdk._errors import ResultError
from conftest import eventually

pytestmark = pytest.mark.asyncio

FAKE = Path(__file__).resolve().parent / "fake_cli" / "fake_claude"


# --------------------------------------------------------------------------- fixtures


def _read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def _open_transports(pids: list[int]) -> list:
    """Subprocess transports of these pids still alive after a full collection."""
    gc.collect()
    return [o for o in gc.get_objects()
            if isinstance(o, BaseSubprocessTransport) and o.get_pid() in pids]


class Fake:
    """Per-test handle: options factory, log access, workspace."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.log_path = tmp_path / "fake.log.jsonl"
        self.state_dir = tmp_path / "state"
        self.work = tmp_path / "work"
        self.work.mkdir()
        self.stderr: list[str] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "FAKE_CLAUDE_LOG": str(self.log_path),
            "FAKE_CLAUDE_STATE_DIR": str(self.state_dir),
            # `/usr/bin/env python3` must not hit a slow pyenv shim
            "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        }
        env.update(extra)
        return env

    def options(self, env: dict[str, str] | None = None, **kw) -> ClaudeAgentOptions:
        kw.setdefault("cwd", str(self.work))
        kw.setdefault("setting_sources", [])
        kw.setdefault("stderr", self.stderr.append)
        return ClaudeAgentOptions(cli_path=str(FAKE), env=self.env(**(env or {})), **kw)

    def log(self) -> list[dict]:
        return _read_log(self.log_path)

    def events(self, name: str) -> list[dict]:
        return [e for e in self.log() if e["event"] == name]

    def pids(self) -> list[int]:
        return [e["pid"] for e in self.events("start")]


@pytest.fixture
def fake(tmp_path: Path):
    f = Fake(tmp_path)
    yield f
    pids = f.pids()
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.02)
    alive = [p for p in pids if _alive(p)]
    for p in alive:  # don't leak them into the next test, but fail this one
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    assert not alive, f"fake processes still alive after the test: {alive}"


async def collect(prompt, options) -> tuple[list, BaseException | None]:
    """Run query() to the end; return (messages, exception or None)."""
    msgs: list = []
    try:
        async with contextlib.aclosing(query(prompt=prompt, options=options)) as it:
            async for m in it:
                msgs.append(m)
    except Exception as e:  # noqa: BLE001
        return msgs, e
    return msgs, None


async def turn(client: ClaudeSDKClient, prompt: str) -> list:
    await client.query(prompt)
    return [m async for m in client.receive_response()]


def of(msgs, cls):
    return [m for m in msgs if isinstance(m, cls)]


def events(msgs) -> list[dict]:
    return [m.event for m in msgs if isinstance(m, StreamEvent)]


def text_deltas(msgs) -> list[str]:
    return [
        e["delta"]["text"]
        for e in events(msgs)
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta"
    ]


def texts(msgs) -> list[str]:
    return [b.text for m in of(msgs, AssistantMessage) for b in m.content
            if isinstance(b, TextBlock)]


def result(msgs) -> ResultMessage:
    rs = of(msgs, ResultMessage)
    assert rs, f"no ResultMessage in {msgs!r}"
    return rs[-1]


def system(msgs, subtype) -> list[SystemMessage]:
    return [m for m in msgs if isinstance(m, SystemMessage) and m.subtype == subtype]


def kinds(msgs) -> list[str]:
    """Compact trace: 'init', 'status', 'E:message_start', 'A', 'U', 'R', ..."""
    out = []
    for m in msgs:
        if isinstance(m, StreamEvent):
            out.append("E:" + m.event["type"])
        elif isinstance(m, AssistantMessage):
            out.append("A")
        elif isinstance(m, UserMessage):
            out.append("U")
        elif isinstance(m, ResultMessage):
            out.append("R")
        elif isinstance(m, SystemMessage):
            out.append(m.subtype)
        else:
            out.append(type(m).__name__)
    return out


# --------------------------------------------------------------------------- basics


async def test_version_flag():
    proc = await asyncio.create_subprocess_exec(
        str(FAKE), "--version", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    assert out.decode().strip() == "2.1.330 (Claude Code)"


async def test_raw_protocol_frames(fake):
    """The wire as the SDK sees it, including the frames the SDK swallows."""
    env = {**os.environ, **fake.env(), "CLAUDE_CODE_SDK_READS_SESSION_STATE": "1"}
    proc = await asyncio.create_subprocess_exec(
        str(FAKE), "--output-format", "stream-json", "--verbose", "--model", "m1",
        "--resume", "not-a-flag-value-so-unknown", "--input-format", "stream-json",
        cwd=fake.work, env={k: v for k, v in env.items()}, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(b""), 5)
    assert proc.returncode == 1  # --resume in two-token form is honoured too
    assert b"No conversation found with session ID: not-a-flag-value-so-unknown" in err

    proc = await asyncio.create_subprocess_exec(
        str(FAKE), "--output-format", "stream-json", "--verbose", "--model", "m1",
        "--input-format", "stream-json", cwd=fake.work, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)

    async def send(obj):
        proc.stdin.write((json.dumps(obj) + "\n").encode())
        await proc.stdin.drain()

    async def recv():
        return json.loads(await asyncio.wait_for(proc.stdout.readline(), 5))

    await send({"type": "control_request", "request_id": "req_1_ab",
                "request": {"subtype": "initialize", "hooks": None}})
    r = await recv()
    assert r["type"] == "control_response" and r["response"]["subtype"] == "success"
    assert r["response"]["request_id"] == "req_1_ab"
    init = r["response"]["response"]
    assert init["commands"] == [] and init["models"] == [] and init["pid"] == proc.pid
    assert init["claude_code_version"] == "2.1.330" and init["current_permission_mode"] == "default"
    await send({"type": "control_request", "request_id": "req_2_cd",
                "request": {"subtype": "whatever"}})
    r = await recv()
    assert r["response"] == {"subtype": "success", "request_id": "req_2_cd", "response": {}}
    await send({"type": "user", "session_id": "", "parent_tool_use_id": None,
                "message": {"role": "user", "content": "hi"}})
    frames = []
    while not frames or frames[-1].get("state") != "idle":
        frames.append(await recv())
    assert frames[0]["subtype"] == "session_state_changed" and frames[0]["state"] == "running"
    assert frames[0]["sdk_host_only"] is True
    assert [f["type"] for f in frames[1:]] == ["system", "system", "assistant", "result", "system"]
    res = frames[-2]
    for key in ("subtype", "duration_ms", "duration_api_ms", "is_error", "num_turns", "session_id",
                "stop_reason", "usage", "total_cost_usd", "modelUsage", "terminal_reason",
                "permission_denials", "api_error_status", "uuid", "result"):
        assert key in res, key
    assert res["result"] == "You said: hi" and res["modelUsage"]["m1"]["outputTokens"] == 3
    proc.stdin.close()
    assert await asyncio.wait_for(proc.wait(), 5) == 0
    assert await proc.stdout.read() == b""


async def test_echo_streamed_with_partial_messages(fake):
    msgs, exc = await collect(
        "hello  big world", fake.options(include_partial_messages=True, model="claude-test-1")
    )
    assert exc is None
    assert kinds(msgs) == [
        "init", "status", "E:message_start", "E:content_block_start",
        "E:content_block_delta", "E:content_block_delta", "E:content_block_delta",
        "E:content_block_delta", "E:content_block_delta", "A", "E:content_block_stop",
        "E:message_delta", "E:message_stop", "R",
    ]
    init = system(msgs, "init")[0].data
    sid = init["session_id"]
    assert init["model"] == "claude-test-1"
    assert init["cwd"] == str(fake.work)
    assert init["permissionMode"] == "default"
    assert init["claude_code_version"] == "2.1.330"
    assert init["apiKeySource"] == "none"
    assert "Write" in init["tools"] and init["mcp_servers"] == []
    assert system(msgs, "status")[0].data["status"] == "requesting"

    evs = events(msgs)
    start = evs[0]["message"]
    assert start["model"] == "claude-test-1" and start["id"].startswith("msg_fake_")
    assert evs[1] == {"type": "content_block_start", "index": 0,
                      "content_block": {"type": "text", "text": ""}}
    assert text_deltas(msgs) == ["You ", "said: ", "hello  ", "big ", "world"]  # spaces kept
    md = evs[-2]
    assert md["delta"]["stop_reason"] == "end_turn" and md["usage"]["output_tokens"] == 5
    assert all(m.session_id == sid for m in msgs if isinstance(m, StreamEvent))

    a = of(msgs, AssistantMessage)[0]
    assert a.model == "claude-test-1" and a.stop_reason is None and a.error is None
    assert a.message_id == start["id"] and a.session_id == sid
    assert a.content == [TextBlock(text="You said: hello  big world")]

    r = result(msgs)
    assert (r.subtype, r.is_error, r.num_turns, r.session_id) == ("success", False, 1, sid)
    assert r.result == "You said: hello  big world"
    assert r.stop_reason == "end_turn" and r.terminal_reason == "completed"
    assert r.permission_denials == [] and r.api_error_status is None
    assert r.usage["output_tokens"] == 5 and r.usage["input_tokens"] == 3
    assert r.usage["cache_read_input_tokens"] == 0 and r.usage["cache_creation_input_tokens"] == 0
    assert r.total_cost_usd > 0
    assert r.model_usage["claude-test-1"]["outputTokens"] == 5
    assert fake.events("exit")[0]["code"] == 0


async def test_without_partial_messages_only_whole_messages(fake):
    msgs, exc = await collect("plain FAKE:think", fake.options())
    assert exc is None
    assert kinds(msgs) == ["init", "status", "A", "A", "R"]
    assert isinstance(of(msgs, AssistantMessage)[0].content[0], ThinkingBlock)
    assert texts(msgs) == ["You said: plain FAKE:think"]


async def test_list_content_counts_non_text_blocks(fake):
    png = base64.b64encode(b"\x89PNG fake").decode()

    async def prompt():
        yield {
            "type": "user", "session_id": "", "parent_tool_use_id": None,
            "message": {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image",
                 "source": {"type": "base64", "media_type": "image/png", "data": png}},
                {"type": "document",
                 "source": {"type": "text", "media_type": "text/plain", "data": "x"}},
                {"type": "image",
                 "source": {"type": "base64", "media_type": "image/png", "data": png}},
            ]},
        }

    msgs, exc = await collect(prompt(), fake.options())
    assert exc is None
    assert result(msgs).result == "You said: look [2 images, 1 document]"


async def test_argv_env_system_prompt_and_stdin_are_logged(fake):
    msgs, exc = await collect("hi", fake.options(
        system_prompt="You are a pirate.", tools=[], permission_mode="acceptEdits",
        env={"ANTHROPIC_API_KEY": "sk-test", "MCP_TOOL_TIMEOUT": "5000", "UNRELATED": "x"}))
    assert exc is None
    assert system(msgs, "init")[0].data["tools"] == []
    assert system(msgs, "init")[0].data["permissionMode"] == "acceptEdits"
    start = fake.events("start")[0]
    assert start["argv"][0] == str(FAKE) and start["cwd"] == str(fake.work)
    assert "--output-format" in start["argv"] and "--setting-sources=" in start["argv"]
    assert start["env"]["ANTHROPIC_API_KEY"] == "sk-test"
    assert start["env"]["MCP_TOOL_TIMEOUT"] == "5000"
    assert start["env"]["CLAUDE_CODE_ENTRYPOINT"] == "sdk-py"
    assert "UNRELATED" not in start["env"] and "PATH" not in start["env"]
    assert fake.events("system_prompt")[0]["text"] == "You are a pirate."
    frames = [e["frame"] for e in fake.events("stdin")]
    assert frames[0]["type"] == "control_request"
    assert frames[0]["request"]["subtype"] == "initialize"
    assert frames[1]["type"] == "user" and frames[1]["message"]["content"] == "hi"

    spf = fake.tmp / "prompt.md"
    spf.write_text("Prompt from a file.")
    msgs, exc = await collect("hi", fake.options(system_prompt={"type": "file", "path": str(spf)}))
    assert exc is None
    assert fake.events("system_prompt")[-1]["text"] == "Prompt from a file."


# --------------------------------------------------------------------------- reply directives


async def test_tokens(fake):
    msgs, _ = await collect("FAKE:tokens=5", fake.options(include_partial_messages=True))
    assert text_deltas(msgs) == ["tok0 ", "tok1 ", "tok2 ", "tok3 ", "tok4"]
    assert result(msgs).result == "tok0 tok1 tok2 tok3 tok4"


async def test_delay_spaces_tokens(fake):
    stamps = {}
    async for m in query(prompt="FAKE:tokens=4 FAKE:delay=0.05",
                         options=fake.options(include_partial_messages=True)):
        if isinstance(m, StreamEvent):
            stamps.setdefault(m.event["type"], []).append(time.perf_counter())
    assert len(stamps["content_block_delta"]) == 4
    # one delay before each of the 4 tokens
    assert stamps["content_block_delta"][-1] - stamps["message_start"][0] >= 0.18


async def test_big_reply_in_8k_deltas(fake):
    msgs, exc = await collect("FAKE:big=100000", fake.options(include_partial_messages=True))
    assert exc is None
    deltas = text_deltas(msgs)
    assert sum(len(d) for d in deltas) == 100000 and max(len(d) for d in deltas) == 8192
    assert len(texts(msgs)[0]) == 100000 and len(result(msgs).result) == 100000


async def test_big_reply_over_sdk_default_buffer(fake):
    """The SDK's default max_buffer_size is 1 MiB per stdout line.

    After the CLIJSONDecodeError the SDK stops reading stdout but leaves the
    child alone: the fake stays blocked writing the rest of the line, and the
    SDK's close() waits its full 5 s stdin-EOF grace before SIGTERM.  The
    watchdog below SIGKILLs the fake to skip that grace.  (The SDK also leaves
    the stdout pipe transport unclosed on this path; gc.collect() reaps it
    while the loop is still open, once the child watcher has reported the
    exit: until then its callback holds the transport, and a transport
    collected after the loop closed raises in a later test.)
    """

    async def watchdog():
        while not [e for e in fake.events("stdin") if e["frame"]["type"] == "user"]:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        for pid in fake.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    dog = asyncio.create_task(watchdog())
    msgs, exc = await collect("FAKE:big=1200000", fake.options())
    dog.cancel()
    assert isinstance(exc, CLIJSONDecodeError)
    assert "exceeded maximum buffer size" in str(exc)
    await eventually(lambda: not _open_transports(fake.pids()),
                     what="the killed fake's transport collected")
    msgs, exc = await collect("FAKE:big=1200000", fake.options(max_buffer_size=8 << 20))
    assert exc is None and len(result(msgs).result) == 1200000


async def test_max_tokens(fake):
    msgs, exc = await collect("FAKE:max_tokens", fake.options(include_partial_messages=True))
    assert exc is None
    delta = [e for e in events(msgs) if e["type"] == "message_delta"][0]["delta"]
    assert delta["stop_reason"] == "max_tokens"
    r = result(msgs)
    assert r.stop_reason == "max_tokens" and not r.is_error


async def test_think(fake):
    msgs, exc = await collect("FAKE:think", fake.options(include_partial_messages=True))
    assert exc is None
    evs = events(msgs)
    assert evs[1]["content_block"]["type"] == "thinking" and evs[1]["index"] == 0
    thinking = "".join(e["delta"]["thinking"] for e in evs
                       if e.get("delta", {}).get("type") == "thinking_delta")
    sig = [e["delta"]["signature"] for e in evs
           if e.get("delta", {}).get("type") == "signature_delta"]
    assert thinking == "Let me think about this fake request." and len(sig) == 1
    a = of(msgs, AssistantMessage)
    assert a[0].content == [ThinkingBlock(thinking=thinking, signature=sig[0])]
    assert a[1].content == [TextBlock(text="You said: FAKE:think")]
    assert [e["index"] for e in evs if e["type"] == "content_block_start"] == [0, 1]
    # each block's assistant frame precedes its content_block_stop
    k = kinds(msgs)
    assert k.index("A") < k.index("E:content_block_stop")


async def test_script_env_applies_to_every_turn(fake):
    opts = fake.options(env={"FAKE_CLAUDE_SCRIPT": "FAKE:tokens=2 FAKE:max_tokens"})
    async with ClaudeSDKClient(opts) as c:
        r1 = result(await turn(c, "one"))
        r2 = result(await turn(c, "two FAKE:tokens=3"))
    assert (r1.result, r1.stop_reason) == ("tok0 tok1", "max_tokens")
    assert r2.result == "tok0 tok1 tok2"


# --------------------------------------------------------------------------- sessions


async def test_sessions_resume_fork_recall(fake):
    msgs, _ = await collect("remember PINEAPPLE", fake.options())
    sid = result(msgs).session_id
    assert (fake.state_dir / f"{sid}.json").exists()

    msgs, _ = await collect("FAKE:recall", fake.options(resume=sid))
    assert result(msgs).session_id == sid
    assert result(msgs).result == "History: remember PINEAPPLE"
    assert f"--resume={sid}" in fake.events("start")[-1]["argv"]

    msgs, _ = await collect("FAKE:recall", fake.options(resume=sid, fork_session=True))
    fork = result(msgs).session_id
    assert fork != sid
    assert result(msgs).result == "History: remember PINEAPPLE | FAKE:recall"

    msgs, _ = await collect("FAKE:recall", fake.options(continue_conversation=True))
    assert result(msgs).session_id == fork  # latest session of this cwd
    assert result(msgs).result == "History: remember PINEAPPLE | FAKE:recall | FAKE:recall"

    msgs, _ = await collect("FAKE:recall", fake.options())
    assert result(msgs).result == "History: (empty)"

    chosen = "11111111-2222-4333-8444-555555555555"
    msgs, _ = await collect("hi", fake.options(session_id=chosen))
    assert result(msgs).session_id == chosen


async def test_resume_unknown_session(fake):
    bad = "00000000-0000-0000-0000-000000000000"
    msgs, exc = await collect("hi", fake.options(resume=bad))
    assert msgs == []
    assert isinstance(exc, ResultError)
    assert exc.subtype == "error_during_execution" and exc.session_id == bad
    assert exc.errors == [f"No conversation found with session ID: {bad}"]
    assert exc.exit_code == 1
    assert f"No conversation found with session ID: {bad}" in fake.stderr
    assert fake.events("exit")[0]["code"] == 1


async def test_client_many_turns_set_model_permission_mode_clear(fake):
    mcp = create_sdk_mcp_server("calc", tools=[_add])
    opts = fake.options(include_partial_messages=True, mcp_servers={"calc": mcp})
    async with ClaudeSDKClient(opts) as c:
        info = await c.get_server_info()
        assert info["claude_code_version"] == "2.1.330" and info["pid"] == fake.pids()[0]
        assert info["commands"] == [] and info["models"] == []
        m1 = await turn(c, "first")
        await c.set_model("claude-other")
        await c.set_permission_mode("acceptEdits")
        m2 = await turn(c, "FAKE:recall")
        status = await c.get_mcp_status()
        assert await c.get_context_usage() == {}  # unknown subtypes: success {}
        m3 = await turn(c, "/clear")
        m4 = await turn(c, "FAKE:recall")
    assert len(fake.pids()) == 1  # one process served every turn
    s1 = system(m1, "init")[0].data
    assert s1["model"] == "claude-sonnet-4-5" and "mcp__calc__add" in s1["tools"]
    assert s1["mcp_servers"] == [{"name": "calc", "status": "connected"}]
    s2 = system(m2, "init")[0].data
    assert s2["model"] == "claude-other" and s2["permissionMode"] == "acceptEdits"
    assert s2["session_id"] == s1["session_id"]
    assert events(m2)[0]["message"]["model"] == "claude-other"
    assert result(m2).result == "History: first"
    assert result(m2).total_cost_usd > result(m1).total_cost_usd  # running total
    assert set(result(m2).model_usage) == {"claude-sonnet-4-5", "claude-other"}
    server = status["mcpServers"][0]
    assert server["name"] == "calc" and server["status"] == "connected"
    reset = of(m3, ConversationResetMessage)[0]
    assert reset.session_id == s1["session_id"]
    assert result(m3).session_id == reset.new_conversation_id and result(m3).num_turns == 0
    assert result(m4).result == "History: (empty)"
    assert result(m4).session_id == reset.new_conversation_id
    assert fake.events("exit")[0]["code"] == 0


# --------------------------------------------------------------------------- interrupts


async def test_interrupt_during_delay_stops_after_current_token(fake):
    opts = fake.options(include_partial_messages=True)
    async with ClaudeSDKClient(opts) as c:
        await c.query("FAKE:tokens=50 FAKE:delay=0.05")
        msgs = []
        sent = False
        async for m in c.receive_response():
            msgs.append(m)
            if len(text_deltas(msgs)) == 3 and not sent:
                sent = True
                await c.interrupt()
        after = await turn(c, "still alive?")
    n = len(text_deltas(msgs))
    assert 3 <= n < 50  # stops after the token in flight, not at the end
    a = of(msgs, AssistantMessage)
    assert a[-1].content[0].text == "".join(text_deltas(msgs))
    u = of(msgs, UserMessage)[-1]
    assert u.content == [TextBlock(text="[Request interrupted by user]")]
    k = kinds(msgs)
    assert k[-4:] == ["U", "E:message_delta", "E:message_stop", "R"]
    assert "E:content_block_stop" not in k
    r = result(msgs)
    assert (r.subtype, r.is_error, r.terminal_reason) == ("error_during_execution", True,
                                                          "aborted_streaming")
    assert result(after).result == "You said: still alive?"
    assert result(after).session_id == r.session_id


async def test_hang_until_interrupt(fake):
    opts = fake.options(include_partial_messages=True)
    async with ClaudeSDKClient(opts) as c:
        await c.query("FAKE:hang")
        msgs = []
        async for m in c.receive_response():
            msgs.append(m)
            if isinstance(m, StreamEvent) and m.event["type"] == "message_start":
                await asyncio.sleep(0.2)
                t0 = time.perf_counter()
                await c.interrupt()
                # acknowledged at once, not after the hung turn (which never ends)
                assert time.perf_counter() - t0 < 10
        again = await turn(c, "FAKE:tokens=1")
    assert kinds(msgs) == ["init", "status", "E:message_start", "U", "E:message_delta",
                           "E:message_stop", "R"]
    assert of(msgs, AssistantMessage) == []
    md = events(msgs)[1]
    assert md["delta"]["stop_reason"] is None
    r = result(msgs)
    assert r.subtype == "error_during_execution" and r.terminal_reason == "aborted_streaming"
    assert r.errors and r.errors[0].startswith("[ede_diagnostic]")
    assert result(again).result == "tok0"


async def test_hang_hard_ignores_interrupt_and_sigterm(fake):
    opts = fake.options(include_partial_messages=True)
    async with ClaudeSDKClient(opts) as c:
        await c.query("FAKE:hang_hard")
        async for m in c.receive_messages():
            if isinstance(m, StreamEvent) and m.event["type"] == "message_start":
                break
        await c.interrupt()  # acknowledged, but nothing ends
        for _ in range(100):
            if fake.events("hang_hard"):
                break
            await asyncio.sleep(0.01)
        pid = fake.pids()[0]
        os.kill(pid, signal.SIGTERM)
        await asyncio.sleep(0.3)
        assert _alive(pid), "FAKE:hang_hard must survive SIGTERM"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.receive_messages().__anext__(), 0.2)
        os.kill(pid, signal.SIGKILL)  # the only way out (disconnect() would take 10 s)
    assert not _alive(pid)
    assert fake.events("exit") == []


# --------------------------------------------------------------------------- API errors


async def test_rate_limit_with_retries(fake):
    msgs, exc = await collect("FAKE:rate_limit=2", fake.options(include_partial_messages=True))
    retries = system(msgs, "api_retry")
    assert [r.data["attempt"] for r in retries] == [1, 2]
    assert all(r.data["max_retries"] == 2 and r.data["retry_delay_ms"] == 50
               and r.data["error_status"] == 429 and r.data["error"] == "rate_limit"
               for r in retries)
    assert events(msgs) == []  # no stream for a failed request
    a = of(msgs, AssistantMessage)[0]
    text = ("API Error: Request rejected (429) · Number of request tokens has exceeded your "
            "per-minute rate limit")
    assert (a.model, a.error, a.content) == ("<synthetic>", "rate_limit", [TextBlock(text=text)])
    r = result(msgs)
    assert (r.subtype, r.is_error, r.api_error_status, r.terminal_reason, r.result) == (
        "success", True, 429, "api_error", text)
    assert isinstance(exc, ResultError) and exc.api_error_status == 429 and exc.exit_code == 1
    assert fake.events("exit")[0]["code"] == 1


@pytest.mark.parametrize("status", ["allowed", "allowed_warning", "rejected"])
async def test_rate_limit_event(fake, status):
    msgs, exc = await collect(f"hi FAKE:rate_limit_event={status}", fake.options())
    ev = of(msgs, RateLimitEvent)[0]
    info = ev.rate_limit_info
    assert info.status == status and info.rate_limit_type == "five_hour"
    assert abs(info.resets_at - (time.time() + 3600)) < 60
    assert info.utilization == (1.0 if status == "rejected" else 0.9)
    assert ev.session_id == result(msgs).session_id
    if status == "rejected":
        a = of(msgs, AssistantMessage)[0]
        assert a.error == "rate_limit"
        assert a.content[0].text == "You've hit your limit · resets 3pm (UTC)"
        assert result(msgs).api_error_status == 429 and isinstance(exc, ResultError)
    else:
        assert exc is None and result(msgs).result == f"You said: hi FAKE:rate_limit_event={status}"


@pytest.mark.parametrize("directive,error,text,status", [
    ("FAKE:auth", "authentication_failed", "Not logged in · Please run /login", None),
    ("FAKE:auth=401", "authentication_failed", "Invalid API key · Fix external API key", 401),
    ("FAKE:overloaded", "server_error",
     "API Error: 529 Overloaded. This is a server-side issue, usually temporary — "
     "try again in a moment.", 529),
    ("FAKE:billing", "billing_error",
     'API Error: 400 {"type":"error","error":{"type":"invalid_request_error",'
     '"message":"Third-party apps now '
     'draw from your extra usage, not your plan limits. Add extra usage to continue."}}', 400),
])
async def test_api_errors(fake, directive, error, text, status):
    # via ClaudeSDKClient nothing is raised; the process stays usable
    async with ClaudeSDKClient(fake.options()) as c:
        msgs = await turn(c, directive)
        ok = await turn(c, "FAKE:tokens=1")
    a = of(msgs, AssistantMessage)[0]
    assert (a.model, a.error, a.content[0].text) == ("<synthetic>", error, text)
    r = result(msgs)
    assert (r.subtype, r.is_error, r.api_error_status, r.terminal_reason, r.result) == (
        "success", True, status, "api_error", text)
    assert not result(ok).is_error
    # via query(): ResultError
    msgs, exc = await collect(directive, fake.options())
    assert isinstance(exc, ResultError) and exc.api_error_status == status and exc.result == text


# --------------------------------------------------------------------------- process failures


async def test_crash_mid_stream(fake):
    msgs, exc = await collect("one two three four FAKE:crash=3",
                              fake.options(include_partial_messages=True))
    assert text_deltas(msgs) == ["You ", "said: "]
    assert isinstance(exc, ProcessError) and not isinstance(exc, ResultError)
    assert exc.exit_code == 3
    assert "Error: ECONNRESET talking to api.anthropic.com" in fake.stderr
    assert fake.events("exit")[0]["code"] == 3


async def test_stderr_lines(fake):
    msgs, exc = await collect("x FAKE:stderr=alpha FAKE:stderr=beta", fake.options())
    assert exc is None
    assert fake.stderr == ["fake stderr: alpha", "fake stderr: beta"]


async def test_startup_delay(fake):
    t0 = time.perf_counter()
    async with ClaudeSDKClient(fake.options(env={"FAKE_CLAUDE_STARTUP_DELAY": "0.3"})):
        assert time.perf_counter() - t0 >= 0.3


async def test_startup_exit(fake):
    msgs, exc = await collect("hi", fake.options(env={"FAKE_CLAUDE_STARTUP_EXIT": "2"}))
    assert msgs == []
    assert isinstance(exc, ProcessError) and exc.exit_code == 2
    assert fake.stderr == ["Error: Invalid API key · Please run /login"]
    with pytest.raises(ProcessError):
        async with ClaudeSDKClient(fake.options(env={"FAKE_CLAUDE_STARTUP_EXIT": "2"})):
            pass


# --------------------------------------------------------------------------- Write / Edit


async def test_write_accept_edits_with_hooks(fake):
    calls: list[tuple[str, dict]] = []

    def hook(name):
        async def cb(inp, tool_use_id, ctx):
            calls.append((name, inp))
            return {}
        return cb

    opts = fake.options(
        include_partial_messages=True, permission_mode="acceptEdits",
        hooks={
            "PreToolUse": [HookMatcher(matcher="Edit|Write", hooks=[hook("pre")]),
                           HookMatcher(matcher="Bash", hooks=[hook("bash")]),
                           HookMatcher(matcher="Wr.*", hooks=[hook("pre-regex")])],
            "PostToolUse": [HookMatcher(matcher=None, hooks=[hook("post")])],
        })
    msgs, exc = await collect("FAKE:write=notes/hello.txt", opts)
    assert exc is None
    assert (fake.work / "notes" / "hello.txt").read_text() == "hello from fake claude\n"
    assert sorted(n for n, _ in calls) == ["post", "pre", "pre-regex"]

    k = kinds(msgs)
    assert k[:3] == ["init", "status", "E:message_start"]
    evs = events(msgs)
    tu_start = evs[1]
    assert tu_start["type"] == "content_block_start" and tu_start["index"] == 0
    tid = tu_start["content_block"]["id"]
    assert tu_start["content_block"]["name"] == "Write" and tid.startswith("toolu_")
    js = "".join(e["delta"]["partial_json"] for e in evs
                 if e.get("delta", {}).get("type") == "input_json_delta")
    assert json.loads(js) == {"file_path": "notes/hello.txt", "content": "hello from fake claude\n"}
    first_stop = [e for e in evs if e["type"] == "message_delta"][0]
    assert first_stop["delta"]["stop_reason"] == "tool_use"
    a0 = of(msgs, AssistantMessage)[0]
    assert a0.content == [ToolUseBlock(id=tid, name="Write", input=json.loads(js))]
    assert k.index("A") < k.index("E:content_block_stop")

    u = of(msgs, UserMessage)[0]
    assert u.content[0].tool_use_id == tid and not u.content[0].is_error
    assert u.content[0].content == "File created successfully at: notes/hello.txt"
    assert u.tool_use_result["type"] == "create"
    assert u.tool_use_result["filePath"] == "notes/hello.txt"

    pre = dict(calls)["pre"]
    assert pre["hook_event_name"] == "PreToolUse" and pre["tool_name"] == "Write"
    assert pre["tool_use_id"] == tid
    post = dict(calls)["post"]
    for key in ("tool_name", "tool_input", "tool_use_id", "tool_response", "duration_ms", "cwd",
                "session_id", "transcript_path", "hook_event_name", "permission_mode"):
        assert key in post, key
    assert post["hook_event_name"] == "PostToolUse" and post["permission_mode"] == "acceptEdits"
    assert post["tool_response"]["type"] == "create"
    assert post["tool_response"]["content"] == "hello from fake claude\n"
    assert post["cwd"] == str(fake.work)
    assert post["transcript_path"].endswith(post["session_id"] + ".jsonl")

    # second API call: fresh message, block index restarts at 0, then the result
    starts = [e for e in evs if e["type"] == "message_start"]
    assert len(starts) == 2 and starts[0]["message"]["id"] != starts[1]["message"]["id"]
    assert [e["index"] for e in evs if e["type"] == "content_block_start"] == [0, 0]
    assert len(system(msgs, "status")) == 2
    r = result(msgs)
    assert r.result == "Wrote 23 bytes to notes/hello.txt" and r.num_turns == 2 and not r.is_error

    # writing again is an update
    msgs, exc = await collect("FAKE:write=notes/hello.txt",
                              fake.options(permission_mode="bypassPermissions"))
    assert of(msgs, UserMessage)[0].tool_use_result["type"] == "update"


async def test_write_default_mode_is_denied(fake):
    msgs, exc = await collect("FAKE:write=nope.txt", fake.options())
    assert exc is None
    assert not (fake.work / "nope.txt").exists()
    msg = "Claude requested permissions to write to nope.txt, but you haven't granted it yet."
    tr = of(msgs, UserMessage)[0].content[0]
    assert isinstance(tr, ToolResultBlock) and tr.is_error and tr.content == msg
    r = result(msgs)
    assert r.result == f"I could not write nope.txt: {msg}" and r.num_turns == 2
    assert len(r.permission_denials) == 1 and r.permission_denials[0]["tool_name"] == "Write"


async def test_write_allowed_tools_and_max_turns(fake):
    msgs, exc = await collect("FAKE:write=a.txt", fake.options(allowed_tools=["Write"]))
    assert (fake.work / "a.txt").exists() and result(msgs).result == "Wrote 23 bytes to a.txt"
    msgs, exc = await collect("FAKE:write=b.txt",
                              fake.options(permission_mode="acceptEdits", max_turns=1))
    r = result(msgs)
    assert (r.subtype, r.terminal_reason, r.errors) == (
        "error_max_turns", "max_turns", ["Reached maximum number of turns (1)"])
    assert isinstance(exc, ResultError)


async def test_write_can_use_tool(fake):
    seen = []

    async def allow(name, inp, ctx):
        seen.append((name, inp, ctx.tool_use_id))
        return PermissionResultAllow(updated_input={**inp, "file_path": "redirected.txt"})

    async def deny(name, inp, ctx):
        return PermissionResultDeny(message="proxy policy: no writes")

    msgs, exc = await collect("FAKE:write=asked.txt", fake.options(can_use_tool=allow))
    assert exc is None
    assert "--permission-prompt-tool" in fake.events("start")[-1]["argv"]
    tid = of(msgs, AssistantMessage)[0].content[0].id
    assert seen == [("Write", {"file_path": "asked.txt", "content": "hello from fake claude\n"},
                     tid)]
    assert (fake.work / "redirected.txt").exists() and not (fake.work / "asked.txt").exists()
    assert result(msgs).result == "Wrote 23 bytes to redirected.txt"

    msgs, exc = await collect("FAKE:write=denied.txt", fake.options(can_use_tool=deny))
    assert exc is None and not (fake.work / "denied.txt").exists()
    assert of(msgs, UserMessage)[0].content[0].content == "proxy policy: no writes"
    assert result(msgs).result == "I could not write denied.txt: proxy policy: no writes"
    assert len(result(msgs).permission_denials) == 1


async def test_write_pre_tool_use_hook_denies(fake):
    async def pre(inp, tool_use_id, ctx):
        return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                       "permissionDecisionReason": "hook says no"}}

    opts = fake.options(permission_mode="bypassPermissions",
                        hooks={"PreToolUse": [HookMatcher(matcher="*", hooks=[pre])]})
    msgs, exc = await collect("FAKE:write=hooked.txt", opts)
    assert exc is None and not (fake.work / "hooked.txt").exists()
    assert of(msgs, UserMessage)[0].content[0].is_error
    assert result(msgs).result == "I could not write hooked.txt: hook says no"


async def test_edit(fake):
    target = fake.work / "e.txt"
    target.write_text("say hello from fake claude!\n")
    msgs, exc = await collect(f"FAKE:edit={target}", fake.options(permission_mode="acceptEdits"))
    assert exc is None
    assert target.read_text() == "say edited by fake claude!\n"
    tu = of(msgs, AssistantMessage)[0].content[0]
    assert tu.name == "Edit" and tu.input["old_string"] == "hello from fake claude"
    assert result(msgs).result.startswith(f"Edited {target}")
    msgs, exc = await collect("FAKE:edit=missing.txt", fake.options(permission_mode="acceptEdits"))
    assert of(msgs, UserMessage)[0].content[0].is_error
    assert result(msgs).result == "I could not edit missing.txt: File does not exist."


# --------------------------------------------------------------------------- SDK MCP tools


@tool("add", "Add two numbers", {"a": int, "b": int})
async def _add(args):
    return {"content": [{"type": "text", "text": str(args["a"] + args["b"])}]}


@tool("echo", "Echo text", {"text": str})
async def _echo(args):
    return {"content": [{"type": "text", "text": args["text"]}]}


@tool("pic", "An image", {})
async def _pic(args):
    data = base64.b64encode(b"\x89PNG" + b"\0" * 96).decode()
    return {"content": [{"type": "image", "data": data, "mimeType": "image/png"}]}


@tool("fail", "Always fails", {})
async def _fail(args):
    return {"content": [{"type": "text", "text": "boom"}], "is_error": True}


def _calc(*extra):
    return create_sdk_mcp_server("calc", tools=[_add, _echo, _pic, _fail, *extra])


async def test_mcp_call_single(fake):
    opts = fake.options(include_partial_messages=True, mcp_servers={"calc": _calc()},
                        allowed_tools=["mcp__calc__add"])
    msgs, exc = await collect('FAKE:call=add{"a":2,"b":40}', opts)
    assert exc is None
    init = system(msgs, "init")[0].data
    assert {"mcp__calc__add", "mcp__calc__pic"} <= set(init["tools"])
    assert init["mcp_servers"] == [{"name": "calc", "status": "connected"}]
    tu = of(msgs, AssistantMessage)[0].content[0]
    assert tu.name == "mcp__calc__add" and tu.input == {"a": 2, "b": 40}
    tr = of(msgs, UserMessage)[0].content[0]
    assert tr.tool_use_id == tu.id and not tr.is_error
    assert tr.content == [{"type": "text", "text": "42"}]
    assert result(msgs).result == "Tool mcp__calc__add returned: 42" and result(msgs).num_turns == 2
    # the handshake and the call went through mcp_message control requests
    methods = [e["frame"]["response"]["response"]["mcp_response"].get("result", {})
               for e in fake.events("stdin") if e["frame"]["type"] == "control_response"]
    assert any("serverInfo" in m for m in methods) and any("tools" in m for m in methods)


async def test_mcp_call_parallel_image_error_unknown_qualified(fake):
    both_started = asyncio.Event()
    started = []

    @tool("slowpair", "waits for its sibling", {"n": int})
    async def slowpair(args):
        started.append(args["n"])
        if len(started) == 2:
            both_started.set()
        await asyncio.wait_for(both_started.wait(), 5)  # deadlocks unless run in parallel
        return {"content": [{"type": "text", "text": f"p{args['n']}"}]}

    opts = fake.options(include_partial_messages=True, mcp_servers={"calc": _calc(slowpair)},
                        permission_mode="bypassPermissions")
    spec = ('slowpair{"n":1};mcp__calc__slowpair{"n":2};calc/pic;fail{};nope{"x":1};'
            'echo{"text":"a;b{c}"}')
    msgs, exc = await collect(f"FAKE:call={spec}", opts)
    assert exc is None
    evs = events(msgs)
    first = evs[: [e["type"] for e in evs].index("message_stop") + 1]
    assert [e["index"] for e in first if e["type"] == "content_block_start"] == [0, 1, 2, 3, 4, 5]
    a = of(msgs, AssistantMessage)[:6]
    assert len({m.message_id for m in a}) == 1  # one API message, one frame per block
    names = [m.content[0].name for m in a]
    assert names == ["mcp__calc__slowpair", "mcp__calc__slowpair", "mcp__calc__pic",
                     "mcp__calc__fail", "nope", "mcp__calc__echo"]
    u = of(msgs, UserMessage)
    assert len(u) == 1
    res = u[0].content
    assert [r.tool_use_id for r in res] == [m.content[0].id for m in a]
    assert res[2].content[0]["type"] == "image"
    assert res[2].content[0]["source"]["media_type"] == "image/png"
    assert res[3].is_error and res[4].is_error and "No such tool available: nope" in res[4].content
    assert result(msgs).result == (
        "Tool mcp__calc__slowpair returned: p1; Tool mcp__calc__slowpair returned: p2; "
        "Tool mcp__calc__pic returned: <image image/png 100 bytes>; "
        "Tool mcp__calc__fail failed: boom; "
        "Tool nope failed: <tool_use_error>Error: No such tool available: nope</tool_use_error>; "
        "Tool mcp__calc__echo returned: a;b{c}")
    assert sorted(started) == [1, 2]


async def test_mcp_call_denied_in_default_mode(fake):
    msgs, exc = await collect('FAKE:call=add{"a":1,"b":1}',
                              fake.options(mcp_servers={"calc": _calc()}))
    assert exc is None
    msg = "Claude requested permissions to use mcp__calc__add, but you haven't granted it yet."
    assert of(msgs, UserMessage)[0].content[0].content == msg
    assert result(msgs).permission_denials[0]["tool_name"] == "mcp__calc__add"


async def test_mcp_call_timeout(fake):
    @tool("slow", "never answers in time", {})
    async def slow(args):
        await asyncio.sleep(30)
        return {"content": []}

    opts = fake.options(mcp_servers={"calc": _calc(slow)}, permission_mode="bypassPermissions",
                        env={"MCP_TOOL_TIMEOUT": "1000"})
    t0 = time.perf_counter()
    msgs, exc = await collect("FAKE:call=slow", opts)
    took = time.perf_counter() - t0
    assert exc is None and 1.0 <= took < 20, took  # the bound fired, not the 30 s handler
    tr = of(msgs, UserMessage)[0].content[0]
    assert tr.is_error and tr.content.startswith("MCP tool call timed out")
    assert result(msgs).result.startswith("Tool mcp__calc__slow failed: MCP tool call timed out")


async def test_mcp_call_parked_across_requests_and_interrupt(fake):
    """A tool handler may wait arbitrarily long (the proxy parks it); interrupt aborts the tools."""
    gate: asyncio.Future = asyncio.get_running_loop().create_future()

    @tool("park", "waits for the gate", {})
    async def park(args):
        return {"content": [{"type": "text", "text": await gate}]}

    opts = fake.options(include_partial_messages=True, mcp_servers={"calc": _calc(park)},
                        permission_mode="bypassPermissions")
    async with ClaudeSDKClient(opts) as c:
        await c.query("FAKE:call=park")
        msgs = []
        async for m in c.receive_response():
            msgs.append(m)
            if isinstance(m, StreamEvent) and m.event["type"] == "message_stop" and not gate.done():
                await asyncio.sleep(0.5)  # "between HTTP requests"
                gate.set_result("released")
        assert result(msgs).result == "Tool mcp__calc__park returned: released"

        gate = asyncio.get_running_loop().create_future()
        await c.query("FAKE:call=park")
        msgs2 = []
        async for m in c.receive_response():
            msgs2.append(m)
            if isinstance(m, StreamEvent) and m.event["type"] == "message_stop":
                await asyncio.sleep(0.1)
                await c.interrupt()
        r = result(msgs2)
        assert r.subtype == "error_during_execution" and r.terminal_reason == "aborted_tools"
        tr = of(msgs2, UserMessage)[0].content[0]
        assert tr.is_error and tr.content == "[Request interrupted by user for tool use]"
        interrupted = [TextBlock(text="[Request interrupted by user]")]
        assert of(msgs2, UserMessage)[1].content == interrupted
        ok = await turn(c, "FAKE:tokens=1")
        assert result(ok).result == "tok0"
        gate.cancel()
