"""Client tools pass-through: tool calls park in the CLI while the client runs them.

The official anthropic SDK drives full tool loops; the fake CLI's log proves that one
CLI process serves the whole round trip and that no history is resent."""

import json

import aiohttp
import anthropic

from conftest import eventually, live_fake_pids, read_log, wait_no_fake_alive
from sse_grammar import check_stream

MODEL = "claude-sonnet-5-5"
TOOLS = [
    {"name": "read_file", "description": "Read a file of the project",
     "input_schema": {"type": "object", "properties": {"path": {"type": "string"}},
                      "required": ["path"]}},
    {"name": "bash", "description": "Run a command",
     "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}},
]
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9"
       "awAAAABJRU5ErkJggg==")


def starts_since(mark):
    return [e for e in read_log()[mark:] if e.get("event") == "start"]


def user_frames_since(mark):
    return [e["frame"] for e in read_log()[mark:] if e.get("event") == "stdin"
            and e["frame"].get("type") == "user"]


async def test_full_tool_loop_on_one_cli_process(proxy, anthropic_client):
    mark = len(read_log())
    messages = [{"role": "user", "content": 'FAKE:call=read_file{"path":"a.txt"}'}]
    first = await anthropic_client.messages.create(model=MODEL, max_tokens=100,
                                                   tools=TOOLS, messages=messages)
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == "read_file"  # the client's own name
    assert uses[0].input == {"path": "a.txt"}
    parked = [f for f in proxy.engine.flows.active.values() if f.state.value == "parked"]
    assert len(parked) == 1 and parked[0].waiting_on[0]["id"] == uses[0].id

    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id,
                                               "content": "the answer is 42"}]}]
    final = await anthropic_client.messages.create(model=MODEL, max_tokens=100,
                                                   tools=TOOLS, messages=messages)
    assert final.stop_reason == "end_turn"
    assert final.content[0].text == "Tool mcp__client__read_file returned: the answer is 42"
    assert len(starts_since(mark)) == 1, "the round trip must stay on one CLI process"
    assert len(user_frames_since(mark)) == 1, "no history resent, no junk follow-up turn"
    kinds = proxy.kinds()
    assert "parked" in kinds and "resumed" in kinds
    states = {e.flow_id: e.state for e in proxy.collect() if e.kind == "finished"}
    assert states == {1: "done", 2: "done"}
    argv = starts_since(mark)[0]["argv"]
    assert argv[argv.index("--tools") + 1] == ""
    assert "--strict-mcp-config" in argv
    env = starts_since(mark)[0]["env"]
    assert int(env["MCP_TOOL_TIMEOUT"]) > proxy.engine.settings.parked_timeout_ms


async def test_two_parallel_calls_return_together_and_resume_together(proxy, anthropic_client):
    messages = [{"role": "user", "content":
                 'FAKE:call=read_file{"path":"a"};bash{"command":"ls"}'}]
    first = await anthropic_client.messages.create(model=MODEL, max_tokens=100,
                                                   tools=TOOLS, messages=messages)
    uses = [b for b in first.content if b.type == "tool_use"]
    assert [u.name for u in uses] == ["read_file", "bash"]
    messages += [{"role": "assistant", "content": first.content}, {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": uses[0].id, "content": "AAA"},
        {"type": "tool_result", "tool_use_id": uses[1].id, "content": [
            {"type": "text", "text": "file1 file2"}]}]}]
    final = await anthropic_client.messages.create(model=MODEL, max_tokens=100,
                                                   tools=TOOLS, messages=messages)
    assert final.content[0].text == ("Tool mcp__client__read_file returned: AAA; "
                                     "Tool mcp__client__bash returned: file1 file2")


async def test_error_result_and_image_result(proxy, anthropic_client):
    messages = [{"role": "user", "content": 'FAKE:call=read_file{"path":"x"};bash{}'}]
    first = await anthropic_client.messages.create(model=MODEL, max_tokens=100,
                                                   tools=TOOLS, messages=messages)
    uses = [b for b in first.content if b.type == "tool_use"]
    messages += [{"role": "assistant", "content": first.content}, {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": uses[0].id, "is_error": True,
         "content": "no such file"},
        {"type": "tool_result", "tool_use_id": uses[1].id, "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": PNG}}]}]}]
    final = await anthropic_client.messages.create(model=MODEL, max_tokens=100,
                                                   tools=TOOLS, messages=messages)
    text = final.content[0].text
    assert "Tool mcp__client__read_file failed: no such file" in text
    assert "<image image/png 70 bytes>" in text


