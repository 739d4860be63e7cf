"""Nobody but the proxy's user may drive it: bind, key, Host, Origin, Content-Type, limits."""

import asyncio
import json
import re
import subprocess
import sys
import time

import aiohttp
import anthropic
import pytest

from conftest import FAKE_CLAUDE, make_settings
from tui_proxy.sdk.runner import sdk_engine
from tui_proxy.http.security import (LOOP_VALUES, MAX_VALUES, BindRefused, load_body,
                                nesting_depth)
from tui_proxy.wire.errors import ProxyError
from tui_proxy.http.server import ProxyServer

MODEL = "claude-sonnet-5-5"
BODY = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def shape(body: dict, error_type: str) -> None:
    assert body["type"] == "error" and body["error"]["type"] == error_type
    assert body["error"]["message"] and "Traceback" not in json.dumps(body)


async def post(url, *, headers=None, data=None, json_body=BODY):
    async with aiohttp.ClientSession() as session:
        kwargs = {"data": data} if data is not None else {"json": json_body}
        async with session.post(url + "/v1/messages", headers=headers or {}, **kwargs) as r:
            return r.status, dict(r.headers), await r.json(content_type=None)


async def test_listening_beyond_loopback_needs_a_key(tmp_path):
    server = ProxyServer(sdk_engine(make_settings(tmp_path, host="0.0.0.0")))
    with pytest.raises(BindRefused, match="CLAUDE_PROXY_API_KEY"):
        await server.start()
    proc = subprocess.run([sys.executable, "-m", "tui_proxy", "--headless", "--host", "0.0.0.0",
                           "--port", "0", "--cli-path", str(FAKE_CLAUDE), "--cwd", str(tmp_path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "without an API key" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_with_a_key_every_endpoint_but_health_needs_it(start_proxy):
    proxy = await start_proxy(api_key="s3cret-key")
    wrong = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="nope", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        await wrong.messages.create(**BODY)
    right = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="s3cret-key", max_retries=0)
    assert (await right.messages.create(**BODY)).content[0].text == "You said: hi"
    status, _, body = await post(proxy.url, headers={"Authorization": "Bearer s3cret-key"})
    assert status == 200 and body["content"][0]["text"] == "You said: hi"
    async with aiohttp.ClientSession() as session:
        async with session.get(proxy.url + "/v1/models") as r:
            assert r.status == 401
            shape(await r.json(), "authentication_error")
        async with session.get(proxy.url + "/health") as r:
            assert r.status == 200


async def test_without_a_key_any_key_is_accepted(proxy):
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="anything", max_retries=0)
    assert (await client.messages.create(**BODY)).content[0].text == "You said: hi"


async def test_browsers_are_refused_foreign_host_and_any_origin(start_proxy):
    proxy = await start_proxy(allowed_origins=("http://localhost:5173",))
    status, headers, body = await post(proxy.url, headers={"Host": "evil.example:3456"})
    assert status == 403
    shape(body, "permission_error")
    status, headers, body = await post(proxy.url, headers={"Origin": "https://evil.example"})
    assert status == 403 and "Origin" in body["error"]["message"]
    assert not any(k.lower().startswith("access-control-") for k in headers)
    status, headers, _ = await post(proxy.url, headers={"Origin": "http://localhost:5173"})
    assert status == 200 and not any(k.lower().startswith("access-control-") for k in headers)
    for host in ("localhost:3456", "127.0.0.1", "[::1]:3456"):
        assert (await post(proxy.url, headers={"Host": host}))[0] == 200


async def test_a_post_must_be_json_so_a_web_form_cannot_send_one(proxy):
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        status, _, body = await post(proxy.url, headers={"Content-Type": ctype},
                                     data=json.dumps(BODY).encode())
        assert status == 415, ctype
        shape(body, "invalid_request_error")


async def test_limits_on_messages_nesting_and_size(start_proxy):
    proxy = await start_proxy(max_messages=3, max_body_bytes=64 * 1024)
    many = {**BODY, "messages": [{"role": "user", "content": "x"}] * 4}
    status, _, body = await post(proxy.url, json_body=many)
    assert status == 413 and "CLAUDE_PROXY_MAX_MESSAGES" in body["error"]["message"]
    shape(body, "request_too_large")
    deep = '{"model":"m","max_tokens":1,"messages":' + "[" * 5000 + "]" * 5000 + "}"
    status, _, body = await post(proxy.url, headers={"Content-Type": "application/json"},
                                 data=deep.encode())
    assert status == 400 and "nested" in body["error"]["message"]
    status, _, body = await post(proxy.url, headers={"Content-Type": "application/json"},
                                 data=b"x" * (70 * 1024))
    assert status == 413
    shape(body, "request_too_large")


async def count_tokens(url, body):
    async with aiohttp.ClientSession() as session, \
            session.post(url + "/v1/messages/count_tokens", json=body) as r:
        return r.status, await r.json(content_type=None)


async def test_max_messages_is_the_one_limit_on_messages_with_one_status(start_proxy):
    """The setting alone decides: above the old built-in 10,000 when it is set higher, and
    413 (never a 400 from a second limit) on both endpoints when a body has more."""
    many = {**BODY, "messages": [{"role": "user", "content": "x"}] * 10_001}
    proxy = await start_proxy(max_messages=20_000)
    status, body = await count_tokens(proxy.url, many)
    assert status == 200, body
    proxy = await start_proxy(max_messages=10_000)
    for status, body in [await count_tokens(proxy.url, many),
                         (await post(proxy.url, json_body=many))[::2]]:
        assert status == 413, body
        shape(body, "request_too_large")
        assert "10001 messages exceed the limit of 10000" in body["error"]["message"]


async def test_a_stalled_upload_times_out(start_proxy):
    proxy = await start_proxy(upload_timeout_s=1)
    host, port = re.match(r"http://(.+):(\d+)", proxy.url).groups()
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\"")
    await writer.drain()
    head = await asyncio.wait_for(reader.read(4096), 10)
    writer.close()
    assert head.startswith(b"HTTP/1.1 408")
    assert b"CLAUDE_PROXY_UPLOAD_TIMEOUT_S" in head


