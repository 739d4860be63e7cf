"""Issue 11 items 4 and 5, end to end: the official anthropic client against the proxy, which
drives the real claude-agent-sdk, which drives the fake CLI. Every request field is honoured
(it reaches the CLI), emulated (the proxy ends the response as the API would), announced
(x-claude-proxy-ignored + a Note) or refused (400 naming it); no tool reaches a client that
cannot run it."""

import json

import anthropic
import pytest

from conftest import read_log
from sse_grammar import check_stream
from test_proxy_messages import raw_post

MODEL = "claude-sonnet-5-5"
WEATHER = {"name": "get_weather", "description": "Weather of a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
TIME = {"name": "get_time", "description": "Time of a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
TOKENS = " ".join(f"tok{i}" for i in range(40))


def user(text):
    return [{"role": "user", "content": text}]


def log_since(mark):
    return read_log()[mark:]


def starts(entries):
    return [e for e in entries if e.get("event") == "start"]


def argv_of(entries):
    found = starts(entries)
    assert found, "no CLI was started"
    return found[-1]["argv"]


def interrupts(entries):
    return [e for e in entries if e.get("event") == "stdin"
            and (e.get("frame") or {}).get("request", {}).get("subtype") == "interrupt"]


def flag(argv, name):
    return argv[argv.index(name) + 1] if name in argv else None


def last_flow(proxy):
    return list(proxy.engine.flows.recent.values())[-1]


def notes(proxy, flow_id=None):
    return [e.message for e in proxy.collect() if e.kind == "note"
            and (flow_id is None or e.flow_id == flow_id)]


# -- stop_sequences ---------------------------------------------------------------------------

async def test_stop_sequence_spanning_deltas_streamed(proxy):
    mark = len(read_log())
    status, headers, body = await raw_post(proxy, {
        "model": MODEL, "max_tokens": 500, "stream": True, "stop_sequences": ["5 tok6"],
        "messages": user("FAKE:tokens=40")})
    assert status == 200
    checked = check_stream(body, expect_error=False)
    # the fake streams 'tok5 ' and 'tok6 ' as separate deltas: the match spans them
    assert checked.text == "tok0 tok1 tok2 tok3 tok4 tok"
    assert checked.stop_reason == "stop_sequence"
    delta = [e for e in checked.events if e["type"] == "message_delta"][0]
    assert delta["delta"]["stop_sequence"] == "5 tok6"
    assert "x-claude-proxy-ignored" not in headers
    assert interrupts(log_since(mark)), "the CLI was not interrupted after the cut"


async def test_stop_sequence_non_streaming_with_the_official_client(proxy, anthropic_client):
    message = await anthropic_client.messages.create(
        model=MODEL, max_tokens=500, stop_sequences=["never", "tok12"],
        messages=user("FAKE:tokens=40"))
    assert message.content[0].text == " ".join(f"tok{i}" for i in range(12)) + " "
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "tok12"


async def test_no_match_keeps_the_whole_reply(proxy, anthropic_client):
    async with anthropic_client.messages.stream(
            model=MODEL, max_tokens=500, stop_sequences=["tok99", "t0k"],
            messages=user("FAKE:tokens=40")) as stream:
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    assert text.strip() == TOKENS and final.stop_reason == "end_turn"
    assert final.stop_sequence is None


async def test_a_cut_turn_is_not_continued_by_its_process(start_proxy):
    """After a cut the CLI's session holds more than the client received: the next turn
    must not run on that (warm) process or session, but on a fresh CLI seeded with the
    client's exact history."""
    proxy = await start_proxy(pool_size=4)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    first = await client.messages.create(model=MODEL, max_tokens=500, stop_sequences=["tok3"],
                                         messages=user("FAKE:tokens=40 first"))
    cut_text = first.content[0].text
    assert cut_text == "tok0 tok1 tok2 " and first.stop_reason == "stop_sequence"
    cut_session = last_flow(proxy).session_id
    conv = proxy.engine.conversations.by_session.get(cut_session)
    assert conv is None or conv.state == "evicted", "the cut session may be continued"
    assert len(proxy.engine.pool) == 0, "the cut process was kept warm"
    mark = len(read_log())
    history = [*user("FAKE:tokens=40 first"), {"role": "assistant", "content": cut_text},
               *user("FAKE:recall second")]
    second = await client.messages.create(model=MODEL, max_tokens=500, messages=history)
    entries = log_since(mark)
    assert len(starts(entries)) == 1, "the second turn must start a fresh CLI"
    resumed = [a for a in argv_of(entries) if a.startswith("--resume")]
    assert resumed and cut_session not in resumed[0], "resumed the cut session"
    assert second.content[0].text.startswith("History: ")
    assert "FAKE:tokens=40 first" in second.content[0].text  # seeded from the client's history


# -- max_tokens -------------------------------------------------------------------------------

async def test_max_tokens_streamed_and_json(proxy, anthropic_client):
    mark = len(read_log())
    status, _, body = await raw_post(proxy, {
        "model": MODEL, "max_tokens": 6, "stream": True, "messages": user("FAKE:tokens=40")})
    checked = check_stream(body, expect_error=False)
    assert checked.text == TOKENS[:24]  # 6 tokens x ~4 characters
    assert checked.stop_reason == "max_tokens" and checked.usage["output_tokens"] == 6
    assert interrupts(log_since(mark))
    message = await anthropic_client.messages.create(model=MODEL, max_tokens=6,
                                                     messages=user("FAKE:tokens=40"))
    assert message.content[0].text == TOKENS[:24]
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 6


async def test_a_reply_under_max_tokens_is_untouched(proxy, anthropic_client):
    message = await anthropic_client.messages.create(model=MODEL, max_tokens=60,
                                                     messages=user("FAKE:tokens=40"))
    assert message.content[0].text == TOKENS and message.stop_reason == "end_turn"


# -- tool_choice ------------------------------------------------------------------------------

async def test_forced_tool_choice_ends_after_the_chosen_call(proxy, anthropic_client):
    mark = len(read_log())
    message = await anthropic_client.messages.create(
        model=MODEL, max_tokens=500, tools=[WEATHER, TIME],
        tool_choice={"type": "tool", "name": "get_time"},
        messages=user('FAKE:call=get_time{"city":"Oslo"};get_weather{"city":"Oslo"} now'))
    assert [(b.type, b.name) for b in message.content] == [("tool_use", "get_time")]
    assert message.stop_reason == "tool_use"
    entries = log_since(mark)
    assert interrupts(entries), "the CLI kept generating after the forced call"
    prompts = [e for e in entries if e.get("event") == "system_prompt"]
    assert "call the tool mcp__client__get_time" in prompts[-1]["text"]
    # the client answers the one call it got: a fresh CLI resumes from its exact history
    follow = await anthropic_client.messages.create(
        model=MODEL, max_tokens=500, tools=[WEATHER, TIME], messages=[
            *user('FAKE:call=get_time{"city":"Oslo"};get_weather{"city":"Oslo"} now'),
            {"role": "assistant", "content": [b.model_dump() for b in message.content]},
            {"role": "user", "content": [{"type": "tool_result",
                                          "tool_use_id": message.content[0].id,
                                          "content": "12:00"}]}])
    assert follow.stop_reason in ("end_turn", "tool_use")


async def test_forced_tool_choice_with_one_call_parks_as_usual(proxy, anthropic_client):
    mark = len(read_log())
    message = await anthropic_client.messages.create(
        model=MODEL, max_tokens=500, tools=[WEATHER], tool_choice={"type": "any"},
        messages=user('FAKE:call=get_weather{"city":"Rome"}'))
    assert [b.name for b in message.content] == ["get_weather"]
    assert message.stop_reason == "tool_use"
    assert not interrupts(log_since(mark)), "nothing followed the call: no cut needed"
    follow = await anthropic_client.messages.create(
        model=MODEL, max_tokens=500, tools=[WEATHER], tool_choice={"type": "any"}, messages=[
            *user('FAKE:call=get_weather{"city":"Rome"}'),
            {"role": "assistant", "content": [b.model_dump() for b in message.content]},
            {"role": "user", "content": [{"type": "tool_result",
                                          "tool_use_id": message.content[0].id,
                                          "content": "Sunny"}]}])
    assert follow.content[0].text == "Tool mcp__client__get_weather returned: Sunny"
    assert len(starts(log_since(mark))) == 1, "the parked CLI continued the turn"


async def test_tool_choice_none_never_hands_out_a_call(proxy, anthropic_client):
    mark = len(read_log())
    message = await anthropic_client.messages.create(
        model=MODEL, max_tokens=500, tools=[WEATHER], tool_choice={"type": "none"},
        messages=user('FAKE:call=get_weather{"city":"Rome"}'))
    assert [b for b in message.content if b.type == "tool_use"] == []
    assert message.stop_reason == "end_turn"
    entries = log_since(mark)
    assert "do not call any tool" in [e for e in entries
                                      if e.get("event") == "system_prompt"][-1]["text"]


async def test_tool_choice_naming_a_missing_tool_is_a_400(proxy, anthropic_client):
    with pytest.raises(anthropic.BadRequestError) as info:
        await anthropic_client.messages.create(
            model=MODEL, max_tokens=50, tools=[WEATHER],
            tool_choice={"type": "tool", "name": "get_tide"}, messages=user("hi"))
    assert "tool_choice.name: 'get_tide' is not one of the request's tools (get_weather)" in \
        info.value.message


# -- honoured through the SDK -----------------------------------------------------------------

async def test_effort_thinking_display_betas_and_task_budget_reach_the_cli(proxy):
    mark = len(read_log())
    status, _, body = await raw_post(proxy, {
        "model": MODEL, "max_tokens": 4000, "messages": user("FAKE:think options"),
        "thinking": {"type": "enabled", "budget_tokens": 2048, "display": "summarized"},
        "output_config": {"effort": "low", "task_budget": {"type": "tokens", "total": 9000}}},
        {"anthropic-beta": "context-1m-2025-08-07"})
    assert status == 200, body
    argv = argv_of(log_since(mark))
    assert flag(argv, "--effort") == "low"
    assert flag(argv, "--thinking-display") == "summarized"
    assert flag(argv, "--max-thinking-tokens") == "2048"
    assert flag(argv, "--betas") == "context-1m-2025-08-07"
    assert flag(argv, "--task-budget") == "9000"
    assert [b["type"] for b in json.loads(body)["content"]] == ["thinking", "text"]


async def test_a_1m_model_suffix_passes_through(proxy):
    mark = len(read_log())
    status, _, body = await raw_post(proxy, {"model": "claude-sonnet-4-5[1m]", "max_tokens": 50,
                                             "messages": user("big context")})
    assert status == 200 and json.loads(body)["model"] == "claude-sonnet-4-5[1m]"
    assert flag(argv_of(log_since(mark)), "--model") == "claude-sonnet-4-5[1m]"


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


async def test_structured_output_is_the_text_as_the_api_returns_it(proxy, anthropic_client):
    mark = len(read_log())
    message = await anthropic_client.messages.create(
        model=MODEL, max_tokens=500, messages=user('FAKE:json={"city":"Paris"} where?'),
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}})
    assert [b.type for b in message.content] == ["text"]
    assert json.loads(message.content[0].text) == {"city": "Paris"}  # the prose is not in it
    assert message.stop_reason == "end_turn"
    assert json.loads(flag(argv_of(log_since(mark)), "--json-schema")) == SCHEMA
    status, _, body = await raw_post(proxy, {
        "model": MODEL, "max_tokens": 500, "stream": True,
        "output_format": {"type": "json_schema", "schema": SCHEMA},  # the older field
        "messages": user('FAKE:json={"city":"Rome"} where?')})
    checked = check_stream(body, expect_error=False)
    assert json.loads(checked.text) == {"city": "Rome"} and checked.block_types == ["text"]


