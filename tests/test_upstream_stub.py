"""The Messages API stub the real-CLI tests run against (tests/upstream_stub.py), on its own.

No CLI here: these pin down what the stub answers, so a real-CLI failure points at the proxy.
"""

import json

import aiohttp
import pytest

from sse_grammar import check_stream
from upstream_stub import SDK_LINE, MessagesStub, Text, ToolUse

SYSTEM = [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.330;"},
          {"type": "text", "text": f"You are a Claude agent, built on Anthropic's {SDK_LINE}."}]
WEATHER = {"name": "mcp__client__get_weather", "input_schema": {"type": "object"}}


def main_body(**extra) -> dict:
    return {"model": "claude-sonnet-5-5", "max_tokens": 128000, "stream": True,
            "system": SYSTEM, "messages": [{"role": "user", "content": "hi"}], **extra}


@pytest.fixture
async def stub():
    stubs: list[MessagesStub] = []

    async def start(replies=None) -> MessagesStub:
        s = MessagesStub(replies)
        await s.start()
        stubs.append(s)
        return s

    yield start
    for s in stubs:
        await s.stop()


async def post(stub: MessagesStub, path: str, body: dict) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.post(stub.url + path, json=body) as resp:
        return resp.status, await resp.read()


async def test_script_in_order_streamed_and_json_with_deterministic_ids(stub):
    s = await stub([Text("Hello there"), ToolUse("get_weather", {"city": "Paris"})])
    status, raw = await post(s, "/v1/messages?beta=true", main_body())
    checked = check_stream(raw, expect_error=False)
    assert status == 200 and checked.text == "Hello there" and checked.stop_reason == "end_turn"
    assert checked.events[0]["message"]["id"] == "msg_stub_0001"
    status, raw = await post(s, "/v1/messages", main_body(stream=False, tools=[WEATHER]))
    message = json.loads(raw)
    assert message["stop_reason"] == "tool_use" and message["id"] == "msg_stub_0002"
    assert message["content"] == [{"type": "tool_use", "id": "toolu_stub_0002_0",
                                   "name": "mcp__client__get_weather",
                                   "input": {"city": "Paris"}}], "name taken from the tools"
    status, raw = await post(s, "/v1/messages", main_body())
    assert check_stream(raw).text == "stub reply", "an exhausted script answers a default"
    assert [r["path"] for r in s.requests] == ["/v1/messages?beta=true", "/v1/messages",
                                               "/v1/messages"]


async def test_parallel_tool_uses_and_callable_replies(stub):
    s = await stub([[ToolUse("a", {}), ToolUse("b", {"x": 1})],
                    lambda body: Text(f"saw {len(body['messages'])} messages")])
    _, raw = await post(s, "/v1/messages", main_body())
    checked = check_stream(raw)
    assert checked.block_types == ["tool_use", "tool_use"] and checked.stop_reason == "tool_use"
    _, raw = await post(s, "/v1/messages", main_body())
    assert check_stream(raw).text == "saw 1 messages"


async def test_side_calls_are_answered_without_consuming_the_script(stub):
    s = await stub([Text("for the conversation")])
    quota = {"model": "claude-haiku-5-5", "max_tokens": 1,
             "messages": [{"role": "user", "content": "quota"}]}
    status, raw = await post(s, "/v1/messages?beta=true", quota)
    answer = json.loads(raw)
    assert status == 200 and answer["stop_reason"] == "max_tokens"
    title = {"model": "claude-haiku-5-5", "max_tokens": 512, "stream": True,
             "system": [{"type": "text", "text": "Generate a short title"}],
             "messages": [{"role": "user", "content": "hi"}]}
    _, raw = await post(s, "/v1/messages", title)
    assert check_stream(raw).text == "Side note"
    _, raw = await post(s, "/v1/messages", main_body())
    assert check_stream(raw).text == "for the conversation"
    assert len(s.side_bodies()) == 2 and len(s.main_bodies()) == 1


async def test_count_tokens_and_unknown_routes(stub):
    s = await stub()
    status, raw = await post(s, "/v1/messages/count_tokens?beta=true", main_body())
    assert status == 200 and json.loads(raw)["input_tokens"] >= 1
    status, raw = await post(s, "/v1/elsewhere", {})
    error = json.loads(raw)
    assert status == 404 and error["type"] == "error" \
        and error["error"]["type"] == "not_found_error"
    assert len(s.requests) == 2, "every request is recorded"
