"""A lone surrogate ("\\ud800", valid JSON) anywhere in a request is answered and journalled.

Before: the conversation hash raised (a 500), the SSE frame could not be encoded, and the
journal's writer died on the line, so every later record piled up in memory."""

import json

import aiohttp

from sse_grammar import check_stream
from tui_proxy.headless import format_line
from tui_proxy.core.events import TextDelta
from tui_proxy.wire import sse
from tui_proxy.wire.jsonsafe import dumps, printable

MODEL = "claude-sonnet-5-5"
BODY = ('{"model":"claude-sonnet-5-5","max_tokens":20,"stream":%s,"system":"sys \\udfff",'
        '"messages":[{"role":"user","content":"hi \\ud800 there"}]}')


async def post(url, stream):
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "/v1/messages", data=BODY % stream,
                  headers={"content-type": "application/json"}) as resp,
    ):
        return resp.status, await resp.read()


async def test_answered_streamed_and_journalled(start_proxy, tmp_path):
    folder = tmp_path / "journal"
    proxy = await start_proxy(journal_dir=str(folder))
    status, raw = await post(proxy.url, "false")
    assert status == 200, raw
    assert json.loads(raw)["content"][0]["text"] == "You said: hi \ud800 there"
    status, raw = await post(proxy.url, "true")
    assert status == 200
    raw.decode("utf-8")  # strict: every byte sent is valid UTF-8
    checked = check_stream(raw, expect_error=False)
    assert checked.text == "You said: hi \ud800 there"
    status, _ = await post(proxy.url, "false")  # the journal lives on
    assert status == 200
    await proxy.server.stop()
    lines = [json.loads(line) for p in folder.glob("*.jsonl") for line in p.read_text()
             .splitlines()]
    assert [r["record"] for r in lines].count("start") == 3
    assert [r["record"] for r in lines].count("end") == 3
    starts = [r for r in lines if r["record"] == "start"]
    assert starts[0]["body"]["messages"][0]["content"] == "hi \ud800 there"
    assert proxy.server.journal is None or proxy.server.journal.errors == 0


def test_the_encoders_escape_only_when_they_must():
    assert dumps({"t": "é"}) == '{"t": "é"}', "ordinary text stays unescaped"
    assert dumps({"t": "\ud800"}) == '{"t": "\\ud800"}'
    frame = sse.encode({"type": "content_block_delta", "delta": {"text": "a\ud800"}})
    assert json.loads(frame.decode("utf-8").split("data: ", 1)[1]) == {
        "type": "content_block_delta", "delta": {"text": "a\ud800"}}
    assert printable("x\ud800y") == "x\ufffdy" and printable("é") == "é"
    line = format_line(TextDelta(1, "bad \ud800"), debug=True)
    assert line is not None
    printable(line).encode("utf-8")


def test_a_resume_prompt_that_utf8_cannot_carry_stays_in_the_transcript():
    from tui_proxy.sdk.seed import plan_seed
    messages = [{"role": "user", "content": "q"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "x",
                                                   "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                              "content": "r"},
                                             {"type": "text", "text": "next \ud800"}]}]
    plan = plan_seed(messages, tools=True)
    assert plan.resume_env == {"CLAUDE_CODE_RESUME_INTERRUPTED_TURN": "1"}
    assert plan.transcript[-1]["content"][-1]["text"] == "next \ud800" and plan.default_prompt