def test_nesting_depth_ignores_brackets_inside_strings():
    assert nesting_depth(json.loads(b'{"a": "[[[[{{{{", "b": [1, [2]]}')) == 3
    assert nesting_depth(json.loads(b'"\\"[["')) == 0
    assert nesting_depth(json.loads("[" * 100 + "]" * 100), cap=64) == 65  # stops past the cap


async def test_a_pathological_body_is_refused_by_the_decoder_alike_at_any_size():
    """65 × ``[`` then a run of ``\\"`` (issue 13 item 2) was quadratic: a backtracking regex
    over the raw bytes (32 KiB: 4 s, 1 MiB: hours). Now the JSON decoder alone reads the raw
    bytes: a 1 MiB body is refused at its first bad byte exactly like a 2 KiB one."""
    messages = []
    for size in (1000, 512 * 1024):
        for raw in (b"[" * 65 + b'\\"' * size, b"[" * 65 + b'"' + b'\\"' * size):
            with pytest.raises(ProxyError) as info:
                await load_body(raw)
            messages.append(info.value.message)
    assert messages[0] == messages[2] == ("request body is not valid JSON: Expecting value: "
                                          "line 1 column 66 (char 65)")
    assert messages[1] == messages[3] and "Unterminated string" in messages[1]


async def test_a_body_of_many_values_is_decoded_while_the_loop_runs():
    """The C decoder holds the GIL for a whole body (seconds at 32 MiB of small values), so a
    body that may hold more than LOOP_VALUES values is decoded in a thread by the Python
    scanner, which lets the loop run in between: other tasks advance during the decode."""
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    data = await load_body(b'{"a":[' + b"0," * (10 * LOOP_VALUES) + b'{"b":[[1]]}]}')
    during = ticks - before
    task.cancel()
    assert len(data["a"]) == 10 * LOOP_VALUES + 1 and data["a"][-1] == {"b": [[1]]}
    assert during > 1
    small = await load_body(b'{"a":[1,2]}')  # a small body: on the loop, same result shape
    assert small == {"a": [1, 2]}


