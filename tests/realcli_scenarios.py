"""Scenarios for the real Claude Code CLI, run INSIDE a loopback-only network namespace.

``tests/test_real_cli.py`` starts this file with ``unshare -rn sh -c 'ip link set lo up && …'``
(``python3 tests/realcli_scenarios.py SCENARIO`` or ``python3 -m tests.realcli_scenarios SCENARIO``
from the repository root). Each scenario starts the Messages API stub (tests/upstream_stub.py),
our proxy (Engine + ProxyServer) driving the CLI bundled in the SDK wheel, and a real client
(the official ``anthropic`` SDK, raw HTTP, or the real CLI itself), then prints ONE JSON line of
findings on stdout for the test to assert on; it always has ``cli_pids`` (CLI processes the
proxy spawned), ``cli_alive_after`` and ``leftover_processes`` (any process descended from this
one still running at the end; both must be empty).
Scenarios: chat, parked, continuations, seeded, warm, client_cli, fields, bench (the four
start-up cases of bench/warm_start.py --real; REALCLI_RUNS runs).
Never run it outside such a namespace: the real CLI would try the internet. It refuses to.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS.parent))

import aiohttp  # noqa: E402
import anthropic  # noqa: E402

from netns import leftover_processes, only_loopback  # noqa: E402
from upstream_stub import MessagesStub, Text, ToolUse  # noqa: E402
from sse_grammar import check_stream  # noqa: E402
from tui_proxy.core.bus import EventBus  # noqa: E402
from tui_proxy.sdk.runner import sdk_engine  # noqa: E402
from tui_proxy.core.events import SdkSpawned  # noqa: E402
from tui_proxy.http.server import ProxyServer  # noqa: E402
from tui_proxy.config.settings import Settings  # noqa: E402

MODEL = "claude-sonnet-5-5"


def bundled_cli() -> Path:
    import claude_agent_sdk
    return Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"


def offline_env(home: Path, stub_url: str) -> None:
    """The CLI inherits the proxy's environment: make it private and offline."""
    os.environ.update({
        "HOME": str(home), "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "XDG_CONFIG_HOME": str(home / ".config"), "ANTHROPIC_BASE_URL": stub_url,
        "ANTHROPIC_API_KEY": "dummy", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1",
        # The proxy drops inherited ANTHROPIC_* from the CLI's environment unless they are
        # configured for the CLI on purpose (a proxy pointed at itself would loop).
        "CLAUDE_PROXY_CLI_ENV_ANTHROPIC_BASE_URL": stub_url,
        "CLAUDE_PROXY_CLI_ENV_ANTHROPIC_API_KEY": "dummy",
    })
    for name in ("ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"):
        os.environ.pop(name, None)


class Harness:
    def __init__(self, stub: MessagesStub, work: Path, **settings: Any) -> None:
        self.stub = stub
        values = dict(host="127.0.0.1", port=0, cwd=str(work), cli_path=str(bundled_cli()),
                      timeout_ms=60_000, inactivity_ms=45_000, spare_process=False,
                      journal_dir=str(work / "journal"))
        values.update(settings)
        self.bus = EventBus()
        self.sub = self.bus.subscribe(name="scenario")
        self.engine = sdk_engine(Settings(**values), self.bus)
        self.server = ProxyServer(self.engine)
        self.events: list[Any] = []

    async def __aenter__(self) -> Harness:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(base_url=self.url, api_key="x", max_retries=0,
                                        timeout=60)

    def pids(self) -> list[int]:
        self.events.extend(self.sub.drain())
        return [e.pid for e in self.events if isinstance(e, SdkSpawned) and e.pid]


def alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        try:  # a zombie is gone for our purposes
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                continue
        except OSError:
            continue
        out.append(pid)
    return out


async def wait_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return alive(pids)


