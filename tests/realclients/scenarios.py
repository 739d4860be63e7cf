"""Real-client scenarios, run INSIDE a loopback-only network namespace.

``tests/test_real_clients.py`` starts ``python3 tests/realclients/scenarios.py SCENARIO`` with
``unshare -rn sh -c 'ip link set lo up && exec …'``. Each scenario starts the proxy on the fake CLI
with a recording tap in front (``harness.ProxyHarness``), drives one real client against it and
prints ONE JSON line of findings: what the client got back, a summary of every request it sent
(``requests``), the proxy's flows and ``leftover_processes`` (anything descended from this
process still running at the end; must be empty).

Scenarios: opencode, opencode_realcli (the real bundled CLI behind the proxy, an upstream
stub behind it), claude_code, anthropic_ts, ai_sdk, anthropic_py.
``REALCLIENTS_RECORD=DIR`` also writes every full recorded request to ``DIR/SCENARIO.json``
(how tests/realclients/samples/ and README.md were made).
It refuses to run outside a loopback-only namespace: a client must never reach the internet.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as H  # noqa: E402

PLANTED = "planted-content-7f3a"


# --- summaries of recorded requests ----------------------------------------------------------

def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    out = []
    for block in content or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            out.append(block.get("text", ""))
        elif block.get("type") == "tool_reference":
            out.append(f"<tool_reference {block.get('tool_name')}>")
    return "".join(out)


def summarize(record: dict[str, Any]) -> dict[str, Any]:
    body = record.get("body") if isinstance(record.get("body"), dict) else {}
    headers = record.get("headers", {})
    messages = body.get("messages") or []
    shapes, tool_results, texts = [], [], []
    for message in messages:
        content = message.get("content")
        blocks = ["text"] if isinstance(content, str) else [
            b.get("type") for b in content or [] if isinstance(b, dict)]
        shapes.append({"role": message.get("role"), "blocks": blocks})
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                tool_results.append({"tool_use_id": block.get("tool_use_id"),
                                     "is_error": block.get("is_error", False),
                                     "content": _text_of(block.get("content"))[:2000],
                                     "content_types": [c.get("type") for c in block["content"]]
                                     if isinstance(block.get("content"), list) else ["string"]})
    if messages and messages[-1].get("role") == "user":
        last = messages[-1].get("content")
        texts = [last] if isinstance(last, str) else [
            b.get("text", "") for b in last or []
            if isinstance(b, dict) and b.get("type") == "text"]
    tools = body.get("tools") or []
    return {
        "method": record.get("method"), "path": record.get("path"), "status": record.get("status"),
        "headers": {k: headers.get(k) for k in ("anthropic-beta", "anthropic-version",
                                                "user-agent", "x-session-id", "x-app")
                    if k in headers},
        "keys": sorted(body), "model": body.get("model"),
        "fields": {k: v for k, v in body.items() if k not in ("messages", "tools", "system")},
        "tools": [t.get("name") for t in tools if isinstance(t, dict)],
        "tool_extra_keys": sorted({k for t in tools if isinstance(t, dict) for k in t}
                                  - {"name", "description", "input_schema"}),
        "tools_with": {k: [t.get("name") for t in tools if isinstance(t, dict) and k in t]
                       for k in ("type", "defer_loading", "strict", "cache_control",
                                 "eager_input_streaming")},
        "messages": shapes, "tool_results": tool_results, "last_user_texts": texts,
        "response_error": record.get("response", "")[:600] if record.get("status") != 200
        else None,
    }


def requests_of(h: H.ProxyHarness) -> list[dict[str, Any]]:
    return [summarize(r) for r in h.records]


def dump(name: str, h: H.ProxyHarness) -> None:
    where = os.environ.get("REALCLIENTS_RECORD")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        (Path(where) / f"{name}.json").write_text(json.dumps(h.records, indent=1, default=str))


def _tail(text: str, n: int = 1500) -> str:
    return text[-n:]


# --- OpenCode --------------------------------------------------------------------------------

def _opencode_turn(result: dict[str, Any]) -> dict[str, Any]:
    events = result["events"]
    return {
        "exit": result["exit"], "timed_out": result["timed_out"], "seconds": result["seconds"],
        "session": next((e.get("sessionID") for e in events if e.get("sessionID")), None),
        "texts": [e["part"].get("text", "") for e in events if e.get("type") == "text"],
        "tools": [{"tool": e["part"].get("tool"), "status": e["part"]["state"].get("status"),
                   "input": e["part"]["state"].get("input"),
                   "output": str(e["part"]["state"].get("output") or
                                 e["part"]["state"].get("error") or "")[:2000]}
                  for e in events if e.get("type") == "tool_use"],
        "errors": [e for e in events if e.get("type") == "error"],
        "stderr": _tail(result["stderr"]) if result["exit"] != 0 or not events else "",
    }


async def scenario_opencode(work: Path) -> dict[str, Any]:
    """One proxy, two OpenCode projects (each its own HOME), two rounds of two ``opencode run``
    in parallel (each run boots OpenCode, 5-10 s):
    ``chat``: a text turn, then (``-c``, another model) a turn whose reply calls OpenCode's own
    ``read`` tool on a planted file; ``reject``: a ``bash`` call OpenCode auto-rejects (``ask``
    permission in ``opencode run``), then (``-c``) a new instruction."""
    out: dict[str, Any] = {}
    async with H.ProxyHarness(work) as h:
        projects = {name: H.opencode_project(work / name, h.url) for name in ("chat", "reject")}
        (projects["chat"] / "notes.txt").write_text(PLANTED + "\n")
        config = json.loads((projects["reject"] / "opencode.json").read_text())
        config["permission"]["bash"] = "ask"   # `opencode run` auto-rejects what would ask
        (projects["reject"] / "opencode.json").write_text(json.dumps(config, indent=2))
        homes = {name: work / f"home-{name}" for name in projects}
        read_call = 'FAKE:call=read{"filePath":"%s"}' % (projects["chat"] / "notes.txt")
        bash_call = 'FAKE:call=bash{"command":"ls"}'

        def turn(name: str, words: list[str], extra: list[str] = ()) -> Any:
            return H.run_opencode(projects[name], homes[name], words, extra=list(extra))

        first = await asyncio.gather(turn("chat", ["Hello", "from", "OpenCode"]),
                                     turn("reject", [bash_call, "please"]))
        second = await asyncio.gather(
            turn("chat", [read_call, "please"], ["-c", "-m", "anthropic/claude-opus-4-5"]),
            turn("reject", ["Now", "say", "banana"], ["-c"]))
        out["text"], out["reject"] = map(_opencode_turn, first)
        out["tool"], out["after_reject"] = map(_opencode_turn, second)
        out["flows"] = h.flows()
        out["requests"] = requests_of(h)
        dump("opencode", h)
    return out


# --- OpenCode over the real CLI --------------------------------------------------------------

def _last_user(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The content blocks of the last user message the model was sent."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            return [{"type": "text", "text": content}] if isinstance(content, str) \
                else list(content or [])
    return []


def _upstream_reply(notes: Path):
    """What the stub's model answers, read from the request itself (OpenCode sends its title
    and main requests at once, so a fixed script order would race)."""
    from upstream_stub import Text, ToolUse

    def reply(body: dict[str, Any]) -> Any:
        if not body.get("tools"):
            return Text("A short title")  # OpenCode's title request: chat mode, no tools
        last = _last_user(body)
        results = [b for b in last if b.get("type") == "tool_result"]
        words = " ".join(b.get("text", "") for b in last if b.get("type") == "text")
        if results and "banana" in words:
            return Text("banana, as you asked")
        if "something different" in words:  # the test checks what came with it
            return Text("Doing something different now")
        if results:
            content = results[0].get("content")
            text = content if isinstance(content, str) else " ".join(
                c.get("text", "") for c in content or [] if isinstance(c, dict))
            return Text("The notes say: " + " ".join(text.split())[:200])
        if "read the notes" in words:
            return ToolUse("read", {"filePath": str(notes)})
        if "list the files" in words:
            return ToolUse("bash", {"command": "ls", "description": "List files"})
        if "run the slow command" in words:
            return ToolUse("bash", {"command": "sleep 90", "description": "Wait a while"})
        return Text("Hello from upstream")
    return reply


async def scenario_opencode_realcli(work: Path) -> dict[str, Any]:
    """OpenCode -> proxy -> the REAL bundled CLI -> the upstream stub: what the model saw is
    what the stub recorded. A text turn; a read round trip on a continued session with a model
    switch; a call OpenCode rejects (``ask`` permission in ``opencode run``) then a new
    instruction; and after a proxy restart, a follow-up whose history must reach upstream as
    real turns."""
    import realcli_scenarios as R
    from upstream_stub import MessagesStub

    out: dict[str, Any] = {}
    projects = {name: H.opencode_project(work / name, "http://127.0.0.1:1")
                for name in ("chat", "reject", "interrupt")}
    notes = projects["chat"] / "notes.txt"
    notes.write_text(PLANTED + "\n")
    stub = MessagesStub([_upstream_reply(notes)] * 200)
    await stub.start()
    R.offline_env(work / "home", stub.url)
    homes = {name: work / f"home-{name}" for name in projects}
    settings = dict(cli_path=str(H.bundled_claude()), pool_size=2)

    def point(url: str) -> None:
        for name, project in projects.items():
            config = json.loads((project / "opencode.json").read_text())
            config["provider"]["anthropic"]["options"]["baseURL"] = url + "/v1"
            if name == "reject":
                config["permission"]["bash"] = "ask"  # `opencode run` rejects what would ask
            (project / "opencode.json").write_text(json.dumps(config, indent=2))

    def turn(name: str, words: list[str], extra: list[str] = ()) -> Any:
        return H.run_opencode(projects[name], homes[name], words, extra=list(extra),
                              timeout=60)

    def bodies_since(mark: int) -> list[dict[str, Any]]:
        return [b for b in stub.main_bodies()[mark:] if b.get("tools")]

    async with H.ProxyHarness(work, **settings) as h:
        point(h.url)
        mark = len(stub.main_bodies())
        first = await asyncio.gather(turn("chat", ["Hello", "there"]),
                                     turn("reject", ["please", "list", "the", "files"]))
        out["text"], out["reject"] = map(_opencode_turn, first)
        mark2 = len(stub.main_bodies())
        second = await asyncio.gather(
            turn("chat", ["now", "read", "the", "notes"],
                 ["-c", "-m", "anthropic/claude-opus-4-5"]),
            turn("reject", ["Now", "say", "banana"], ["-c"]))
        out["tool"], out["after_reject"] = map(_opencode_turn, second)
        seen = bodies_since(mark2)
        out["tool_models"] = sorted({b.get("model") for b in seen
                                     if any(x.get("type") == "tool_result"
                                            for x in _last_user(b))})
        out["after_reject_last_user"] = next(
            (_last_user(b) for b in seen if "banana" in json.dumps(_last_user(b))), None)
        out["read_results"] = [x for b in seen for x in _last_user(b)
                               if x.get("type") == "tool_result" and "banana" not in
                               json.dumps(_last_user(b))]
        out["first_upstream_workdirs"] = sorted({
            d for b in bodies_since(mark) for d in re.findall(
                r"Primary working directory: ([^\\\n]+?)\\n", json.dumps(b))})
        # Esc while OpenCode runs the tool, then a new instruction (its interactive TUI in tmux)
        mark3 = len(stub.main_bodies())
        out["interrupt_screens"] = await H.opencode_tui_interrupt(
            projects["interrupt"], homes["interrupt"], "please run the slow command",
            "do something different", command="sleep 90",
            answer="Doing something different now",
            running=lambda: any(f.state.value == "parked" for f in h.engine.flows.all()))
        out["after_interrupt_last_user"] = next(
            (_last_user(b) for b in bodies_since(mark3)
             if "something different" in json.dumps(_last_user(b))), None)
        out["flows_before_restart"] = h.flows()
    # a restart: the proxy forgets every session; the client's history must still arrive whole
    async with H.ProxyHarness(work, **settings) as h:
        point(h.url)
        mark = len(stub.main_bodies())
        out["after_restart"] = _opencode_turn(await turn("chat", ["and", "once", "more"], ["-c"]))
        restarted = bodies_since(mark)
        out["after_restart_upstream"] = [
            [{"role": m["role"], "types": [b.get("type") for b in m["content"]]
              if isinstance(m["content"], list) else ["text"]}
             for m in b["messages"] if m["role"] in ("user", "assistant")] for b in restarted]
        out["after_restart_dump"] = json.dumps([b["messages"] for b in restarted])[:30000]
        out["flows_after_restart"] = h.flows()
    await stub.stop()
    out["project"] = str(projects["chat"])
    return out


# --- Claude Code as a client -----------------------------------------------------------------

async def _claude(h: H.ProxyHarness, work: Path, name: str, prompt: str) -> dict[str, Any]:
    project = work / f"cc-{name}"
    project.mkdir()
    result = await H.run_process(
        [str(H.bundled_claude()), "-p", prompt, "--output-format", "json",
         "--model", "claude-sonnet-4-5"],
        env=H.client_env(work / f"cc-home-{name}", h.url), cwd=project, timeout=60)
    try:
        parsed = json.loads(result["stdout"])
    except ValueError:
        parsed = {"unparsed": _tail(result["stdout"])}
    return {"exit": result["exit"], "timed_out": result["timed_out"],
            "seconds": result["seconds"], "result": parsed.get("result"),
            "is_error": parsed.get("is_error"), "num_turns": parsed.get("num_turns"),
            "session": parsed.get("session_id"),
            "stderr": _tail(result["stderr"]) if result["exit"] != 0 else ""}


async def scenario_claude_code(work: Path) -> dict[str, Any]:
    """The bundled Claude Code CLI as the client (``-p``): a text turn, and a turn whose model
    reply calls Claude Code's ToolSearch (answered with tool_reference blocks)."""
    out: dict[str, Any] = {}
    async with H.ProxyHarness(work) as h:
        out["text"], out["tool_search"] = await asyncio.gather(
            _claude(h, work, "text", "Hello from Claude Code"),
            _claude(h, work, "search", 'FAKE:call=ToolSearch{"query":"select:WebFetch"} go'))
        out["flows"] = h.flows()
        out["requests"] = requests_of(h)
        dump("claude_code", h)
    return out


