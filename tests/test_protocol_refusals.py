"""Below and around the routes (issue 13 item 9): a half-sent head does not hold its socket,
every refusal and a mid-upload disconnect is a flow, ``Expect`` is answered in Anthropic's
shape and an over-limit body is refused before ``100 Continue``."""

import asyncio
import json
import re

import aiohttp

from conftest import eventually

BODY = {"model": "claude-sonnet-5-5", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]}


async def raw_connection(proxy):
    host, port = re.match(r"http://(.+):(\d+)", proxy.url).groups()
    return await asyncio.open_connection(host, int(port))


async def read_response(reader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
    length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
    return head + await asyncio.wait_for(reader.readexactly(length), 20)


def rejected(proxy):
    return [f for f in proxy.engine.flows.all() if f.mode == "rejected"]


async def test_a_half_sent_head_does_not_hold_its_socket(start_proxy):
    proxy = await start_proxy(header_timeout_s=1)
    reader, writer = await raw_connection(proxy)
    writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
    await writer.drain()
    idle_reader, idle_writer = await raw_connection(proxy)  # sends nothing at all
    # The server closes both: EOF (a guard of 20 s only so a regression fails, not hangs).
    assert await asyncio.wait_for(reader.read(), 20) == b""
    assert await asyncio.wait_for(idle_reader.read(), 20) == b""
    writer.close()
    idle_writer.close()


async def test_every_refusal_is_a_flow(start_proxy):
    proxy = await start_proxy(api_key="k3y", max_body_bytes=1024)
    key = {"x-api-key": "k3y"}
    async with aiohttp.ClientSession() as session:
        cases = [
            (session.post(proxy.url + "/v1/messages", json=BODY), 401),
            (session.post(proxy.url + "/v1/messages", json=BODY,
                          headers={**key, "Origin": "https://evil.example"}), 403),
            (session.get(proxy.url + "/nowhere", headers=key), 404),
            (session.get(proxy.url + "/v1/messages", headers=key), 405),
            (session.post(proxy.url + "/v1/messages", headers=key,
                          json={**BODY, "system": "x" * 4096}), 413),
            (session.post(proxy.url + "/v1/messages", headers=key, data=b"{}"), 415),
        ]
        for call, status in cases:
            async with call as response:
                assert response.status == status
                body = await response.json()
                assert body["type"] == "error"
                ids = [f.request_id for f in rejected(proxy)]
                assert response.headers["request-id"] in ids, (status, ids)
    flows = rejected(proxy)
    assert [f.error["status"] for f in flows] == [401, 403, 404, 405, 413, 415]
    assert all(f.state.terminal for f in flows)


async def test_a_disconnect_during_the_upload_is_a_flow(proxy):
    reader, writer = await raw_connection(proxy)
    writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\"")
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    await eventually(lambda: rejected(proxy), what="a flow for the abandoned upload")
    flow = rejected(proxy)[0]
    assert flow.error["status"] == 499 and "disconnected" in flow.error["message"]
    assert flow.state.terminal


async def test_expect_is_answered_in_shape_and_an_oversized_body_before_continue(start_proxy):
    proxy = await start_proxy(max_body_bytes=1024)
    reader, writer = await raw_connection(proxy)
    body = json.dumps(BODY).encode()
    writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: nope\r\n"
                 b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
    await writer.drain()
    answer = await read_response(reader)
    writer.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 417") and b"application/json" in head
    error = json.loads(payload)
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert "Expect" in error["error"]["message"]

    reader, writer = await raw_connection(proxy)
    writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
    await writer.drain()
    answer = await read_response(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"100 Continue" not in answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["type"] == "request_too_large"
    assert [f.error["status"] for f in rejected(proxy)] == [417, 413]

    reader, writer = await raw_connection(proxy)  # a body within the limit still continues
    writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
                 b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
    await writer.drain()
    assert (await asyncio.wait_for(reader.readline(), 20)).startswith(b"HTTP/1.1 100")
    writer.close()