async def scenario_chat(work: Path) -> dict[str, Any]:
    stub = MessagesStub([Text("Hello from the stub upstream"), Text("Second answer here"),
                         Text("Raw stream answer")])
    await stub.start()
    offline_env(work / "home", stub.url)
    out: dict[str, Any] = {}
    async with Harness(stub, work, pool_size=0) as h:
        client = h.client()
        async with client.messages.stream(model=MODEL, max_tokens=100, messages=[
                {"role": "user", "content": "Say hello"}]) as stream:
            out["stream_text"] = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
        out["stream_stop"] = final.stop_reason
        out["stream_model"] = final.model
        made = await client.messages.create(model=MODEL, max_tokens=100, messages=[
            {"role": "user", "content": "Answer again"}])
        out["create_text"] = made.content[0].text
        out["create_usage_out"] = made.usage.output_tokens
        async with (
            aiohttp.ClientSession() as session,
            session.post(h.url + "/v1/messages", json={
                "model": MODEL, "max_tokens": 100, "stream": True,
                "messages": [{"role": "user", "content": "raw"}]}) as resp,
        ):
            raw = await resp.read()
            out["raw_session_header"] = resp.headers.get("X-Claude-Session-ID")
        checked = check_stream(raw, expect_error=False)
        out["raw_text"] = checked.text
        out["raw_stop"] = checked.stop_reason
        pids = h.pids()
    await stub.stop()
    out["upstream_main_requests"] = len(stub.main_bodies())
    out["upstream_user_texts"] = [_user_texts(b) for b in stub.main_bodies()]
    out["upstream_paths"] = sorted({r["path"] for r in stub.requests})
    out["cli_pids"] = pids
    out["cli_alive_after"] = await wait_gone(pids)
    return out


def _user_texts(body: dict[str, Any]) -> list[str]:
    texts = []
    for message in body.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
            continue
        for block in content or []:
            if block.get("type") == "text" and "<system-reminder>" not in block.get("text", ""):
                texts.append(block["text"])
    return texts


