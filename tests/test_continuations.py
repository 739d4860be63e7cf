"""A parked tool call answered together with more than tool results is never cut short.

OpenCode, after an interrupt (Esc) or a rejected permission, sends ONE user message:
``[tool_result(is_error), text(new instruction)]``; Claude Code adds per-turn system messages
after tool results and re-declares its tools after a tool search. A parked MCP call can only
take tool results, so such a turn is resumed by a fresh CLI from the exact history: the fake
CLI's log (``interrupted_turn_resumed``) is what its model saw. The real CLI's side of the
same path is asserted on the upstream stub in tests/test_real_cli.py.
"""

import base64

import aiohttp

from conftest import eventually, live_fake_pids, read_log, wait_no_fake_alive

MODEL = "claude-sonnet-5-5"
READ = {"name": "read_file", "description": "Read a file",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}
FETCH = {"name": "WebFetch", "description": "Fetch a URL",
         "input_schema": {"type": "object", "properties": {"url": {"type": "string"}}}}
REJECTED = "The user rejected permission to use this specific tool call."
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()


def since(mark, event):
    return [e for e in read_log()[mark:] if e.get("event") == event]


async def park(client, tools, text='FAKE:call=read_file{"path":"a.txt"}'):
    messages = [{"role": "user", "content": text}]
    first = await client.messages.create(model=MODEL, max_tokens=100, tools=tools,
                                         messages=messages)
    assert first.stop_reason == "tool_use"
    (use,) = [b for b in first.content if b.type == "tool_use"]
    return messages + [{"role": "assistant", "content": [b.model_dump() for b in first.content]}
                       ], use.id


async def test_rejection_then_new_instruction_reaches_the_model_in_order(proxy,
                                                                         anthropic_client):
    messages, use_id = await park(anthropic_client, [READ])
    parked_pids = live_fake_pids()
    mark = len(read_log())
    last = [{"type": "tool_result", "tool_use_id": use_id, "content": REJECTED,
             "is_error": True},
            {"type": "text", "text": "Stop that. Summarise the README instead."}]
    reply = await anthropic_client.messages.create(
        model=MODEL, max_tokens=100, tools=[READ],
        messages=messages + [{"role": "user", "content": last}])
    (seen,) = since(mark, "interrupted_turn_resumed")
    assert seen["blocks"] == last, "tool result, then the user's text, exactly as sent"
    (resumed,) = since(mark, "transcript_resumed")
    assert [m["blocks"] for m in resumed["messages"]] == [["text"], ["tool_use"],
                                                          ["tool_result"]], \
        "the transcript ends with the tool results; the text is merged in as the resume prompt"
    assert reply.stop_reason == "end_turn"
    assert reply.content[0].text.startswith("You said: Stop that. Summarise the README instead.")
    notes = [e.message for e in proxy.collect() if e.kind == "note"]
    assert any("beside its tool results" in n for n in notes), notes
    assert not any("were not sent" in n for n in notes)
    await eventually(lambda: not set(parked_pids) & set(live_fake_pids()),
                     what="the retired parked CLI is ended")
    states = {e.flow_id: e.state for e in proxy.collect() if e.kind == "finished"}
    assert states == {1: "done", 2: "done"}, "the parked flow's calls were answered"
    retired = proxy.engine.conversations.by_session[proxy.engine.flows.get(1).session_id]
    assert retired.state == "evicted", "the retired session is neither parked nor continued"


async def test_an_image_and_system_context_beside_tool_results_are_delivered(
        proxy, anthropic_client):
    """Claude Code's per-turn role:system message after tool results, and an image."""
    messages, use_id = await park(anthropic_client, [READ])
    mark = len(read_log())
    messages += [
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": use_id, "content": "[Tool execution was "
                                                                      "interrupted]",
             "is_error": True},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": PNG}},
            {"type": "text", "text": "What is in this picture?"}]},
    ]
    reply = await anthropic_client.messages.create(model=MODEL, max_tokens=100, tools=[READ],
                                                   messages=messages)
    assert reply.stop_reason == "end_turn"
    (seen,) = since(mark, "interrupted_turn_resumed")
    assert [b["type"] for b in seen["blocks"]] == ["tool_result", "image", "text"]
    assert seen["blocks"][1]["source"]["data"] == PNG
    assert seen["blocks"][2]["text"] == "What is in this picture?"


