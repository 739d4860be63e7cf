"""The proxy end to end: the official anthropic SDK against our server, which drives the
real claude-agent-sdk, which drives the fake CLI (tests/fake_cli/fake_claude)."""

import json

import aiohttp

from conftest import read_log
from sse_grammar import check_stream

MODEL = "claude-sonnet-5-5"


def user(text):
    return [{"role": "user", "content": text}]


async def raw_post(proxy, body, headers=None, path="/v1/messages"):
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + path, json=body, headers=headers or {}) as resp,
    ):
        return resp.status, resp.headers.copy(), await resp.read()


async def test_streaming_with_the_official_client(proxy, anthropic_client):
    async with anthropic_client.messages.stream(model=MODEL, max_tokens=100,
                                                messages=user("hello there")) as stream:
        chunks = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(chunks) == "You said: hello there"
    assert final.content[0].text == "You said: hello there"
    assert final.model == MODEL and final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


async def test_non_streaming_create(proxy, anthropic_client):
    message = await anthropic_client.messages.create(model=MODEL, max_tokens=100,
                                                     messages=user("plain please"))
    assert message.content[0].text == "You said: plain please"
    assert message.stop_reason == "end_turn" and message.model == MODEL
    assert message.id.startswith("msg_")


async def test_stream_absent_means_json_with_headers(proxy):
    status, headers, body = await raw_post(proxy, {"model": MODEL, "max_tokens": 5,
                                                   "messages": user("json?")})
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert headers["request-id"].startswith("req_")
    assert headers["X-Claude-Session-ID"]
    assert json.loads(body)["content"][0]["text"] == "You said: json?"


async def test_raw_stream_grammar_and_headers(proxy):
    status, headers, body = await raw_post(proxy, {
        "model": "claude-opus-4-5", "max_tokens": 5, "stream": True,
        "messages": user("FAKE:think think first")})
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    assert headers["request-id"].startswith("req_") and headers["X-Claude-Session-ID"]
    checked = check_stream(body, expect_error=False)
    assert checked.block_types == ["text"], "thinking must not be forwarded unless asked"
    assert checked.events[0]["message"]["model"] == "claude-opus-4-5"


async def test_thinking_forwarded_when_requested(proxy, anthropic_client):
    message = await anthropic_client.messages.create(
        model=MODEL, max_tokens=2000, messages=user("FAKE:think deep"),
        thinking={"type": "enabled", "budget_tokens": 1024})
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking


async def test_model_id_passes_through_and_aliases_apply(start_proxy):
    proxy = await start_proxy(model_aliases={"fast": "claude-haiku-4-5"})
    for requested, expected in (("claude-sonnet-4-5", "claude-sonnet-4-5"),
                                ("fast", "claude-haiku-4-5")):
        status, _, body = await raw_post(proxy, {"model": requested, "max_tokens": 5,
                                                 "messages": user(f"model {requested}")})
        assert status == 200 and json.loads(body)["model"] == requested  # echoed as asked
        argv = next(e["argv"] for e in reversed(read_log()) if e.get("event") == "start")
        assert argv[argv.index("--model") + 1] == expected


async def test_session_resume_sends_only_the_new_turn(proxy):
    status, headers, _ = await raw_post(proxy, {"model": MODEL, "max_tokens": 100,
                                                "messages": user("remember PINEAPPLE")})
    session = headers["X-Claude-Session-ID"]
    history = [{"role": "user", "content": "remember PINEAPPLE"},
               {"role": "assistant", "content": "You said: remember PINEAPPLE"},
               {"role": "user", "content": "FAKE:recall what did I say?"}]
    status, headers, body = await raw_post(proxy, {"model": MODEL, "max_tokens": 100,
                                                   "messages": history},
                                           {"X-Claude-Session-ID": session})
    assert status == 200
    assert headers["X-Claude-Session-ID"] == session
    assert "remember PINEAPPLE" in json.loads(body)["content"][0]["text"]
    frames = [e["frame"] for e in read_log() if e.get("event") == "stdin"
              and e["frame"].get("type") == "user"]
    sent = json.dumps(frames[-1]["message"]["content"])
    assert "FAKE:recall" in sent and "conversation_history" not in sent


