"""Real clients (not hand-written requests) against the proxy on the fake CLI, offline.

OpenCode (``opencode run``), Claude Code as a client (the bundled CLI, ``-p``),
``@anthropic-ai/sdk`` and the Vercel AI SDK (node scripts) and the Python SDK's ``tool_runner``.
Each scenario of tests/realclients/scenarios.py runs once, inside a loopback-only network namespace
(``unshare -rn``), and prints one JSON line of findings, including a summary of every request the
client really sent (recorded by a tap in front of the proxy); the tests of one scenario share it.
The clients come from ``npm install --prefix tests/realclients`` (``.ci/run`` does it); a
missing client, npm or namespace skips with the reason. What each client sends:
tests/realclients/README.md. Select with ``-m realclient``, deselect with ``-m "not realclient"``.

Tests marked xfail assert the correct behaviour of an issue-11 item still being fixed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "realclients"
SCENARIOS = HERE / "scenarios.py"
NODE_MODULES = HERE / "node_modules"
PLANTED = "planted-content-7f3a"
WEATHER_REPLY = "Tool mcp__client__get_weather returned: Sunny, 21C"
pytestmark = pytest.mark.realclient

sys.path.insert(0, str(HERE))
from harness import bundled_claude, opencode_binary  # noqa: E402
from netns import namespace_unavailable  # noqa: E402


def npm_packages_unavailable(*packages: str) -> str | None:
    missing = [p for p in packages if not (NODE_MODULES / p / "package.json").is_file()]
    if not missing:
        return None
    if shutil.which("npm") is None:
        return f"npm is not installed, so the real clients {missing} are not either " \
               f"(they come from `npm install --prefix tests/realclients`)"
    return f"{missing} not installed: run `npm install --prefix tests/realclients`"


def unavailable(scenario: str) -> str | None:
    reason = namespace_unavailable()
    if reason:
        return reason
    if scenario in ("opencode", "opencode_realcli"):
        reason = npm_packages_unavailable("opencode-ai")
        if not reason and opencode_binary() is None:
            reason = "OpenCode's platform binary is missing (the optional dependency " \
                     "opencode-linux-* of opencode-ai was not installed)"
        if not reason and scenario == "opencode_realcli" and not bundled_claude().is_file():
            reason = f"the SDK wheel carries no bundled CLI at {bundled_claude()}"
    elif scenario == "claude_code":
        if not bundled_claude().is_file():
            reason = f"the SDK wheel carries no bundled CLI at {bundled_claude()}"
    elif scenario in ("anthropic_ts", "ai_sdk"):
        if shutil.which("node") is None:
            reason = "node is not installed"
        else:
            reason = npm_packages_unavailable(
                *(["@anthropic-ai/sdk"] if scenario == "anthropic_ts"
                  else ["ai", "@ai-sdk/anthropic"]))
    return reason


@cache
def _run(scenario: str) -> dict:
    proc = subprocess.run(
        ["unshare", "-rn", "sh", "-c",
         f"ip link set lo up && exec {sys.executable} {SCENARIOS} {scenario}"],
        capture_output=True, text=True, timeout=240)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"exception": f"scenario {scenario} printed no result (exit {proc.returncode})",
                "traceback": f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"}
    return json.loads(lines[-1])


def run(scenario: str) -> dict:
    reason = unavailable(scenario)
    if reason:
        pytest.skip(reason)
    result = _run(scenario)
    assert "exception" not in result, result.get("traceback")
    assert result["leftover_processes"] == [], "a client or CLI outlived its scenario"
    return result


def reqs(result: dict, **match) -> list[dict]:
    return [r for r in result["requests"] if all(r.get(k) == v for k, v in match.items())]


# --- OpenCode --------------------------------------------------------------------------------

def test_opencode_text_turn():
    r = run("opencode")
    turn = r["text"]
    assert turn["exit"] == 0 and not turn["timed_out"], turn
    assert turn["texts"] == ["You said: Hello from OpenCode"], turn
    mine = [q for q in r["requests"] if q["headers"].get("x-session-id") == turn["session"]]
    # a new session: a title request on the small model, without tools, and the main request
    (title,) = [q for q in mine if not q["tools"]]
    (main,) = [q for q in mine if q["tools"] and q["messages"] == [
        {"role": "user", "blocks": ["text"]}]]
    assert title["model"] == "claude-haiku-4-5"
    assert "Generate a title" in title["last_user_texts"][0]
    assert main["model"] == "claude-sonnet-4-5"
    assert {"read", "write", "edit", "bash", "glob", "grep"} <= set(main["tools"])
    assert main["last_user_texts"] == ["Hello from OpenCode"]
    assert all(q["status"] == 200 for q in r["requests"]), r["requests"]


def test_opencode_runs_its_own_read_tool_and_gets_the_final_reply():
    """The fake model calls `read` (OpenCode's own tool); in passthrough the proxy hands the
    tool_use to OpenCode, which reads the planted file and sends the tool_result back.
    The same turn also switches model (``-m``) on a continued session (``-c``)."""
    r = run("opencode")
    turn = r["tool"]
    assert turn["exit"] == 0 and not turn["timed_out"], turn
    assert turn["session"] == r["text"]["session"], "-c continued the first session"
    (call,) = turn["tools"]
    assert call["tool"] == "read" and call["status"] == "completed", call
    assert PLANTED in call["output"]
    mine = [q for q in r["requests"] if q["headers"].get("x-session-id") == turn["session"]]
    with_result = [q for q in mine if q["tool_results"]]
    assert with_result, "OpenCode sent the tool_result back"
    (result,) = with_result[-1]["tool_results"]
    assert PLANTED in result["content"] and not result["is_error"]
    assert with_result[-1]["model"] == "claude-opus-4-5", "the model switch reached the proxy"
    # the final reply is the model's answer to the tool result
    assert turn["texts"] and turn["texts"][-1].startswith("Tool mcp__client__read returned:")
    assert PLANTED in turn["texts"][-1]
    flows = {f["id"]: f for f in r["flows"]}
    assert all(f["state"] == "done" for f in flows.values()), r["flows"]


def test_opencode_new_instruction_after_a_rejected_tool_reaches_the_model():
    """`opencode run` auto-rejects a tool that needs permission ("ask"); the next message is ONE
    user message [tool_result(is_error), text]: the model must see the new text too."""
    r = run("opencode")
    (rejected,) = r["reject"]["tools"]
    assert rejected["tool"] == "bash" and rejected["status"] == "error"
    assert "rejected permission" in rejected["output"]
    mine = [q for q in r["requests"] if q["headers"].get("x-session-id") == r["reject"]["session"]]
    last = mine[-1]
    assert last["messages"][-1] == {"role": "user", "blocks": ["tool_result", "text"]}
    assert last["tool_results"][0]["is_error"] is True
    assert last["last_user_texts"] == ["Now say banana"]
    after = r["after_reject"]
    assert after["exit"] == 0, after
    assert any("banana" in text for text in after["texts"]), after


# --- OpenCode -> proxy -> the real bundled CLI -> upstream stub --------------------------------
# What the stub recorded is what the model saw.

def test_opencode_over_the_real_cli_text_and_one_working_directory():
    r = run("opencode_realcli")
    assert r["text"]["exit"] == 0 and r["text"]["texts"] == ["Hello from upstream"], r["text"]
    # each project's CLI ran in that project: the model is told OpenCode's directory only
    assert r["first_upstream_workdirs"] == sorted(
        [r["project"], r["project"].rsplit("/", 1)[0] + "/reject"])


def test_opencode_over_the_real_cli_read_round_trip_with_a_model_switch():
    r = run("opencode_realcli")
    tool = r["tool"]
    assert [t["tool"] for t in tool["tools"]] == ["read"] and \
        tool["tools"][0]["status"] == "completed", tool
    assert PLANTED in tool["texts"][0], "the model answered from the file OpenCode read"
    (result,) = r["read_results"]
    text = "".join(b.get("text", "") for b in result["content"]) \
        if isinstance(result["content"], list) else result["content"]
    assert PLANTED in text and "total_tokens" not in text, "the tool result arrived as sent"
    assert "claude-opus-4-5" in r["tool_models"], "the -m switch reached upstream"


def test_opencode_over_the_real_cli_rejection_then_new_instruction():
    """Issue 11 item 1 end to end: the model receives OpenCode's rejection and then the
    user's new instruction, in that order, in one user message."""
    r = run("opencode_realcli")
    assert r["reject"]["tools"][0]["status"] == "error", r["reject"]
    last = r["after_reject_last_user"]
    assert [b["type"] for b in last] == ["tool_result", "text"], last
    assert last[0]["is_error"] is True
    assert last[0]["content"].startswith(
        "The user rejected permission to use this specific tool call.")
    assert last[1]["text"] == "Now say banana"
    assert r["after_reject"]["texts"] == ["banana, as you asked"]


def test_opencode_over_the_real_cli_interrupt_then_new_instruction():
    """Esc in OpenCode's TUI (tmux) while its bash tool runs, then a new message: upstream
    gets the aborted tool result and then the new instruction, in one user message."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (Debian: tmux)")
    r = run("opencode_realcli")
    assert "interrupted" in r["interrupt_screens"]["interrupted"]
    last = r["after_interrupt_last_user"]
    assert last is not None, r["interrupt_screens"]
    assert [b["type"] for b in last] == ["tool_result", "text"], last
    # OpenCode says "Tool execution aborted" or "(no output) … User aborted the command",
    # depending on how far the command got; the CLI's own reminders may follow it
    assert "aborted" in last[0]["content"].split("<system-reminder>")[0]
    assert last[1]["text"] == "do something different"
    assert "Doing something different now" in r["interrupt_screens"]["after"]


def test_opencode_over_the_real_cli_after_a_proxy_restart():
    """A restarted proxy knows no session: the whole history reaches upstream as real
    turns (tool_use / tool_result blocks included), not as a text record."""
    r = run("opencode_realcli")
    assert r["after_restart"]["texts"] == ["Hello from upstream"], r["after_restart"]
    (shapes,) = r["after_restart_upstream"]
    assert [m["role"] for m in shapes] == ["user", "assistant", "user", "assistant", "user",
                                           "assistant", "user"]
    assert shapes[3]["types"] == ["tool_use"] and shapes[4]["types"] == ["tool_result"]
    assert "conversation_history" not in r["after_restart_dump"]
    assert PLANTED in r["after_restart_dump"]


# --- Claude Code as a client -----------------------------------------------------------------

def test_claude_code_text_turn():
    r = run("claude_code")
    turn = r["text"]
    assert turn["exit"] == 0 and turn["is_error"] is False, turn
    assert turn["result"].startswith("You said:") and turn["result"].endswith(
        "Hello from Claude Code"), turn["result"][-300:]
    (main,) = [q for q in r["requests"] if q["last_user_texts"][-1:] == ["Hello from Claude Code"]]
    assert main["status"] == 200 and main["headers"]["user-agent"].startswith("claude-cli/")
    assert "ToolSearch" in main["tools"]
    assert main["tools_with"]["defer_loading"] == ["DeferredToolPlaceholder"]


def test_claude_code_tool_search_round_trip():
    """The fake model calls ToolSearch; Claude Code answers with a tool_reference block and
    re-sends the request with the loaded tool declared (defer_loading)."""
    r = run("claude_code")
    turn = r["tool_search"]
    search = [q for q in r["requests"] if any("ToolSearch" in t for t in q["last_user_texts"])
              or any(t["content_types"] == ["tool_reference"] for t in q["tool_results"])]
    assert all(q["status"] == 200 for q in search), [q["response_error"] for q in search]
    (cont,) = [q for q in search if q["tool_results"]]
    assert "WebFetch" in cont["tools"] and "WebFetch" in cont["tools_with"]["defer_loading"]
    assert turn["exit"] == 0 and turn["is_error"] is False and turn["num_turns"] == 2, turn


# --- @anthropic-ai/sdk -----------------------------------------------------------------------

def ts(case: str) -> dict:
    r = run("anthropic_ts")
    assert r["findings"], r
    found = r["findings"][case]
    assert found["ok"], found.get("error")
    return found


def test_anthropic_ts_streamed_message():
    found = ts("stream")
    assert found["text"] == "You said: Hello stream" == found["final_text"]
    assert found["stop_reason"] == "end_turn" and found["model"] == "claude-sonnet-4-5"


def test_anthropic_ts_client_tool_loop():
    found = ts("tool_loop")
    assert found["first_stop"] == "tool_use"
    assert found["tool_uses"] == [{"name": "get_weather", "input": {"city": "Paris"}}]
    assert found["final_text"] == WEATHER_REPLY and found["final_stop"] == "end_turn"


def test_anthropic_ts_stop_sequences():
    found = ts("stop_sequences")
    assert found["text"] == "You said: alpha beta "
    assert found["stop_reason"] == "stop_sequence" and found["stop_sequence"] == "STOP"


def test_anthropic_ts_tool_runner():
    r = run("anthropic_ts")
    found = r["findings"]["tool_runner"]
    if found.get("missing"):
        pytest.skip("this @anthropic-ai/sdk has no beta.messages.toolRunner")
    # message threads are supported: the runner's continue answers the parked call
    assert found["ok"] and found["final_text"] == WEATHER_REPLY, found
    assert not [f for f in r["flows"] if f["state"] == "parked"], "a tool call left parked"


def test_anthropic_ts_tool_runner_without_thread():
    found = ts("tool_runner_unthreaded")
    if found.get("missing"):
        pytest.skip("this @anthropic-ai/sdk has no beta.messages.toolRunner")
    assert found["tool_runs"] == [{"city": "Paris"}]
    assert found["final_text"] == WEATHER_REPLY and found["final_stop"] == "end_turn"


# --- Vercel AI SDK ---------------------------------------------------------------------------

def vercel(case: str) -> dict:
    r = run("ai_sdk")
    assert r["findings"], r
    found = r["findings"][case]
    assert found["ok"], found.get("error")
    return found


def test_ai_sdk_generate_text():
    found = vercel("generate_text")
    assert found["text"] == "You said: Hello generate" and found["finish"] == "stop"


def test_ai_sdk_stream_text():
    found = vercel("stream_text")
    assert found["text"] == "You said: Hello streaming" and found["finish"] == "stop"


def test_ai_sdk_tool_loop_with_stop_when():
    found = vercel("tool_loop")
    assert found["tool_runs"] == [{"city": "Paris"}]
    assert found["step_finishes"] == ["tool-calls", "stop"] and found["steps"] == 2
    assert found["text"] == WEATHER_REPLY


def test_ai_sdk_stop_sequences():
    found = vercel("stop_sequences")
    assert found["text"] == "You said: alpha beta "
    assert found["raw_finish"] == "stop_sequence"


# --- Python SDK ------------------------------------------------------------------------------

def test_anthropic_py_tool_runner():
    r = run("anthropic_py")
    found = r["tool_runner"]
    if found.get("missing"):
        pytest.skip(f"anthropic {r['sdk_version']} has no beta.messages.tool_runner")
    # message threads are supported: the runner's continue answers the parked call
    assert found["ok"] and found["final_text"] == WEATHER_REPLY, found
    assert not [f for f in r["flows"] if f["state"] == "parked"], "a tool call left parked"


def test_anthropic_py_tool_runner_without_thread():
    r = run("anthropic_py")
    found = r["tool_runner_unthreaded"]
    if found.get("missing"):
        pytest.skip(f"anthropic {r['sdk_version']} has no beta.messages.tool_runner")
    assert found["ok"], found.get("error")
    assert found["tool_runs"] == ["Paris"]
    assert found["final_text"] == WEATHER_REPLY and found["final_stop"] == "end_turn"
