"""Every failure class reaches the client as the right Anthropic error, before or after the
first byte, and no CLI process outlives its request."""

import asyncio
import json
import time

import aiohttp
import anthropic
import pytest

from conftest import eventually, live_fake_pids, read_log, wait_no_fake_alive
from sse_grammar import check_stream

MODEL = "claude-sonnet-5-5"


def user(text):
    return [{"role": "user", "content": text}]


async def post(proxy, body, path="/v1/messages", headers=None, data=None):
    async with aiohttp.ClientSession() as session:
        kwargs = {"data": data} if data is not None else {"json": body}
        async with session.post(proxy.url + path, headers=headers or {}, **kwargs) as resp:
            return resp.status, resp.headers.copy(), await resp.read()


def assert_error_shape(status, headers, body, expected_status, expected_type):
    assert status == expected_status, body
    payload = json.loads(body)
    assert payload["type"] == "error" and payload["error"]["type"] == expected_type
    assert payload["request_id"] == headers["request-id"]
    assert "Traceback" not in payload["error"]["message"]
    return payload["error"]["message"]


@pytest.mark.parametrize("directive, exc_type, status, error_type, fragment", [
    ("FAKE:rate_limit", anthropic.RateLimitError, 429, "rate_limit_error", "Rate limited"),
    ("FAKE:auth", anthropic.AuthenticationError, 401, "authentication_error",
     "claude-proxy-tui login"),
    ("FAKE:auth=401", anthropic.AuthenticationError, 401, "authentication_error",
     "Invalid API key"),
    ("FAKE:overloaded", anthropic.OverloadedError, 529, "overloaded_error", "Overloaded"),
    ("FAKE:billing", anthropic.APIStatusError, 402, "billing_error", "extra usage"),
])
async def test_api_errors_map_from_sdk_fields(proxy, anthropic_client, directive, exc_type,
                                              status, error_type, fragment):
    with pytest.raises(exc_type) as info:
        await anthropic_client.messages.create(model=MODEL, max_tokens=5,
                                               messages=user(f"{directive} go"))
    assert info.value.status_code == status
    assert info.value.body["error"]["type"] == error_type
    assert fragment in info.value.body["error"]["message"]
    failed = [e for e in proxy.collect() if e.kind == "error"]
    assert failed and failed[-1].status == status


async def test_billing_refusal_is_never_retried(proxy):
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="k", max_retries=3)
    before = len([e for e in read_log() if e.get("event") == "start"])
    with pytest.raises(anthropic.APIStatusError) as info:
        await client.messages.create(model=MODEL, max_tokens=5, messages=user("FAKE:billing x"))
    assert info.value.response.headers["x-should-retry"] == "false"
    after = len([e for e in read_log() if e.get("event") == "start"])
    assert after - before == 1, "the client retried a billing refusal"


async def test_rate_limit_with_known_reset_sends_retry_after(proxy):
    status, headers, body = await post(proxy, {"model": MODEL, "max_tokens": 5,
                                               "messages": user("FAKE:rate_limit_event=rejected")})
    assert_error_shape(status, headers, body, 429, "rate_limit_error")
    assert 3000 <= int(headers["retry-after"]) <= 3600
    kinds = [e for e in proxy.collect() if e.kind == "rate_limit"]
    assert kinds and kinds[-1].status == "rejected" and kinds[-1].limit_type == "five_hour"


async def test_rate_limit_warning_is_not_an_error(proxy, anthropic_client):
    message = await anthropic_client.messages.create(
        model=MODEL, max_tokens=100, messages=user("FAKE:rate_limit_event=allowed_warning hi"))
    assert "hi" in message.content[0].text
    warnings = [e for e in proxy.collect() if e.kind == "rate_limit"]
    assert warnings[-1].status == "allowed_warning"