async def test_structured_output_with_client_tools(proxy, anthropic_client):
    message = await anthropic_client.messages.create(
        model=MODEL, max_tokens=500, tools=[WEATHER], messages=user("FAKE:json={\"city\":\"X\"}"),
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}})
    assert json.loads(message.content[0].text) == {"city": "X"}
    assert not [n for n in notes(proxy) if "does not offer" in n], \
        "StructuredOutput was reported as a stray tool call"


# -- announced / rejected ---------------------------------------------------------------------

ANNOUNCED = {"temperature": 0, "top_p": 0.5, "top_k": 3, "speed": "fast",
             "service_tier": "auto", "inference_geo": "us", "brand_new_field": True}


async def test_announced_fields_in_the_header_and_a_note_json_and_sse(proxy):
    for stream in (False, True):
        status, headers, body = await raw_post(proxy, {
            "model": MODEL, "max_tokens": 50, "stream": stream, **ANNOUNCED,
            "tools": [{**WEATHER, "strict": True}], "messages": user("hello")},
            {"anthropic-beta": "fine-grained-tool-streaming-2025-05-14"})
        assert status == 200, body
        if stream:
            check_stream(body, expect_error=False)
        assert headers["x-claude-proxy-ignored"] == (
            "temperature,top_p,top_k,speed,service_tier,inference_geo,brand_new_field,"
            "tools[].strict,anthropic-beta:fine-grained-tool-streaming-2025-05-14")
    flow = last_flow(proxy)
    said = [e.message for e in flow.timeline if e.kind == "note"]
    assert any("temperature, top_p" in n and "tools[].strict" in n for n in said), said
    assert flow.summary["ignored"][:2] == ["temperature", "top_p"]