def _blocks_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The content blocks a checked SSE stream carried (text and tool_use)."""
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    for event in events:
        if event.get("type") == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
        elif event.get("type") == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                blocks[event["index"]]["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                partial[event["index"]] = partial.get(event["index"], "") + delta["partial_json"]
    for index, text in partial.items():
        blocks[index]["input"] = json.loads(text) if text else {}
    return [blocks[i] for i in sorted(blocks)]


WEATHER = {"name": "get_weather", "description": "Current weather of a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}


async def scenario_parked(work: Path) -> dict[str, Any]:
    stub = MessagesStub([ToolUse("get_weather", {"city": "Paris"}),
                         Text("It is sunny and 21C in Paris.")])
    await stub.start()
    offline_env(work / "home", stub.url)
    out: dict[str, Any] = {}
    project = work / "client-project"  # the client's own project, named in its prompt
    project.mkdir()
    system = f"You are a coding agent.\n<env>\n  Working directory: {project}\n</env>"
    async with Harness(stub, work, pool_size=2) as h:
        client = h.client()
        messages = [{"role": "user", "content": "What is the weather in Paris?"}]
        # the first turn streams raw, so the SSE grammar of a parked response is checked too
        async with (
            aiohttp.ClientSession() as session,
            session.post(h.url + "/v1/messages", json={
                "model": MODEL, "max_tokens": 200, "stream": True, "tools": [WEATHER],
                "system": system, "messages": messages}) as resp,
        ):
            raw = await resp.read()
        checked = check_stream(raw, expect_error=False)
        content = _blocks_of(checked.events)
        uses = [b for b in content if b["type"] == "tool_use"]
        out["first_stop"] = checked.stop_reason
        out["first_block_types"] = checked.block_types
        out["tool_names"] = [u["name"] for u in uses]
        out["tool_inputs"] = [u["input"] for u in uses]
        out["parked_states"] = [f.state.value for f in h.engine.flows.all()]
        messages += [{"role": "assistant", "content": content},
                     {"role": "user", "content": [{"type": "tool_result",
                                                   "tool_use_id": uses[0]["id"],
                                                   "content": "Sunny, 21C"}]}]
        async with client.messages.stream(model=MODEL, max_tokens=200, tools=[WEATHER],
                                          system=system, messages=messages) as stream:
            out["final_text"] = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
        out["final_stop"] = final.stop_reason
        pids = h.pids()
    await stub.stop()
    bodies = stub.main_bodies()
    out["upstream_main_requests"] = len(bodies)
    out["upstream_tools"] = [t.get("name") for t in (bodies[0].get("tools") or [])]
    dumps = [json.dumps(b) for b in bodies]
    out["upstream_workdirs"] = [re.findall(r"Primary working directory: ([^\\\n]+?)\\n", d)
                                for d in dumps]
    out["client_project"] = str(project)
    out["proxy_cwd_seen"] = any(f"directory: {work}\\n" in d for d in dumps)
    results = []
    for body in bodies:
        for message in body.get("messages", []):
            for block in message.get("content") or []:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    results.append(block)
    out["upstream_tool_results"] = results
    out["cli_pids"] = pids
    out["cli_alive_after"] = await wait_gone(pids)
    return out


async def scenario_continuations(work: Path) -> dict[str, Any]:
    """A parked call answered with more than tool results: OpenCode's rejection + new
    instruction, an image beside the result, Claude Code's role:system after results, and
    a tool set that changed. Upstream must receive each last message as the client sent it."""
    stub = MessagesStub([ToolUse("get_weather", {"city": "Paris"}), Text("Understood: hi"),
                         ToolUse("get_weather", {"city": "Rome"}), Text("A red pixel."),
                         ToolUse("get_weather", {"city": "Oslo"}), Text("Noted the agents."),
                         ToolUse("get_weather", {"city": "Bern"}), Text("WebFetch is ready.")])
    await stub.start()
    offline_env(work / "home", stub.url)
    out: dict[str, Any] = {"cases": {}}
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgAAACAAFUok9dAAAAAElFTkSu"
           "QmCC")
    fetch = {"name": "WebFetch", "description": "Fetch a URL", "input_schema": {
        "type": "object", "properties": {"url": {"type": "string"}}}}
    cases = {
        "rejected": (lambda use: [
            {"type": "tool_result", "tool_use_id": use, "is_error": True,
             "content": "The user rejected permission to use this specific tool call."},
            {"type": "text", "text": "Forget the weather. Just say hi."}], [WEATHER]),
        "image": (lambda use: [
            {"type": "tool_result", "tool_use_id": use, "content": "Cloudy"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": png}},
            {"type": "text", "text": "What colour is this pixel?"}], [WEATHER]),
        "system": (lambda use: [
            {"type": "tool_result", "tool_use_id": use, "content": "Snow, -3C"}], [WEATHER]),
        "tools_changed": (lambda use: [
            {"type": "tool_result", "tool_use_id": use,
             "content": [{"type": "tool_reference", "tool_name": "WebFetch"}]}],
            [WEATHER, fetch]),
    }
    async with Harness(stub, work, pool_size=2) as h:
        client = h.client()
        for name, (last, tools) in cases.items():
            messages: list[dict[str, Any]] = [{"role": "user", "content": f"weather {name}?"}]
            first = await client.messages.create(model=MODEL, max_tokens=200, tools=[WEATHER],
                                                 messages=messages)
            use = next(b for b in first.content if b.type == "tool_use")
            messages += [{"role": "assistant", "content": [b.model_dump() for b in first.content]},
                         {"role": "user", "content": last(use.id)}]
            if name == "system":
                messages.append({"role": "system", "content": "Available agent types: explore"})
            mark = len(stub.main_bodies())
            started = time.perf_counter()
            reply = await client.messages.create(model=MODEL, max_tokens=200, tools=tools,
                                                 messages=messages)
            elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
            bodies = stub.main_bodies()[mark:]
            out["cases"][name] = {
                "reply": " ".join(b.text for b in reply.content if b.type == "text"),
                "reply_types": [b.type for b in reply.content], "ms": elapsed_ms,
                "upstream_requests": len(bodies),
                "last_user": next((m for m in reversed(bodies[-1]["messages"])
                                   if m["role"] == "user"), None) if bodies else None,
                "upstream_tools": [t.get("name") for t in (bodies[-1].get("tools") or [])]
                if bodies else [],
                "tail_roles": [m["role"] for m in bodies[-1]["messages"][-4:]] if bodies else []}
        pids = h.pids()
    await stub.stop()
    out["cli_pids"] = pids
    out["cli_alive_after"] = await wait_gone(pids)
    return out


async def scenario_seeded(work: Path) -> dict[str, Any]:
    """A conversation the proxy never saw: its history must reach upstream as real turns."""
    stub = MessagesStub([Text("Tomorrow looks rainy.")])
    await stub.start()
    offline_env(work / "home", stub.url)
    out: dict[str, Any] = {}
    async with Harness(stub, work, pool_size=0) as h:
        reply = await h.client().messages.create(
            model=MODEL, max_tokens=200, tools=[WEATHER], messages=[
                {"role": "user", "content": "What is the weather in Paris?"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_seed1", "name": "get_weather",
                     "input": {"city": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_seed1",
                                              "content": "Sunny, 21C"}]},
                {"role": "assistant", "content": "It is sunny and 21C in Paris."},
                {"role": "user", "content": "And tomorrow?"}])
        out["reply"] = reply.content[0].text
        pids = h.pids()
    await stub.stop()
    bodies = stub.main_bodies()
    out["upstream_main_requests"] = len(bodies)
    if bodies:
        out["upstream_messages"] = [
            {"role": m["role"], "blocks": [b.get("type") for b in m["content"]]
             if isinstance(m["content"], list) else ["text"]}
            for m in bodies[-1]["messages"]]
        out["upstream_dump"] = json.dumps(bodies[-1]["messages"])[:20000]
    out["cli_pids"] = pids
    out["cli_alive_after"] = await wait_gone(pids)
    return out


async def _ttft(client: anthropic.AsyncAnthropic, messages: list[dict[str, Any]]
                ) -> tuple[float, list[dict[str, Any]]]:
    """Time to the first text delta, and the history extended by the answer."""
    started = time.perf_counter()
    first = None
    async with client.messages.stream(model=MODEL, max_tokens=50, messages=messages) as stream:
        async for _ in stream.text_stream:
            if first is None:
                first = time.perf_counter() - started
        final = await stream.get_final_message()
    return first or 0.0, messages + [{"role": "assistant", "content": final.content[0].text}]


async def scenario_warm(work: Path) -> dict[str, Any]:
    """Two turns of one conversation: the second runs on the first turn's warm CLI."""
    stub = MessagesStub([Text("First turn answer"), Text("Second turn answer")])
    await stub.start()
    offline_env(work / "home", stub.url)
    out: dict[str, Any] = {}
    async with Harness(stub, work, pool_size=2) as h:
        cold, history = await _ttft(h.client(), [{"role": "user", "content": "first turn"}])
        history.append({"role": "user", "content": "second turn"})
        warm, history = await _ttft(h.client(), history)
        out["ttft_ms"] = {"cold": round(cold * 1000, 1), "warm": round(warm * 1000, 1)}
        out["answers"] = [m["content"] for m in history if m["role"] == "assistant"]
        out["sessions"] = [f.session_id for f in h.engine.flows.all()]
        pids = h.pids()
    await stub.stop()
    out["upstream_user_texts"] = [_user_texts(b) for b in stub.main_bodies()]
    out["cli_pids"] = pids
    out["cli_alive_after"] = await wait_gone(pids)
    return out