async def test_streamed_tool_loop_keeps_the_sse_grammar(proxy):
    async with aiohttp.ClientSession() as session:
        body = {"model": MODEL, "max_tokens": 100, "stream": True, "tools": TOOLS,
                "messages": [{"role": "user", "content": 'FAKE:call=bash{"command":"pwd"}'}]}
        async with session.post(proxy.url + "/v1/messages", json=body) as resp:
            first = check_stream(await resp.read(), expect_error=False)
        assert first.stop_reason == "tool_use" and first.block_types[-1] == "tool_use"
        start = next(e for e in first.events if e["type"] == "content_block_start"
                     and e["content_block"]["type"] == "tool_use")
        use_id = start["content_block"]["id"]
        assert start["content_block"]["name"] == "bash"
        partial = "".join(e["delta"]["partial_json"] for e in first.events
                          if e["type"] == "content_block_delta"
                          and e["delta"]["type"] == "input_json_delta")
        body["messages"] += [
            {"role": "assistant", "content": [{"type": "tool_use", "id": use_id, "name": "bash",
                                               "input": json.loads(partial)}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use_id,
                                          "content": "/home/me"}]}]
        async with session.post(proxy.url + "/v1/messages", json=body) as resp:
            second = check_stream(await resp.read(), expect_error=False)
    assert second.text == "Tool mcp__client__bash returned: /home/me"
    assert second.stop_reason == "end_turn"


async def test_abandoned_parked_flow_is_released_on_timeout(start_proxy):
    proxy = await start_proxy(parked_timeout_ms=1000)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    first = await client.messages.create(model=MODEL, max_tokens=100, tools=TOOLS, messages=[
        {"role": "user", "content": 'FAKE:call=bash{"command":"sleep"}'}])
    assert first.stop_reason == "tool_use" and live_fake_pids()
    await eventually(lambda: not proxy.engine.flows.active, what="parked flow released")
    assert await wait_no_fake_alive() == []
    finished = [e for e in proxy.collect() if e.kind == "finished"]
    assert finished[-1].state == "cancelled"
    assert [e.reason for e in proxy.collect() if e.kind == "cancelled"] == ["parked timeout"]
    assert not proxy.engine.flows.active


async def test_conversation_moving_on_releases_the_parked_run(proxy, anthropic_client):
    messages = [{"role": "user", "content": 'FAKE:call=bash{"command":"rm"}'}]
    first = await anthropic_client.messages.create(model=MODEL, max_tokens=100,
                                                   tools=TOOLS, messages=messages)
    # The user pressed Esc: the client sends the tool call without a result, then new text.
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": "never mind, say hi"}]
    mark = len(read_log())
    final = await anthropic_client.messages.create(model=MODEL, max_tokens=100,
                                                   tools=TOOLS, messages=messages)
    assert final.content  # answered by a new run
    assert len(starts_since(mark)) == 1
    sent = json.dumps(user_frames_since(mark)[-1])
    assert "never mind, say hi" in sent

    def reasons() -> list[str]:
        return [e.reason for e in proxy.collect() if e.kind == "cancelled"]

    await eventually(reasons, what="the parked flow released")
    assert reasons() == ["superseded"]


async def test_operator_can_cancel_a_parked_flow(proxy, anthropic_client):
    await anthropic_client.messages.create(model=MODEL, max_tokens=100, tools=TOOLS, messages=[
        {"role": "user", "content": 'FAKE:call=bash{"command":"x"}'}])
    flow = next(iter(proxy.engine.flows.active.values()))
    assert flow.state.value == "parked"
    assert proxy.engine.cancel(flow.id)
    assert await wait_no_fake_alive() == []
    assert flow.state.value == "cancelled" and flow.cancel_reason == "operator"
