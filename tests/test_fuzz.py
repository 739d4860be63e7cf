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
from tui_proxy.sdk.runner import sdk_engine
from tui_proxy.http.server import ProxyServer

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
    proxy = ProxyServer(sdk_engine(make_settings(tmp, max_body_bytes=512 * 1024)))
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


# -- hostile values in every field (issue 13 item 7): each was a 500 ---------------------------

FULL = {"model": "claude-sonnet-5-5", "max_tokens": 5, "stream": False,
        "system": [{"type": "text", "text": "be brief"}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
                     {"role": "assistant", "content": [
                         {"type": "tool_use", "id": "tu1", "name": "t", "input": {"a": 1}}]},
                     {"role": "user", "content": [
                         {"type": "tool_result", "tool_use_id": "tu1", "content": "ok"}]}],
        "tools": [{"name": "t", "description": "a tool",
                   "input_schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
                  {"type": "web_fetch_20250910", "name": "web_fetch",
                   "allowed_domains": ["example.com"]}],
        "tool_choice": {"type": "auto"}, "thinking": {"type": "enabled", "budget_tokens": 100},
        "metadata": {"user_id": "u"}, "stop_sequences": ["STOP"],
        "output_config": {"effort": "low"}}
HUGE = "__HUGE_INT__"


def _paths(value, prefix=()):
    yield prefix
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, child in items:
        yield from _paths(child, prefix + (key,))


PATHS_IN_FULL = [p for p in _paths(FULL) if p]
hostile = st.one_of(
    st.sampled_from(["\ud800", "\udfff", "a\ud800b", "\ud83d", "\x00", "a\x00b", "", " ",
                     "x" * 130_000, HUGE, "-" + HUGE]),
    st.text(alphabet=st.sampled_from(["a", "\x00", "\ud800", "\udc00", "\u00e9", "["]),
            max_size=6),
    st.integers(-2**70, 2**70), st.booleans(), st.none(), st.floats(allow_nan=False),
    st.lists(st.sampled_from([0, "x", None, "\x00"]), max_size=3),
    st.dictionaries(st.sampled_from(["type", "text", "name", "x"]),
                    st.sampled_from([0, "x", None, "\ud800", [], {}]), max_size=3),
)


@st.composite
def hostile_bodies(draw):
    """A full valid request with one to three fields (any depth) replaced by a hostile value:
    a surrogate, NUL, a 130 KiB string, an over-long integer, a wrong type."""
    body = json.loads(json.dumps(FULL))
    for path in draw(st.lists(st.sampled_from(PATHS_IN_FULL), min_size=1, max_size=3)):
        target = body
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = draw(hostile)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    digits = "9" * draw(st.integers(4301, 6000))
    return json.dumps(body).replace(f'"{HUGE}"', digits).encode()


@settings(max_examples=250, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(body=hostile_bodies())
def test_hostile_values_in_any_field_are_a_4xx_naming_it(server, body):
    client = test_hostile_values_in_any_field_are_a_4xx_naming_it.client = getattr(
        test_hostile_values_in_any_field_are_a_4xx_naming_it, "client", None) or Client(
        server.port)
    status, raw = client.send("POST", "/v1/messages", {"Content-Type": "application/json"},
                              body)
    assert status < 500, (status, raw[:300], body[:300])
    if status >= 400:
        error = json.loads(raw)
        assert error["type"] == "error" and error["error"]["message"], error


@pytest.mark.parametrize("change, field", [
    ({"max_tokens": HUGE}, "max_tokens"),
    ({"metadata": {"user_id": HUGE}}, "metadata.user_id"),
    ({"tools": [{"name": "t", "description": 5, "input_schema": {"type": "object"}}]},
     "tools.0.description"),
    ({"system": "be\x00brief"}, "system"),
    ({"system": [{"type": "text", "text": "be\x00brief"}]}, "system.0.text"),
    ({"model": "claude\x00sonnet"}, "model"),
    ({"model": "claude-\ud800"}, "model"),
    ({"model": "c" * 128 * 1024}, "model"),
])
def test_issue_13_bad_input_is_a_400_naming_the_field(server, change, field):
    body = json.dumps({**VALID, **change}).replace(f'"{HUGE}"', "7" * 4301).encode()
    status, raw = Client(server.port).send("POST", "/v1/messages",
                                           {"Content-Type": "application/json"}, body)
    error = json.loads(raw)
    assert status == 400 and error["error"]["type"] == "invalid_request_error", (status, error)
    assert error["error"]["message"].startswith(field + ":"), error