async def test_nothing_to_announce_sends_no_header(proxy):
    status, headers, _ = await raw_post(proxy, {"model": MODEL, "max_tokens": 50,
                                                "messages": user("plain")})
    assert status == 200 and "x-claude-proxy-ignored" not in headers


async def test_reject_mode_is_a_400_naming_the_fields(start_proxy):
    proxy = await start_proxy(unsupported_params="reject")
    mark = len(read_log())
    status, _, body = await raw_post(proxy, {"model": MODEL, "max_tokens": 50,
                                             "temperature": 0, "top_k": 2,
                                             "messages": user("hello")})
    error = json.loads(body)["error"]
    assert status == 400 and error["type"] == "invalid_request_error"
    assert "temperature, top_k" in error["message"]
    assert not starts(log_since(mark)), "a rejected request must not start a CLI"
    status, _, _ = await raw_post(proxy, {"model": MODEL, "max_tokens": 50,
                                          "stop_sequences": ["x"], "messages": user("fine")})
    assert status == 200  # emulated fields are not 'unsupported'


# -- server tools (item 4) --------------------------------------------------------------------

async def test_web_search_runs_inside_the_turn_and_never_reaches_the_client(proxy,
                                                                            anthropic_client):
    mark = len(read_log())
    async with anthropic_client.messages.stream(
            model=MODEL, max_tokens=500, messages=user("FAKE:websearch=otters"),
            tools=[WEATHER, {"type": "web_search_20250305", "name": "web_search",
                             "max_uses": 2}]) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["text"]
    assert final.content[0].text == "Searched: Fake result for otters"
    assert final.stop_reason == "end_turn"
    argv = argv_of(log_since(mark))
    assert flag(argv, "--tools") == "WebSearch"
    assert "WebSearch" in flag(argv, "--allowedTools").split(",")
    mcp = json.loads(flag(argv, "--mcp-config"))
    assert list(mcp["mcpServers"]) == ["client"], "only client tools are client tools"
    assert any(e.kind == "tool_call" and e.name == "WebSearch" for e in proxy.collect())


