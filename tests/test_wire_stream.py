"""The SDK's per-API-call envelopes become one client message with contiguous indexes."""

from sse_grammar import check_stream
from tui_proxy.wire import sse
from tui_proxy.wire.stream import MessageAccumulator, StreamTranslator


def call(blocks, stop):
    """Raw SDK events of one internal API call; blocks are (type, [deltas])."""
    events = [{"type": "message_start", "message": {"usage": {"input_tokens": 7}}}]
    for i, (kind, deltas) in enumerate(blocks):
        start = {"type": kind}
        if kind == "text":
            start["text"] = ""
        if kind == "thinking":
            start["thinking"] = ""
        if kind == "tool_use":
            start.update(id="toolu_x", name="Write", input={})
        events.append({"type": "content_block_start", "index": i, "content_block": start})
        for d in deltas:
            delta = ({"type": "text_delta", "text": d} if kind == "text" else
                     {"type": "thinking_delta", "thinking": d} if kind == "thinking" else
                     {"type": "input_json_delta", "partial_json": d})
            events.append({"type": "content_block_delta", "index": i, "delta": delta})
        events.append({"type": "content_block_stop", "index": i})
    events += [{"type": "message_delta", "delta": {"stop_reason": stop},
                "usage": {"output_tokens": 3}},
               {"type": "message_stop"}]
    return events


def run(translator, raw_events, stop="end_turn"):
    out = []
    for event in raw_events:
        out += translator.feed(event)
    out += translator.finish(stop, {"input_tokens": 9, "output_tokens": 11})
    return out


def test_agent_run_with_two_api_calls_becomes_one_message():
    t = StreamTranslator("claude-sonnet-4-5", forward_thinking=False)
    raw = call([("text", ["I will ", "write."]), ("tool_use", ['{"a":1}'])], "tool_use") + \
        call([("text", ["Done ", "now."])], "end_turn")
    events = run(t, raw)
    checked = check_stream(b"".join(sse.encode(e) for e in events), expect_error=False)
    assert checked.text == "I will write.Done now."
    assert checked.block_types == ["text", "text"]     # tool_use hidden, indexes 0 and 1
    assert checked.stop_reason == "end_turn"
    assert checked.usage["output_tokens"] == 11       # from the SDK's result, not the last call
    assert events[0]["message"]["model"] == "claude-sonnet-4-5"


def test_thinking_forwarded_only_when_asked():
    raw = call([("thinking", ["hmm"]), ("text", ["ok"])], "end_turn")
    without = check_stream(b"".join(sse.encode(e) for e in run(
        StreamTranslator("m", forward_thinking=False), raw)))
    assert without.block_types == ["text"] and without.thinking == ""
    with_thinking = check_stream(b"".join(sse.encode(e) for e in run(
        StreamTranslator("m", forward_thinking=True), raw)))
    assert with_thinking.block_types == ["thinking", "text"] and with_thinking.thinking == "hmm"


def test_failure_mid_block_closes_everything():
    t = StreamTranslator("m", forward_thinking=False)
    out = []
    for event in call([("text", ["partial"])], "end_turn")[:3]:  # start, block start, one delta
        out += t.feed(event)
    out += t.finish(None, None)
    out.append({"type": "error", "error": {"type": "api_error", "message": "boom"}})
    checked = check_stream(b"".join(sse.encode(e) for e in out), expect_error=True)
    assert checked.text == "partial" and checked.error["message"] == "boom"


def test_accumulator_builds_the_same_content():
    t = StreamTranslator("m", forward_thinking=True)
    acc = MessageAccumulator()
    for event in run(t, call([("thinking", ["a", "b"]), ("text", ["x", "y"])], "max_tokens"),
                     stop="max_tokens"):
        acc.feed(event)
    message = acc.message
    assert message["content"] == [{"type": "thinking", "thinking": "ab"},
                                  {"type": "text", "text": "xy"}]
    assert message["stop_reason"] == "max_tokens"
    assert message["usage"]["output_tokens"] == 11


def test_finish_without_any_event_still_yields_a_complete_message():
    t = StreamTranslator("m", forward_thinking=False)
    check_stream(b"".join(sse.encode(e) for e in t.finish("end_turn", None)), expect_error=False)
