"""The real Claude Code CLI (bundled in the SDK wheel) behind our proxy, offline.

Each test runs a scenario of tests/realcli_scenarios.py inside a network namespace that has
nothing but loopback (``unshare -rn``), against a loopback stub of the Messages API
(tests/upstream_stub.py). Skips, with the reason, only where such a namespace or the bundled
CLI is unavailable. Every scenario must end with no CLI (or any other child) still running.
Deselect with ``-m "not realcli"``.
"""

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from netns import namespace_unavailable

SCENARIOS = Path(__file__).parent / "realcli_scenarios.py"
pytestmark = pytest.mark.realcli


@cache
def unavailable() -> str | None:
    import claude_agent_sdk
    cli = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    if not cli.is_file():
        return f"the SDK wheel carries no bundled CLI at {cli}"
    return namespace_unavailable()


def run(name: str, timeout: float = 50) -> dict:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    proc = subprocess.run(
        ["unshare", "-rn", "sh", "-c",
         f"ip link set lo up && exec {sys.executable} {SCENARIOS} {name}"],
        capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"scenario {name} printed no result (exit {proc.returncode}):\n" \
                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    result = json.loads(lines[-1])
    assert "exception" not in result, result.get("traceback")
    assert result["cli_pids"], "the real CLI was spawned"
    assert result["cli_alive_after"] == [], "a real CLI outlived its scenario"
    assert result["leftover_processes"] == [], "a child process outlived its scenario"
    return result


def test_streaming_and_non_streaming_through_the_real_cli():
    r = run("chat")
    assert r["stream_text"] == "Hello from the stub upstream"
    assert r["stream_stop"] == "end_turn" and r["stream_model"] == "claude-sonnet-5-5"
    assert r["create_text"] == "Second answer here" and r["create_usage_out"] >= 1
    assert r["raw_text"] == "Raw stream answer" and r["raw_stop"] == "end_turn"
    assert r["raw_session_header"]
    # upstream saw exactly our three conversations, each with the client's own words
    assert r["upstream_main_requests"] == 3
    assert r["upstream_user_texts"] == [["Say hello"], ["Answer again"], ["raw"]]
    assert r["upstream_paths"] == ["/v1/messages?beta=true"]


def test_parked_client_tool_round_trip_through_the_real_cli():
    r = run("parked")
    assert r["first_stop"] == "tool_use" and r["parked_states"] == ["parked"]
    assert r["first_block_types"] == ["tool_use"]
    assert r["tool_names"] == ["get_weather"], "the client gets its own tool name back"
    assert r["tool_inputs"] == [{"city": "Paris"}]
    assert "mcp__client__get_weather" in r["upstream_tools"]
    # the same CLI turn continued: one process, and upstream got a real tool_result
    assert len(r["cli_pids"]) == 1 and r["upstream_main_requests"] == 2
    (result,) = r["upstream_tool_results"]
    content = result["content"]
    text = content if isinstance(content, str) else "".join(
        b.get("text", "") for b in content)
    assert text == "Sunny, 21C"
    assert r["final_text"] == "It is sunny and 21C in Paris." and r["final_stop"] == "end_turn"
    # one working directory: the client's project, never the proxy's own cwd
    assert r["upstream_workdirs"] == [[r["client_project"]], [r["client_project"]]]
    assert not r["proxy_cwd_seen"]


def test_whatever_comes_beside_tool_results_reaches_upstream_as_sent():
    """OpenCode's rejection + new instruction, an image beside a result, Claude Code's
    role:system after results, a re-declared tool set: the stub (what the model saw) gets
    the tool results and then the rest, in order, each case in one upstream request."""
    r = run("continuations", timeout=120)
    cases = r["cases"]
    rejected = cases["rejected"]["last_user"]["content"]
    assert rejected == [
        {"type": "tool_result", "tool_use_id": rejected[0]["tool_use_id"], "is_error": True,
         "content": "The user rejected permission to use this specific tool call."},
        {"type": "text", "text": "Forget the weather. Just say hi."}]
    assert cases["rejected"]["reply"] == "Understood: hi"
    image = cases["image"]["last_user"]["content"]
    assert [b["type"] for b in image] == ["tool_result", "image", "text"]
    assert image[0]["content"] == "Cloudy" and image[2]["text"] == "What colour is this pixel?"
    system = cases["system"]["last_user"]["content"]
    assert system[0]["content"] == "Snow, -3C", "tool results stay byte-exact (no reminder)"
    assert "Available agent types: explore" in system[1]["text"]
    changed = cases["tools_changed"]
    assert changed["upstream_tools"] == ["mcp__client__get_weather", "mcp__client__WebFetch"]
    assert "WebFetch is now available" in json.dumps(changed["last_user"])
    assert all(c["upstream_requests"] == 1 for c in cases.values()), \
        "a retired parked CLI made no upstream call of its own"


def test_unknown_history_reaches_upstream_as_real_turns():
    r = run("seeded")
    assert r["reply"] == "Tomorrow looks rainy."
    shapes = [(m["role"], m["blocks"]) for m in r["upstream_messages"] if m["role"] != "system"]
    assert shapes == [("user", ["text"]), ("assistant", ["text", "tool_use"]),
                      ("user", ["tool_result"]), ("assistant", ["text"]), ("user", ["text"])]
    dump = r["upstream_dump"]
    assert '"name": "mcp__client__get_weather"' in dump and "Sunny, 21C" in dump
    assert "conversation_history" not in dump and "Human:" not in dump


def test_a_follow_up_turn_runs_on_the_warm_cli_and_upstream_gets_the_whole_conversation():
    r = run("warm")
    assert r["answers"] == ["First turn answer", "Second turn answer"]
    assert len(r["cli_pids"]) == 1 and len(set(r["sessions"])) == 1, "one warm process"
    assert r["upstream_user_texts"] == [["first turn"], ["first turn", "second turn"]]


def test_claude_code_itself_as_the_client():
    """The README's promise: ANTHROPIC_BASE_URL=<proxy> claude. Two turns, the second with
    --resume, both answered by upstream through the proxy (and its own real CLI)."""
    r = run("client_cli")
    assert [c["result"] for c in r["client"]] == ["First upstream answer",
                                                  "Second upstream answer"], r["client"]
    assert [c["exit"] for c in r["client"]] == [0, 0]
    assert [f["state"] for f in r["flows"]] == ["done", "done"], r["flows"]
    assert r["flows"][0]["session"] == r["flows"][1]["session"], "one conversation"
    assert len(r["cli_pids"]) == 1, "the follow-up ran on the warm CLI"
    assert r["upstream_main_requests"] == 2
    assert "Say hi" in r["upstream_dump"][0]
    assert "Say hi" in r["upstream_dump"][1] and "Say more" in r["upstream_dump"][1]


def test_the_login_advice_names_a_command_the_real_cli_has():
    """`claude-proxy-tui login` runs the command the bundled CLI's own help lists; the CLI
    (2.1.33x) has no top-level `login`, so a hint saying `claude login` would be false."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    root = str(SCENARIOS.parent.parent)
    probe = (f"import asyncio, json, sys; sys.path.insert(0, {root!r}); "
             "from tui_proxy.sdk.login import auth_commands; "
             "from tests.realcli_scenarios import bundled_cli, only_loopback; "
             "assert only_loopback(); "
             "c = asyncio.run(auth_commands(str(bundled_cli()))); "
             "print(json.dumps(None if c is None else [c.login, c.logout, c.status, c.source]))")
    proc = subprocess.run(["unshare", "-rn", "sh", "-c",
                           f"ip link set lo up && exec {sys.executable} -c \"$0\"", probe],
                          capture_output=True, text=True, timeout=60,
                          cwd=root)
    assert proc.returncode == 0, proc.stderr
    login, logout, status, source = json.loads(proc.stdout.splitlines()[-1])
    assert login == ["auth", "login"] and logout == ["auth", "logout"]
    assert status == ["auth", "status"] and source == "claude auth --help"


def test_request_fields_reach_upstream_and_a_cut_leaves_the_clients_history():
    """Issue 11 item 5 on the real CLI: honoured fields become what upstream receives, and
    after an emulated cut the next turn's upstream history is what the client received."""
    r = run("fields")
    # output_config.format → the CLI's StructuredOutput tool; its input is the client's text
    assert r["structured_blocks"] == ["text"] and r["structured_text"] == '{"city": "Paris"}'
    (tool,) = r["structured_tool"]
    assert tool["input_schema"]["properties"] == {"city": {"type": "string"}}
    assert r["structured_output_config"]["effort"] == "low"   # output_config.effort
    assert "context-1m-2025-08-07" in r["structured_beta"].split(",")
    # stop_sequences: cut before STOP; upstream's next turn holds the cut text, not the rest
    assert (r["cut_text"], r["cut_stop"], r["cut_sequence"]) == (
        "alpha beta ", "stop_sequence", "STOP")
    assert r["follow_text"] == "second turn"
    assert r["follow_assistant_texts"] == ["alpha beta "]
    # forced tool_choice: the model is told, and the parallel second call never reaches the client
    assert r["forced_blocks"] == [["tool_use", "get_time"]] and r["forced_stop"] == "tool_use"
    assert "call the tool mcp__client__get_time" in r["forced_system"]