async def scenario_client_cli(work: Path) -> dict[str, Any]:
    """The real Claude Code CLI as the proxy's *client* (its README promise), two turns
    (``-p``, then ``-p --resume``), with the real CLI behind the proxy too."""
    stub = MessagesStub([Text("First upstream answer"), Text("Second upstream answer")])
    await stub.start()
    offline_env(work / "home", stub.url)
    out: dict[str, Any] = {"client": []}
    async with Harness(stub, work, pool_size=2) as h:
        home = work / "client-home"
        home.mkdir()
        env = {**os.environ, "HOME": str(home), "CLAUDE_CONFIG_DIR": str(home / ".claude"),
               "XDG_CONFIG_HOME": str(home / ".config"), "ANTHROPIC_BASE_URL": h.url,
               "ANTHROPIC_API_KEY": "dummy"}
        session = None
        for prompt in ("Say hi", "Say more"):
            resume = ["--resume", session] if session else []
            proc = await asyncio.create_subprocess_exec(
                str(bundled_cli()), "-p", prompt, "--model", MODEL, "--output-format", "json",
                *resume, env=env, cwd=str(work), stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
            try:
                stdout, stderr = await asyncio.wait_for(proc.communicate(), 45)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            try:
                result = json.loads(stdout)
            except json.JSONDecodeError:
                result = {"unparsed": stdout.decode(errors="replace")[-2000:]}
            session = result.get("session_id")
            out["client"].append({"exit": proc.returncode, "result": result.get("result"),
                                  "is_error": result.get("is_error"),
                                  "stderr": stderr.decode(errors="replace")[-1000:]})
        flows = h.engine.flows.all()
        out["flows"] = [{"state": f.state.value, "session": f.session_id,
                         "error": getattr(f, "error", None)} for f in flows]
        pids = h.pids()
    await stub.stop()
    bodies = stub.main_bodies()
    out["upstream_main_requests"] = len(bodies)
    out["upstream_paths"] = sorted({r["path"] for r in stub.requests})
    out["upstream_roles"] = [[m["role"] for m in b.get("messages", [])] for b in bodies]
    out["upstream_dump"] = [json.dumps(b.get("messages"))[:20000] for b in bodies]
    out["cli_pids"] = pids
    out["cli_alive_after"] = await wait_gone(pids)
    return out


async def scenario_bench(work: Path) -> dict[str, Any]:
    """Time to first token on the real CLI: cold, spare, warm follow-up, resumed cold."""
    stub = MessagesStub()
    await stub.start()
    offline_env(work / "home", stub.url)
    runs = int(os.environ.get("REALCLI_RUNS", "3"))
    figures: dict[str, list[float]] = {"cold": [], "spare": [], "warm": [], "resumed": []}
    pids: list[int] = []
    for i in range(runs):
        async with Harness(stub, work, pool_size=4, spare_process=False) as h:
            t, history = await _ttft(h.client(), [{"role": "user", "content": f"cold {i}"}])
            figures["cold"].append(t)
            history.append({"role": "user", "content": "and then?"})
            t, _ = await _ttft(h.client(), history)
            figures["warm"].append(t)
            pids += h.pids()
        async with Harness(stub, work, pool_size=0, spare_process=False) as h:
            _, history = await _ttft(h.client(), [{"role": "user", "content": f"resume {i}"}])
            history.append({"role": "user", "content": "and then?"})
            t, _ = await _ttft(h.client(), history)
            figures["resumed"].append(t)
            pids += h.pids()
        async with Harness(stub, work, pool_size=4, spare_process=True) as h:
            await _ttft(h.client(), [{"role": "user", "content": f"prime {i}"}])
            deadline = time.monotonic() + 20  # measure the spare case only with a spare ready
            while h.engine.pool._spare is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if h.engine.pool._spare is None:
                raise RuntimeError("no spare process was prepared within 20 s")
            await asyncio.sleep(1.0)  # let the spare's CLI finish its own start-up
            t, _ = await _ttft(h.client(), [{"role": "user", "content": f"spare {i}"}])
            figures["spare"].append(t)
            pids += h.pids()
    await stub.stop()
    return {"ttft_ms": {k: sorted(round(v * 1000, 1) for v in vals)
                        for k, vals in figures.items()},
            "cli_pids": pids, "cli_alive_after": await wait_gone(pids)}

CITY_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}},
               "required": ["city"], "additionalProperties": False}
