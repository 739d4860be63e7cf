import json

import pytest

from tui_proxy.wire.errors import ProxyError
from tui_proxy.wire.request import parse_body, parse_messages_request


def ok(**overrides):
    body = {"model": "claude-sonnet-4-5", "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}]}
    body.update(overrides)
    return body


def error_of(body) -> ProxyError:
    with pytest.raises(ProxyError) as info:
        parse_messages_request(body)
    assert info.value.status == 400
    assert info.value.error_type == "invalid_request_error"
    return info.value


def test_valid_request_keeps_model_and_defaults_to_json():
    req = parse_messages_request(ok())
    assert req.model == "claude-sonnet-4-5"
    assert req.stream is False
    assert req.summary()["messages"] == 1


@pytest.mark.parametrize("raw, fragment", [
    (b"", "empty"), (b"{not json", "not valid JSON"), (b"[1,2]", "JSON object"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_body_errors(raw, fragment):
    with pytest.raises(ProxyError) as info:
        parse_body(raw)
    assert fragment in info.value.message


@pytest.mark.parametrize("body, field", [
    (ok(model=None), "model"),
    (ok(model=""), "model"),
    (ok(messages=[]), "messages"),
    (ok(messages="hi"), "messages"),
    (ok(messages=[{"role": "system", "content": "x"}]), "messages.0.role"),
    (ok(messages=[{"role": "user", "content": 5}]), "messages.0.content"),
    (ok(messages=[{"role": "user", "content": [{"text": "x"}]}]), "messages.0.content.0.type"),
    (ok(messages=[{"role": "user", "content": [{"type": "text", "text": 3}]}]),
     "messages.0.content.0.text"),
    (ok(messages=[{"role": "user", "content": [{"type": "bogus"}]}]), "messages.0.content.0.type"),
    (ok(messages=[{"role": "user", "content": [{"type": "image"}]}]),
     "messages.0.content.0.source"),
    (ok(stream="yes"), "stream"),
    (ok(max_tokens=0), "max_tokens"),
    (ok(max_tokens=True), "max_tokens"),
    (ok(system=[{"type": "image"}]), "system.0"),
    (ok(tools=[{"description": "no name"}]), "tools.0.name"),
    (ok(thinking={"type": "enabled"}), "thinking.budget_tokens"),
    (ok(messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]),
     "messages"),
])
def test_bad_fields_are_named(body, field):
    assert error_of(body).message.startswith(field)


def test_ignored_parameters_are_reported():
    req = parse_messages_request(ok(temperature=0.2, stop_sequences=["x"]))
    assert req.ignored == ["temperature"]  # stop_sequences are emulated
    assert req.stop_sequences == ["x"]


def test_error_body_shape():
    err = error_of(ok(messages=[]))
    body = err.body("req_1")
    assert body == {"type": "error", "error": {"type": "invalid_request_error",
                                               "message": err.message}, "request_id": "req_1"}
    json.dumps(body)


def test_the_parser_has_no_message_limit_of_its_own():
    """The limit is the max_messages setting, checked on the body (413, test_security);
    the parser holds no second one with another status."""
    import tui_proxy.wire.request as wire

    assert not hasattr(wire, "MAX_MESSAGES")
    req = parse_messages_request(ok(messages=[{"role": "user", "content": "x"}] * 10_001))
    assert req.summary()["messages"] == 10_001