async def test_unknown_session_starts_fresh_without_failing(proxy):
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"},
               {"role": "user", "content": "FAKE:recall now"}]
    status, headers, body = await raw_post(
        proxy, {"model": MODEL, "max_tokens": 5, "messages": history},
        {"X-Claude-Session-ID": "00000000-0000-4000-8000-000000000000"})
    assert status == 200, body
    assert headers["X-Claude-Session-ID"] != "00000000-0000-4000-8000-000000000000"
    notes = [e.message for e in proxy.collect() if e.kind == "note"]
    assert any("could not be resumed" in n for n in notes)
    # The fresh session got the earlier turns as a delimited record.
    frames = [e["frame"] for e in read_log() if e.get("event") == "stdin"
              and e["frame"].get("type") == "user"]
    assert "conversation_history" in json.dumps(frames[-1])


async def test_large_system_prompt_goes_through_a_file(proxy, anthropic_client):
    big = "You are a careful assistant. " * 8000  # ~230 KB: too big for one argv entry
    message = await anthropic_client.messages.create(model=MODEL, max_tokens=5,
                                                     system=big, messages=user("hi big"))
    assert message.content[0].text == "You said: hi big"
    prompts = [e for e in read_log() if e.get("event") == "system_prompt"]
    assert prompts and prompts[-1]["text"] == big


async def test_system_as_text_blocks(proxy, anthropic_client):
    await anthropic_client.messages.create(
        model=MODEL, max_tokens=5, messages=user("sys blocks"),
        system=[{"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}])
    prompts = [e for e in read_log() if e.get("event") == "system_prompt"]
    assert prompts[-1]["text"] == "Part one.\n\nPart two."


async def test_images_and_documents_reach_the_cli_as_blocks(proxy, anthropic_client):
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": "iVBORw0KGgo="}}
    doc = {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                          "data": "a document"}}
    message = await anthropic_client.messages.create(
        model=MODEL, max_tokens=100,
        messages=[{"role": "user", "content": [{"type": "text", "text": "see"}, image, doc]}])
    assert "1 image" in message.content[0].text and "1 document" in message.content[0].text


async def test_every_run_publishes_a_complete_timeline(proxy, anthropic_client):
    await anthropic_client.messages.create(model=MODEL, max_tokens=5, messages=user("events"))
    kinds = proxy.kinds()
    for kind in ("flow_started", "sdk_spawned", "session", "text", "finished"):
        assert kind in kinds
    finished = [e for e in proxy.collect() if e.kind == "finished"][-1]
    assert finished.state == "done" and finished.output_tokens > 0
    assert finished.ttft_s is not None and finished.duration_s >= finished.ttft_s


async def test_health_models_and_count_tokens(proxy):
    async with aiohttp.ClientSession() as session:
        async with session.get(proxy.url + "/health") as resp:
            health = await resp.json()
            assert resp.status == 200 and resp.headers["request-id"]
        async with session.get(proxy.url + "/v1/models") as resp:
            models = await resp.json()
        async with session.get(proxy.url + "/v1/models/claude-sonnet-4-5") as resp:
            one = await resp.json()
        async with session.get(proxy.url + "/v1/models/gpt-4") as resp:
            missing = (resp.status, await resp.json())
        async with session.post(proxy.url + "/v1/messages/count_tokens", json={
                "model": MODEL, "messages": user("x" * 400)}) as resp:
            counted = await resp.json()
    assert health["status"] == "ok" and health["cli"]["path"].endswith("fake_claude")
    assert health["cli"]["source"] and health["cli"]["version"]
    assert health["in_flight"] == 0 and health["cwd"] and health["mode"] == "auto"
    assert models["data"][0]["type"] == "model" and models["has_more"] is False
    assert one["id"] == "claude-sonnet-4-5"
    assert missing[0] == 404 and missing[1]["error"]["type"] == "not_found_error"
    assert 100 <= counted["input_tokens"] <= 120


async def test_count_tokens_with_official_client(proxy, anthropic_client):
    result = await anthropic_client.messages.count_tokens(model=MODEL, messages=user("hi " * 40))
    assert result.input_tokens > 10


async def test_ping_after_silence_and_headers_before_first_token(start_proxy):
    proxy = await start_proxy(ping_interval_s=1)
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + "/v1/messages", json={
            "model": MODEL, "max_tokens": 5, "stream": True,
            "messages": user("FAKE:tokens=2 FAKE:delay=1.3")}) as resp,
    ):
        assert resp.status == 200
        body = await resp.read()
    checked = check_stream(body, expect_error=False)
    assert checked.pings >= 1 and checked.text == "tok0 tok1"