TIME = {"name": "get_time", "description": "Current time of a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


async def scenario_fields(work: Path) -> dict[str, Any]:
    """Issue 11 item 5 on the real CLI: what honoured fields become upstream, and that an
    emulated cut leaves upstream with the client's history, not the CLI's."""
    stub = MessagesStub([
        ToolUse("StructuredOutput", {"city": "Paris"}),         # 1: output_config.format
        Text("alpha beta STOP gamma delta"),                     # 2: stop_sequences
        lambda body: Text("second turn"),                        # 3: the next turn
        [ToolUse("get_time", {"city": "Oslo"}),                  # 4: forced tool_choice
         ToolUse("get_weather", {"city": "Oslo"})],
    ])
    await stub.start()
    offline_env(work / "home", stub.url)
    out: dict[str, Any] = {}
    async with Harness(stub, work) as h:
        client = h.client()
        made = await client.messages.create(
            model=MODEL, max_tokens=500, messages=[{"role": "user", "content": "Where?"}],
            output_config={"effort": "low",
                           "format": {"type": "json_schema", "schema": CITY_SCHEMA}},
            extra_headers={"anthropic-beta": "context-1m-2025-08-07"})
        out["structured_text"] = made.content[0].text
        out["structured_blocks"] = [b.type for b in made.content]
        first = stub.main_bodies()[0]
        out["structured_tool"] = [t for t in first.get("tools", [])
                                  if t.get("name") == "StructuredOutput"]
        out["structured_output_config"] = first.get("output_config")
        out["structured_beta"] = [r["headers"].get("anthropic-beta", "")
                                  for r in stub.message_requests() if is_main_body(r)][0]
        history = [{"role": "user", "content": "Count"}]
        cut = await client.messages.create(model=MODEL, max_tokens=500, messages=history,
                                           stop_sequences=["STOP"])
        out["cut_text"], out["cut_stop"] = cut.content[0].text, cut.stop_reason
        out["cut_sequence"] = cut.stop_sequence
        history += [{"role": "assistant", "content": cut.content[0].text},
                    {"role": "user", "content": "Go on"}]
        follow = await client.messages.create(model=MODEL, max_tokens=500, messages=history)
        out["follow_text"] = follow.content[0].text
        sent = stub.main_bodies()[-1]["messages"]
        out["follow_assistant_texts"] = [
            b.get("text") if isinstance(b, dict) else b
            for m in sent if m["role"] == "assistant"
            for b in (m["content"] if isinstance(m["content"], list) else [m["content"]])
            if not isinstance(b, dict) or b.get("type") == "text"]
        forced = await client.messages.create(
            model=MODEL, max_tokens=500, tools=[WEATHER, TIME],
            tool_choice={"type": "tool", "name": "get_time"},
            messages=[{"role": "user", "content": "Time and weather in Oslo?"}])
        out["forced_blocks"] = [(b.type, getattr(b, "name", None)) for b in forced.content]
        out["forced_stop"] = forced.stop_reason
        out["forced_system"] = system_of(stub.main_bodies()[-1])
        pids = h.pids()
    await stub.stop()
    out["cli_pids"] = pids
    out["cli_alive_after"] = await wait_gone(pids)
    return out


def is_main_body(record: dict[str, Any]) -> bool:
    from upstream_stub import is_main
    return is_main(record["body"])


def system_of(body: dict[str, Any]) -> str:
    from upstream_stub import system_text
    return system_text(body)


SCENARIOS = {"chat": scenario_chat, "fields": scenario_fields, "parked": scenario_parked,
             "seeded": scenario_seeded, "continuations": scenario_continuations,
             "warm": scenario_warm, "client_cli": scenario_client_cli, "bench": scenario_bench}


async def run(name: str, work: Path) -> dict[str, Any]:
    result = await SCENARIOS[name](work)
    deadline = time.monotonic() + 5
    while (left := leftover_processes()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    result["leftover_processes"] = left
    return result


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in SCENARIOS:
        sys.exit(f"usage: realcli_scenarios.py {{{','.join(SCENARIOS)}}}")
    if not only_loopback():
        sys.exit("refusing to run the real CLI outside a loopback-only network namespace "
                 "(unshare -rn sh -c 'ip link set lo up && python3 tests/realcli_scenarios.py …')")
    with tempfile.TemporaryDirectory(prefix=f"realcli-{name}-") as tmp:
        work = Path(tmp)
        (work / "home").mkdir()
        try:
            result = asyncio.run(run(name, work))
        except Exception as exc:  # report, don't hide: the test prints it
            import traceback
            result = {"exception": repr(exc), "traceback": traceback.format_exc()}
    print(json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