async def test_crash_before_output_is_500_with_stderr_tail(proxy):
    status, headers, body = await post(proxy, {"model": MODEL, "max_tokens": 5,
                                               "messages": user("FAKE:stderr=before FAKE:crash=3")})
    # crash=3 streams two tokens first: that is mid-stream for a streaming client, but a
    # JSON client has seen nothing, so it gets the status.
    message = assert_error_shape(status, headers, body, 500, "api_error")
    assert "exited with code 3" in message and "ECONNRESET" in message
    stderr = [e.line for e in proxy.collect() if e.kind == "stderr"]
    assert any("ECONNRESET" in line for line in stderr)


async def test_crash_mid_stream_closes_the_message_then_errors(proxy):
    status, headers, body = await post(proxy, {"model": MODEL, "max_tokens": 5, "stream": True,
                                               "messages": user("FAKE:crash=3 FAKE:delay=0.01")})
    assert status == 200
    checked = check_stream(body, expect_error=True)
    assert checked.text  # the tokens before the crash were delivered
    assert checked.error["type"] == "api_error" and "code 3" in checked.error["message"]


async def test_official_client_raises_on_mid_stream_error(proxy, anthropic_client):
    with pytest.raises(anthropic.APIStatusError) as info:
        async with anthropic_client.messages.stream(
                model=MODEL, max_tokens=5, messages=user("FAKE:crash=2 FAKE:delay=0.01")) as s:
            async for _ in s.text_stream:
                pass
    assert "api_error" in str(info.value)


async def test_inactivity_timeout_is_504_and_kills_the_cli(start_proxy):
    proxy = await start_proxy(inactivity_ms=700)
    started = time.monotonic()
    status, headers, body = await post(proxy, {"model": MODEL, "max_tokens": 5,
                                               "messages": user("FAKE:hang")})
    took = time.monotonic() - started
    message = assert_error_shape(status, headers, body, 504, "timeout_error")
    assert "inactivity" in message and took < 10  # not the hour-long total limit
    assert await wait_no_fake_alive() == []
    timeouts = [e for e in proxy.collect() if e.kind == "timeout"]
    assert timeouts[-1].limit == "inactivity"
    assert [e for e in proxy.collect() if e.kind == "finished"][-1].state == "timed out"


async def test_total_timeout_mid_stream(start_proxy):
    proxy = await start_proxy(timeout_ms=800)
    status, _, body = await post(proxy, {"model": MODEL, "max_tokens": 1000, "stream": True,
                                         "messages": user("FAKE:tokens=100 FAKE:delay=0.05")})
    checked = check_stream(body, expect_error=True)
    assert checked.error["type"] == "timeout_error" and "total" in checked.error["message"]
    assert await wait_no_fake_alive() == []


async def test_hard_hang_is_killed_too(start_proxy):
    proxy = await start_proxy(inactivity_ms=500)
    status, headers, body = await post(proxy, {"model": MODEL, "max_tokens": 5,
                                               "messages": user("FAKE:hang_hard")})
    assert_error_shape(status, headers, body, 504, "timeout_error")
    assert await wait_no_fake_alive() == [], "SIGTERM-ignoring CLI survived"


async def test_client_disconnect_kills_the_cli(proxy):
    async with aiohttp.ClientSession() as session:
        resp = await session.post(proxy.url + "/v1/messages", json={
            "model": MODEL, "max_tokens": 5, "stream": True,
            "messages": user("FAKE:tokens=500 FAKE:delay=0.05")})
        await resp.content.readuntil(b"text_delta")  # the run is streaming
        assert live_fake_pids()
        resp.close()
        closed = time.monotonic()
    alive = await wait_no_fake_alive()
    assert alive == [], f"CLI still alive {time.monotonic() - closed:.2f}s after disconnect"
    await eventually(lambda: any(e.kind == "finished" for e in proxy.collect()),
                     what="the flow's end")
    assert [e for e in proxy.collect() if e.kind == "finished"][-1].state == "cancelled"
    assert [e for e in proxy.collect() if e.kind == "cancelled"][-1].reason == "client_disconnect"