# --- SDKs ------------------------------------------------------------------------------------

async def _node_scenario(work: Path, script: str, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with H.ProxyHarness(work) as h:
        result = await H.run_node(H.HERE / script, h.url, work / "node-home", timeout=60)
        out["findings"] = result["findings"]
        out["exit"] = result["exit"]
        if result["findings"] is None:
            out["stderr"] = _tail(result["stderr"], 3000)
            out["stdout"] = _tail(result["stdout"], 3000)
        out["flows"] = h.flows()
        out["requests"] = requests_of(h)
        dump(name, h)
    return out


async def scenario_anthropic_ts(work: Path) -> dict[str, Any]:
    return await _node_scenario(work, "anthropic_sdk.mjs", "anthropic_ts")


async def scenario_ai_sdk(work: Path) -> dict[str, Any]:
    return await _node_scenario(work, "ai_sdk.mjs", "ai_sdk")


def _py_tool_runner(base_url: str, thread: Any) -> dict[str, Any]:
    import anthropic
    from anthropic import beta_tool

    client = anthropic.Anthropic(base_url=base_url, api_key="dummy", max_retries=0, timeout=10)
    if not hasattr(client.beta.messages, "tool_runner"):
        return {"missing": True}
    runs: list[str] = []

    @beta_tool
    def get_weather(city: str) -> str:
        """Current weather of a city.

        Args:
            city: the city
        """
        runs.append(city)
        return "Sunny, 21C"

    label = "unthreaded" if thread is False else "threaded"
    kwargs: dict[str, Any] = {} if thread is None else {"thread": thread}
    runner = client.beta.messages.tool_runner(
        model="claude-sonnet-4-5", max_tokens=256, max_iterations=4, tools=[get_weather],
        messages=[{"role": "user",
                   "content": 'FAKE:call=get_weather{"city":"Paris"} ' + label}], **kwargs)
    final = runner.until_done()
    return {"final_text": "".join(b.text for b in final.content if b.type == "text"),
            "final_stop": final.stop_reason, "tool_runs": runs}


async def scenario_anthropic_py(work: Path) -> dict[str, Any]:
    """The Python SDK's ``client.beta.messages.tool_runner``: default (threads) and thread=False."""
    import anthropic
    out: dict[str, Any] = {"sdk_version": anthropic.__version__}
    async with H.ProxyHarness(work) as h:
        async def case(thread: Any) -> dict[str, Any]:
            started = time.monotonic()
            try:
                found = {"ok": True, **await asyncio.to_thread(_py_tool_runner, h.url, thread)}
            except Exception as exc:  # the test asserts on it
                found = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:2000]}
            found["ms"] = round((time.monotonic() - started) * 1000)
            return found

        out["tool_runner"], out["tool_runner_unthreaded"] = await asyncio.gather(
            case(None), case(False))
        out["flows"] = h.flows()
        out["requests"] = requests_of(h)
        dump("anthropic_py", h)
    return out


