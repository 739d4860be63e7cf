"""Seeding: a fresh CLI gets a client's earlier turns as a real transcript it resumes."""

import json

import anthropic

from conftest import read_log
from tui_proxy.config.locations import cli_project_dir as project_dir
from tui_proxy.sdk.seed import transcript_lines, write_seed

TOOLS = [{"name": "get_weather", "description": "Weather of a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
LOOP = [
    {"role": "user", "content": "weather in Paris?"},
    {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
    {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny, 21C"}]},
    {"role": "assistant", "content": "It is sunny and 21C in Paris."},
]


def lines(tools):
    return transcript_lines(LOOP, session_id="s", cwd="/w", model="m", version="v", tools=tools,
                            rename=lambda n: "mcp__client__" + n)


def test_with_tools_the_structure_is_kept_and_names_are_the_clis():
    entries = lines(tools=True)
    assert [e["type"] for e in entries] == ["user", "assistant", "user", "assistant"]
    assert [e["parentUuid"] for e in entries[1:]] == [e["uuid"] for e in entries[:-1]]
    assert entries[0]["parentUuid"] is None
    use = entries[1]["message"]["content"]
    assert [b["type"] for b in use] == ["text", "tool_use"], "thinking dropped"
    assert use[1] == {"type": "tool_use", "id": "toolu_1", "name": "mcp__client__get_weather",
                      "input": {"city": "Paris"}}
    assert entries[1]["message"]["stop_reason"] == "tool_use"
    assert entries[2]["message"]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny, 21C"}]
    stamps = [e["timestamp"] for e in entries]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4


def test_without_tools_tool_blocks_become_tagged_text():
    entries = lines(tools=False)
    blocks = [b for e in entries for b in e["message"]["content"]]
    assert {b["type"] for b in blocks} == {"text"}
    text = json.dumps(blocks)
    assert "toolu_1" in text and "Sunny, 21C" in text and "Human:" not in text


def test_written_where_the_cli_looks(tmp_path):
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")}
    sid, path = write_seed(LOOP, cwd=str(tmp_path), model="m", version="v", tools=True,
                           rename=str, env=env)
    assert path == project_dir(str(tmp_path), env) / f"{sid}.jsonl"
    assert path.parent.parent == tmp_path / "cfg" / "projects"
    assert "/" not in path.parent.name and "_" not in path.parent.name
    assert len(path.read_text().splitlines()) == 4


async def test_a_finished_tool_loop_reaches_a_fresh_cli_as_real_blocks(start_proxy):
    proxy = await start_proxy(pool_size=0)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    mark = len(read_log())
    reply = await client.messages.create(
        model="claude-sonnet-5-5", max_tokens=50, tools=TOOLS,
        messages=LOOP + [{"role": "user", "content": "FAKE:recall and tomorrow?"}])
    resumed = [e for e in read_log()[mark:] if e.get("event") == "transcript_resumed"]
    assert resumed, "the fresh CLI resumed a seeded transcript"
    shapes = resumed[0]["messages"]
    assert [m["blocks"] for m in shapes] == [["text"], ["text", "tool_use"], ["tool_result"],
                                            ["text"]]
    assert shapes[1]["names"] == ["mcp__client__get_weather"]
    assert reply.content[0].text == "History: weather in Paris? | "
    frames = [e["frame"] for e in read_log()[mark:] if e.get("event") == "stdin"
              and e["frame"].get("type") == "user"]
    assert frames[0]["message"]["content"] == [{"type": "text",
                                                "text": "FAKE:recall and tomorrow?"}]


async def test_tool_results_of_a_lost_turn_resume_it_in_a_fresh_cli(start_proxy):
    """No parked run holds the tool call (restart, timeout): the transcript ends with the
    client's tool results and the CLI resumes that turn itself; nothing is sent as a record."""
    proxy = await start_proxy(pool_size=0)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    mark = len(read_log())
    reply = await client.messages.create(
        model="claude-sonnet-5-5", max_tokens=50, tools=TOOLS,
        messages=[{"role": "user", "content": "hello"},
                  {"role": "assistant", "content": "hi"}] + LOOP[:3])
    log = read_log()[mark:]
    resumed = [e for e in log if e.get("event") == "transcript_resumed"]
    assert [m["blocks"] for m in resumed[0]["messages"]] == [
        ["text"], ["text"], ["text"], ["text", "tool_use"], ["tool_result"]]
    (turn,) = [e for e in log if e.get("event") == "interrupted_turn_resumed"]
    assert turn["blocks"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny, 21C"},
        {"type": "text", "text": "Continue from where you left off."}], \
        "no trailing text of the client's: the CLI adds its own resume prompt"
    frames = [e for e in log if e.get("event") == "stdin" and e["frame"].get("type") == "user"]
    assert frames == [], "the turn continues without a prompt of ours"
    assert reply.content[0].text.startswith("You said: Continue from where you left off.")


async def test_text_beside_tool_results_of_a_lost_turn_is_the_resume_prompt(start_proxy):
    proxy = await start_proxy(pool_size=0)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    mark = len(read_log())
    last = {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny, 21C"},
        {"type": "text", "text": "Now in Fahrenheit please"}]}
    reply = await client.messages.create(model="claude-sonnet-5-5", max_tokens=50,
                                         tools=TOOLS, messages=LOOP[:2] + [last])
    (turn,) = [e for e in read_log()[mark:] if e.get("event") == "interrupted_turn_resumed"]
    assert turn["blocks"] == last["content"], "the model sees the message exactly as sent"
    assert reply.content[0].text.startswith("You said: Now in Fahrenheit please")
