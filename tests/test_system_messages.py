"""Claude Code as a *client* of the proxy puts ``role: "system"`` messages inside ``messages``.

Observed with the bundled Claude Code CLI 2.1.330 pointed at a Messages API (see
tests/realcli_scenarios.py, scenario ``client_cli``): after the user's prompt comes
``{"role": "system", "content": [{"type": "text", "text": "# Environment ...",
"cache_control": ...}], "output_config": {...}}``. The proxy used to refuse it with a 400, so
Claude Code could not talk to it at all. The system text now reaches the CLI as a
``<system-reminder>`` block of the neighbouring user turn.
"""

import aiohttp
import pytest

from tui_proxy.wire.errors import ProxyError
from tui_proxy.wire.request import parse_messages_request

MODEL = "claude-sonnet-5-5"
ENV = "# Environment\nPrimary working directory: /somewhere"


def system_message(text: str = ENV) -> dict:
    return {"role": "system", "output_config": {"effort": "medium"},
            "content": [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]}


def parsed(messages: list) -> list:
    return parse_messages_request({"model": MODEL, "max_tokens": 10,
                                   "messages": messages}).messages


def test_a_system_message_after_the_user_joins_that_user_turn():
    out = parsed([{"role": "user", "content": "Say hi"}, system_message()])
    assert [m["role"] for m in out] == ["user"]
    assert out[0]["content"] == [{"type": "text", "text": "Say hi"},
                                 {"type": "text",
                                  "text": f"<system-reminder>\n{ENV}\n</system-reminder>"}]


def test_a_system_message_before_the_user_opens_the_next_user_turn():
    out = parsed([{"role": "user", "content": "one"}, {"role": "assistant", "content": "1"},
                  {"role": "system", "content": "be brief"},
                  {"role": "user", "content": [{"type": "text", "text": "two"}]}])
    assert [m["role"] for m in out] == ["user", "assistant", "user"]
    assert out[0]["content"] == "one", "earlier turns are untouched"
    assert [b["text"] for b in out[2]["content"]] == [
        "<system-reminder>\nbe brief\n</system-reminder>", "two"]


@pytest.mark.parametrize("messages, field", [
    ([{"role": "system", "content": "alone"}], "messages.0.role"),
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"},
      {"role": "system", "content": "dangling"}], "messages.2.role"),
    ([{"role": "user", "content": "hi"}, {"role": "system", "content": 5}], "messages.1.content"),
    ([{"role": "user", "content": "hi"},
      {"role": "system", "content": [{"type": "image", "source": {}}]}], "messages.1.content"),
])
def test_system_messages_that_cannot_be_placed_are_refused_by_field(messages, field):
    with pytest.raises(ProxyError) as info:
        parsed(messages)
    assert info.value.status == 400 and info.value.message.startswith(field)


async def test_claude_code_shaped_turns_reach_the_cli_and_stay_one_session(proxy):
    """The body Claude Code sends (path with ?beta=true, system message, its extra fields)."""
    extras = {"thinking": {"type": "adaptive", "display": "updates"},
              "context_management": {"edits": [{"type": "clear_thinking_20251015",
                                                 "keep": "all"}]},
              "output_config": {"effort": "medium"}, "metadata": {"user_id": '{"device_id":"d"}'},
              "max_tokens": 128000, "model": MODEL}
    messages = [{"role": "user", "content": [{"type": "text", "text": "remember PINEAPPLE"}]},
                system_message()]
    async with aiohttp.ClientSession() as http:
        async def post(msgs: list) -> tuple[int, dict, str | None]:
            async with http.post(proxy.url + "/v1/messages?beta=true",
                                 json={**extras, "messages": msgs}) as resp:
                return resp.status, await resp.json(), resp.headers.get("X-Claude-Session-ID")

        status, body, session = await post(messages)
        assert status == 200, body
        text = body["content"][0]["text"]
        assert "remember PINEAPPLE" in text and f"<system-reminder>\n{ENV}" in text
        messages += [{"role": "assistant", "content": body["content"]},
                     {"role": "user", "content": [{"type": "text", "text": "FAKE:recall"}]}]
        status, body, same = await post(messages)
    assert status == 200, body
    assert same == session, "the system message does not break conversation matching"
    assert body["content"][0]["text"].startswith("History: remember PINEAPPLE")