async def test_web_fetch_allowed_domains_are_permission_rules(proxy, anthropic_client):
    fetch = {"type": "web_fetch_20250910", "name": "web_fetch",
             "allowed_domains": ["example.com"]}
    ok = await anthropic_client.messages.create(
        model=MODEL, max_tokens=500, tools=[fetch],
        messages=user("FAKE:webfetch=https://docs.example.com/a"))
    assert ok.content[0].text == "Fetched: Fake page content of https://docs.example.com/a"
    denied = await anthropic_client.messages.create(
        model=MODEL, max_tokens=500, tools=[fetch],
        messages=user("FAKE:webfetch=https://other.org/"))
    assert denied.content[0].text.startswith("I could not use WebFetch")


async def test_without_a_server_tool_the_cli_has_no_web_search(proxy, anthropic_client):
    message = await anthropic_client.messages.create(
        model=MODEL, max_tokens=500, tools=[WEATHER], messages=user("FAKE:websearch=otters"))
    assert "No such tool available: WebSearch" in message.content[0].text


@pytest.mark.parametrize("tool", [
    {"type": "code_execution_20250825", "name": "code_execution"},
    {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"},
    {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
])
async def test_server_tools_nobody_can_run_are_refused_by_name(proxy, anthropic_client, tool):
    mark = len(read_log())
    with pytest.raises(anthropic.BadRequestError) as info:
        await anthropic_client.messages.create(model=MODEL, max_tokens=50,
                                               tools=[WEATHER, tool], messages=user("hi"))
    assert f"tools.1: the tool {tool['name']!r} (type {tool['type']!r})" in info.value.message
    assert not starts(log_since(mark))
    flow = last_flow(proxy)
    assert flow.mode == "rejected" and flow.error["status"] == 400


async def test_chat_mode_announces_the_tools_it_drops(start_proxy):
    proxy = await start_proxy(mode="chat")
    status, headers, body = await raw_post(proxy, {
        "model": MODEL, "max_tokens": 50, "tools": [WEATHER], "top_k": 1,
        "tool_choice": {"type": "any"}, "messages": user("hello")})
    assert status == 200, body
    assert headers["x-claude-proxy-ignored"] == "top_k,tools,tool_choice"
