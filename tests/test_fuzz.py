"""Bad input of every kind (hypothesis): malformed bodies, headers, methods and paths never
get a 5xx or a traceback, and every error has Anthropic's shape."""

import asyncio
import http.client
import json
import threading
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_settings
from tui_proxy.engine import Engine
from tui_proxy.server import ProxyServer

VALID = {"model": "claude-sonnet-5-5", "max_tokens": 5,
         "messages": [{"role": "user", "content": "hi"}]}
PATHS = ["/v1/messages", "/messages", "/v1/messages/count_tokens", "/v1/models",
         "/v1/models/claude-sonnet-5-5", "/health", "/", "/v1", "/v1/complete"]
CTYPES = ["application/json", "application/json; charset=utf-8", "text/plain", "", None,
          "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
          "application/json; charset=latin-1"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=5),
    max_leaves=20)


@st.composite
def mutated(draw):
    """A valid request with one part replaced by something else."""
    body = json.loads(json.dumps(VALID))
    where = draw(st.sampled_from(["model", "max_tokens", "messages", "stream", "system",
                                  "tools", "thinking", "metadata", "role", "content",
                                  "block", "extra"]))
    value = draw(json_values)
    if where == "role":
        body["messages"][0]["role"] = value
    elif where == "content":
        body["messages"][0]["content"] = value
    elif where == "block":
        body["messages"][0]["content"] = [value]
    else:
        body[where] = value
    body["stream"] = body.get("stream") if where == "stream" else False
    return json.dumps(body).encode()


bodies = st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()),
                   mutated(), st.just(b""), st.just(b"{"), st.just(b"[" * 3000))
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD",
                           "POST", "POST"]) | st.from_regex(r"[A-Z]{1,8}", fullmatch=True)
paths = st.sampled_from(PATHS) | st.lists(st.text(max_size=8), max_size=4).map(
    lambda parts: "/" + "/".join(quote(p, safe="") for p in parts))
headers = st.dictionaries(
    st.sampled_from(["x-api-key", "Authorization", "anthropic-version", "anthropic-beta",
                     "X-Claude-Session-ID", "Accept", "User-Agent"]),
    st.from_regex(r"[ -~]{0,40}", fullmatch=True), max_size=4)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The proxy on its own loop in a thread, so hypothesis can drive it synchronously."""
    loop = asyncio.new_event_loop()
    tmp = tmp_path_factory.mktemp("fuzz")
    proxy = ProxyServer(Engine(make_settings(tmp, max_body_bytes=64 * 1024)))
    ready = threading.Event()

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(proxy.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(20)
    yield proxy
    asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(20)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def send(self, method, path, hdrs, body):
        try:
            self.conn.request(method, path, body=body, headers=hdrs)
            resp = self.conn.getresponse()
            return resp.status, resp.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            raise


@settings(max_examples=1500, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(method=methods, path=paths, hdrs=headers, ctype=st.sampled_from(CTYPES), body=bodies)
def test_bad_input_never_gets_a_5xx_or_a_traceback(server, method, path, hdrs, ctype, body):
    client = test_bad_input_never_gets_a_5xx_or_a_traceback.client = getattr(
        test_bad_input_never_gets_a_5xx_or_a_traceback, "client", None) or Client(server.port)
    hdrs = dict(hdrs)
    if ctype is not None:
        hdrs["Content-Type"] = ctype
    status, raw = client.send(method, path, hdrs, body if method not in ("GET", "HEAD") else None)
    assert status < 500, (status, raw[:300])
    assert b"Traceback" not in raw
    if status >= 400 and method != "HEAD":
        error = json.loads(raw)
        assert error["type"] == "error", error
        assert isinstance(error["error"]["type"], str) and error["error"]["message"]