async def test_a_body_of_too_many_values_is_refused_before_anything_walks_it():
    """Past MAX_VALUES the body is a 413 from the decode itself, so the journal's redaction and
    the flow's summary (on the loop) never walk millions of values."""
    with pytest.raises(ProxyError) as info:
        await load_body(b'{"a":[' + b"0," * MAX_VALUES + b'0]}')
    assert info.value.status == 413 and info.value.error_type == "request_too_large"
    assert f"{MAX_VALUES:,} JSON values" in info.value.message


def _big_bodies(size: int) -> dict[str, bytes]:
    head = b'{"metadata":{"x":'

    def fill(start: bytes, unit: bytes, tail: bytes) -> bytes:
        return start + unit * ((size - len(start) - len(tail)) // len(unit)) + tail

    return {"big_ints": fill(head + b"[", b"9" * 4300 + b",", b"0]}}"),
            "long_string": fill(head + b'"', b"x" * 64, b'"}}'),
            "escapes_valid": fill(head + b'"', b'\\"', b'"}}'),
            "pairs_and_lone": fill(head + b'"', b"\\ud83d\\ude00\\ud800x", b'"}}'),
            "whitespace": fill(head, b" " * 64, b"0}}"),
            "unterminated": fill(b"[" * 65 + b'"', b'\\"', b"")}


async def test_a_large_body_of_few_values_is_decoded_off_the_loop_in_pieces(monkeypatch):
    """Few values but a long C call each (4,300-digit integers, one 8 MiB string, a run of
    escapes or whitespace) once took the C decoder on the loop: 2.6 s at 32 MiB. A body over
    LOOP_BYTES is decoded in a thread whose every string is read WINDOW characters at a time,
    so the loop keeps running and no one decoder call is long; the value is the same."""
    import tui_proxy.wire.request as wire
    longest = 0
    real = wire._c_scanstring

    def scan(s, end, strict=True):
        nonlocal longest
        longest = max(longest, len(s) - end)
        return real(s, end, strict)

    monkeypatch.setattr(wire, "_c_scanstring", scan)
    gaps: list[float] = []

    async def ticker():
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    for name, raw in _big_bodies(8 * 1024 * 1024).items():
        # The expected value first: json.loads blocks the loop, and its gap is not ours.
        try:
            expected = json.loads(raw)
        except json.JSONDecodeError:
            expected = None
        except ValueError:  # the integers: over Python's conversion limit
            expected = "huge"
        longest, ticks = 0, asyncio.create_task(ticker())
        await asyncio.sleep(0.01)
        gaps.clear()
        try:
            data = await load_body(raw)
        except ProxyError as exc:
            data = exc
        ticks.cancel()
        assert len(gaps) > 3, name  # the loop ran during the decode
        assert max(gaps) < 0.4, (name, max(gaps))
        assert longest <= wire.WINDOW + 1, (name, longest)
        if expected is None:
            assert isinstance(data, ProxyError) and "not valid JSON" in data.message, name
        elif expected == "huge":
            assert isinstance(data, ProxyError) and "metadata.x.0: an integer" in data.message
        else:
            assert data == expected, name


def test_strings_read_in_pieces_decode_as_the_c_decoder_does(monkeypatch):
    """Every window cut lands between whole escapes and never inside a surrogate pair."""
    import random
    import tui_proxy.wire.request as wire
    parts = ["a", '"', "\\", "\\u", "d8", "dc", "00", "\\ud83d", "\\ude00", "\\n", " ", "é",
             "\x01", "\\ud800", "\\\\", "x" * 9]
    rng = random.Random(13)
    for _ in range(20000):
        monkeypatch.setattr(wire, "WINDOW", rng.randint(12, 30))
        text = '{"k":"' + "".join(rng.choice(parts) for _ in range(rng.randint(0, 16))) + '"}'
        try:
            want = ("ok", json.loads(text))
        except json.JSONDecodeError as exc:
            want = ("error", exc.msg)
        try:
            got = ("ok", wire._Decoder(True).decode(text))
        except json.JSONDecodeError as exc:
            got = ("error", exc.msg)
        assert got == want, text