SCENARIOS = {"opencode": scenario_opencode, "claude_code": scenario_claude_code,
             "anthropic_ts": scenario_anthropic_ts, "ai_sdk": scenario_ai_sdk,
             "anthropic_py": scenario_anthropic_py,
             "opencode_realcli": scenario_opencode_realcli}


async def run(name: str, work: Path) -> dict[str, Any]:
    started = time.monotonic()
    result = await SCENARIOS[name](work)
    deadline = time.monotonic() + 5
    while (left := H.leftover_processes()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    result["leftover_processes"] = left
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in SCENARIOS:
        sys.exit(f"usage: scenarios.py {{{','.join(SCENARIOS)}}}")
    if not H.only_loopback():
        sys.exit("refusing to run real clients outside a loopback-only network namespace "
                 "(unshare -rn sh -c 'ip link set lo up && "
                 "python3 tests/realclients/scenarios.py …')")
    with tempfile.TemporaryDirectory(prefix=f"realclients-{name}-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        # The proxy (and the fake CLI it spawns) get a private HOME too.
        os.environ["HOME"] = str(home)
        os.environ.setdefault("FAKE_CLAUDE_STATE_DIR", str(work / "fake-sessions"))
        os.environ.setdefault("CLAUDE_CONFIG_DIR", str(home / ".claude"))
        try:
            result = asyncio.run(run(name, work))
        except Exception as exc:  # report, don't hide: the test prints it
            import traceback
            result = {"exception": repr(exc), "traceback": traceback.format_exc()}
    print(json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