async def test_operator_cancel_ends_the_stream_cleanly(proxy):
    async def cancel_when_streaming():
        for _ in range(200):
            flows = [f for f in proxy.engine.flows.active.values() if f.first_token_mono]
            if flows:
                assert proxy.engine.cancel(flows[0].id)
                return
            await asyncio.sleep(0.01)

    canceller = asyncio.create_task(cancel_when_streaming())
    status, _, body = await post(proxy, {"model": MODEL, "max_tokens": 5, "stream": True,
                                         "messages": user("FAKE:tokens=500 FAKE:delay=0.05")})
    await canceller
    checked = check_stream(body, expect_error=True)
    assert "cancelled by the proxy operator" in checked.error["message"]
    assert await wait_no_fake_alive() == []


async def test_operator_cancel_before_output_is_499(proxy):
    async def cancel_soon():
        for _ in range(200):
            flows = list(proxy.engine.flows.active.values())
            if flows and flows[0].session_id:
                proxy.engine.cancel(flows[0].id)
                return
            await asyncio.sleep(0.01)

    canceller = asyncio.create_task(cancel_soon())
    status, headers, body = await post(proxy, {"model": MODEL, "max_tokens": 5,
                                               "messages": user("FAKE:hang")})
    await canceller
    assert_error_shape(status, headers, body, 499, "api_error")
    assert headers["x-should-retry"] == "false"


async def test_queue_full_answers_529_and_queued_flows_run(start_proxy):
    proxy = await start_proxy(max_concurrent=1, max_queue=1)
    slow = {"model": MODEL, "max_tokens": 5, "messages": user("FAKE:tokens=10 FAKE:delay=0.05")}
    first = asyncio.create_task(post(proxy, slow))
    await eventually(lambda: proxy.engine.in_flight == 1, what="first flow running")
    second = asyncio.create_task(post(proxy, slow))
    await eventually(lambda: proxy.engine.queued == 1, what="second flow queued")
    status, headers, body = await post(proxy, slow)
    assert_error_shape(status, headers, body, 529, "overloaded_error")
    assert (await first)[0] == 200 and (await second)[0] == 200
    assert "queued" in proxy.kinds()


async def test_missing_cli_is_a_clean_500(start_proxy, tmp_path):
    proxy = await start_proxy(cli_path=str(tmp_path / "no-such-claude"))
    status, headers, body = await post(proxy, {"model": MODEL, "max_tokens": 5,
                                               "messages": user("x")})
    message = assert_error_shape(status, headers, body, 500, "api_error")
    assert "not found" in message


@pytest.mark.parametrize("kwargs, status, error_type, fragment", [
    ({"data": b"{nope"}, 400, "invalid_request_error", "not valid JSON"),
    ({"body": {"model": MODEL, "messages": []}}, 400, "invalid_request_error", "messages"),
    ({"body": {"model": MODEL, "messages": [{"role": "bot", "content": "x"}]}}, 400,
     "invalid_request_error", "messages.0.role"),
    ({"body": {"messages": [{"role": "user", "content": "x"}]}}, 400,
     "invalid_request_error", "model"),
    ({"body": {}, "path": "/v1/nothing"}, 404, "not_found_error", "/v1/nothing"),
    ({"data": b"x" * 3000}, 413, "request_too_large", "CLAUDE_PROXY_MAX_BODY_BYTES"),
])
async def test_bad_input_gets_anthropic_errors(start_proxy, kwargs, status, error_type, fragment):
    proxy = await start_proxy(max_body_bytes=2048)
    got = await post(proxy, kwargs.get("body"), path=kwargs.get("path", "/v1/messages"),
                     data=kwargs.get("data"), headers={"Content-Type": "application/json"})
    assert fragment in assert_error_shape(*got, status, error_type)


async def test_wrong_method_is_anthropic_shaped(proxy):
    async with aiohttp.ClientSession() as session, session.get(proxy.url + "/v1/messages") as resp:
        body = await resp.read()
        assert_error_shape(resp.status, resp.headers.copy(), body, 405,
                           "invalid_request_error")