async def test_role_system_after_tool_results_on_a_parked_turn(proxy):
    """Claude Code sends {role: system} after the tool results of a continuation."""
    body = {"model": MODEL, "max_tokens": 100, "tools": [READ],
            "messages": [{"role": "user", "content": 'FAKE:call=read_file{"path":"x"}'}]}
    async with aiohttp.ClientSession() as http:
        await _system_after_results(proxy, http, body)


async def _system_after_results(proxy, http, body):
    async with http.post(proxy.url + "/v1/messages", json=body) as resp:
        first = await resp.json()
    use = [b for b in first["content"] if b["type"] == "tool_use"][0]
    mark = len(read_log())
    body["messages"] += [
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"],
                                      "content": "x is empty"}]},
        {"role": "system", "content": "Available agent types: general, explore"}]
    async with http.post(proxy.url + "/v1/messages", json=body) as resp:
        assert resp.status == 200, await resp.text()
    (seen,) = since(mark, "interrupted_turn_resumed")
    assert seen["blocks"][0] == {"type": "tool_result", "tool_use_id": use["id"],
                                 "content": "x is empty"}
    assert "Available agent types: general, explore" in seen["blocks"][1]["text"]


async def test_a_changed_tool_set_gets_a_run_that_offers_it(proxy, anthropic_client):
    """Claude Code re-declares its tools after a tool search: the parked CLI offers the
    old set, so the turn moves to a fresh CLI that offers the new one."""
    messages, use_id = await park(anthropic_client, [READ])
    mark = len(read_log())
    messages.append({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": use_id,
         "content": [{"type": "tool_reference", "tool_name": "WebFetch"}]}]})
    reply = await anthropic_client.messages.create(model=MODEL, max_tokens=100,
                                                   tools=[READ, FETCH], messages=messages)
    (start,) = since(mark, "start")
    config = start["argv"][start["argv"].index("--mcp-config") + 1]
    assert start["argv"]  # the fresh CLI
    (seen,) = since(mark, "interrupted_turn_resumed")
    assert seen["blocks"][0]["content"] == [
        {"type": "text", "text": "Tool WebFetch is now available "
                                 "(call it as mcp__client__WebFetch)."}]
    assert reply.stop_reason == "end_turn"
    assert "sdk" in config
    notes = [e.message for e in proxy.collect() if e.kind == "note"]
    assert any("tool set changed (+WebFetch)" in n for n in notes), notes


async def test_deferred_tools_are_offered_once_a_tool_reference_loads_them(proxy,
                                                                            anthropic_client):
    deferred = {**FETCH, "defer_loading": True}
    first = await anthropic_client.messages.create(
        model=MODEL, max_tokens=100, tools=[READ, deferred],
        messages=[{"role": "user", "content": 'FAKE:call=WebFetch{"url":"u"}'}])
    assert first.stop_reason == "end_turn"
    assert not [b for b in first.content if b.type == "tool_use"], \
        "a deferred tool is not offered yet: the call fails inside the CLI, never the client's"
    assert "No such tool available" in first.content[0].text


async def test_a_call_of_a_tool_not_offered_is_never_handed_to_the_client(proxy,
                                                                          anthropic_client):
    reply = await anthropic_client.messages.create(
        model=MODEL, max_tokens=100, tools=[READ],
        messages=[{"role": "user", "content": 'FAKE:call=mcp__client__WebFetch{"url":"u"}'}])
    assert [b.type for b in reply.content] == ["text"]
    assert reply.stop_reason == "end_turn"
    assert not [f for f in proxy.engine.flows.active.values() if f.state.value == "parked"]
    notes = [e.message for e in proxy.collect() if e.kind == "note"]
    assert any("does not offer" in n for n in notes), notes
    await wait_no_fake_alive()
