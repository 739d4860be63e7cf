"""The field table (tui_proxy/wire/fields.py), the request parser that applies it, and the
stop rules the stream translator consults (tui_proxy/wire/stops.py)."""

from pathlib import Path

import pytest

from tui_proxy.sdk.runner import pool_key
from tui_proxy.config.settings import Settings, SettingsError, load_settings
from tui_proxy.wire import fields as F
from tui_proxy.wire.errors import ProxyError
from tui_proxy.wire.request import parse_messages_request
from tui_proxy.wire.stops import StopRules
from tui_proxy.wire.stream import MessageAccumulator, StreamTranslator

README = Path(__file__).parent.parent / "README.md"
TOOL = {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}


def body(**extra):
    return {"model": "claude-sonnet-4-5", "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}], **extra}


def refusal(data, headers=None, **kw) -> str:
    with pytest.raises(ProxyError) as info:
        parse_messages_request(data, headers, **kw)
    assert info.value.status == 400 and info.value.error_type == "invalid_request_error"
    return info.value.message


# -- the table and the README -------------------------------------------------------------

def test_readme_table_is_the_field_table():
    text = README.read_text()
    start, end = "<!-- fields:start -->\n", "\n<!-- fields:end -->"
    assert start in text and end in text, "README lacks the generated field table markers"
    table = text.split(start, 1)[1].split(end, 1)[0]
    assert table == F.markdown(), ("README's field table is stale: paste the output of "
                                   "`python3 -m tui_proxy.wire.fields`")


def test_every_row_has_a_known_status_and_a_reason():
    for table in (F.BODY, F.BLOCK, F.TOOL, F.SERVER_TOOLS, F.HEADERS, F.BETAS):
        for rule in table.values():
            assert rule.status in (F.HONOURED, F.EMULATED, F.ANNOUNCED, F.REFUSED), rule
            assert rule.reason, rule


def test_the_table_knows_every_top_level_field_of_the_official_sdk():
    """A new field in the anthropic SDK must get a row (here it would only be 'announced
    as unknown', which is not a decision)."""
    from anthropic.types.beta import message_create_params as beta
    from anthropic.types import message_create_params as ga

    sdk_fields = set(beta.MessageCreateParamsBase.__annotations__) | set(
        ga.MessageCreateParamsBase.__annotations__) | {"stream", "temperature", "top_p", "top_k"}
    headers_not_body = {"betas", "user_profile_id", "workspace_id"}  # sent as headers
    assert sdk_fields - headers_not_body - set(F.BODY) == set()


@pytest.mark.parametrize("name, undated", [
    ("web_search_20250305", "web_search"), ("context-1m-2025-08-07", "context-1m"),
    ("claude-code-20250219", "claude-code"), ("tool_search_tool_regex", "tool_search_tool_regex"),
    ("code_execution_20250825", "code_execution")])
def test_undated(name, undated):
    assert F.undated(name) == undated


def test_header_value_is_header_safe():
    assert F.header_value(["temperature", "tools[].strict", "x\r\ny"]) == \
        "temperature,tools[].strict,x??y"
    assert F.header_value([f"f{i}" for i in range(45)]).endswith(",+5")


# -- announced, refused -------------------------------------------------------------------

def test_unhonoured_fields_are_announced_in_order_once():
    request = parse_messages_request(body(
        temperature=0, top_p=0.9, top_k=5, speed="fast", service_tier="auto",
        inference_geo="eu", cache_control={"type": "ephemeral"}, container="c",
        context_management={"edits": []}, fallbacks=["claude-opus-4-5"], frobnicate=1,
        tools=[{**TOOL, "strict": True, "cache_control": {"type": "ephemeral"},
                "eager_input_streaming": True, "input_examples": [{}], "mystery": 1}]))
    assert request.ignored == [
        "temperature", "top_p", "top_k", "speed", "service_tier", "inference_geo",
        "cache_control", "container", "context_management", "fallbacks", "frobnicate",
        "tools[].strict", "tools[].cache_control", "tools[].eager_input_streaming",
        "tools[].input_examples", "tools[].mystery"]


def test_honoured_and_emulated_fields_are_not_announced():
    request = parse_messages_request(body(
        stream=True, system="s", metadata={"user_id": "u"}, stop_sequences=["X"],
        thinking={"type": "enabled", "budget_tokens": 2000, "display": "summarized"},
        output_config={"effort": "low", "format": {"type": "json_schema", "schema": {}},
                       "task_budget": {"type": "tokens", "total": 5000}},
        tools=[{**TOOL, "type": "custom", "defer_loading": True}],
        tool_choice={"type": "auto"}, thread={"type": "create"}),
        {"anthropic-beta": "context-1m-2025-08-07, structured-outputs-2025-11-13",
         "anthropic-version": "2023-06-01", "x-api-key": "k"})
    assert request.ignored == []
    assert (request.effort, request.task_budget, request.betas) == (
        "low", 5000, [F.CONTEXT_1M])
    assert request.output_format == {"type": "json_schema", "schema": {}}
    assert request.stop_sequences == ["X"] and request.tool_choice is None


def test_headers_betas_and_block_hints():
    request = parse_messages_request(
        body(system=[{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
             thinking={"type": "adaptive", "display": "updates", "block_binding": {}}),
        {"Anthropic-Beta": "token-efficient-tools-2025-02-19,interleaved-thinking-2025-05-14,"
                           "brand-new-2027-01-01", "anthropic-workspace-id": "wrk_1"})
    assert request.ignored == ["thinking.display=updates", "thinking.block_binding",
                               "anthropic-workspace-id",
                               "anthropic-beta:token-efficient-tools-2025-02-19",
                               "anthropic-beta:brand-new-2027-01-01", "cache_control"]


def test_reject_mode_names_the_fields():
    message = refusal(body(temperature=0, top_p=1), unsupported="reject")
    assert "temperature, top_p" in message and "unsupported_params" in message
    # nothing to announce: accepted in reject mode too
    parse_messages_request(body(stop_sequences=["x"]), unsupported="reject")


@pytest.mark.parametrize("extra, fragment", [
    ({"compaction": {"type": "compact"}}, "compaction: not supported"),
    ({"mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}]}, "mcp_servers"),
    ({"tools": [{"type": "code_execution_20250825", "name": "code_execution"}]},
     "'code_execution' (type 'code_execution_20250825')"),
    ({"tools": [{"type": "tool_search_tool_regex_20251119", "name": "tool_search"}]},
     "tool_search"),
    ({"tools": [{"type": "bash_20250124", "name": "bash"}]}, "'bash'"),
    ({"tools": [{"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}]},
     "str_replace_based_edit_tool"),
    ({"tools": [{"type": "computer_20251124", "name": "computer"}]}, "'computer'"),
    ({"tools": [{"type": "mcp_toolset", "name": "mcp", "mcp_server_name": "x"}]}, "mcp_toolset"),
    ({"tools": [{"type": "hologram_20300101", "name": "holo"}]}, "does not know"),
    ({"tool_choice": {"type": "tool", "name": "nope"}, "tools": [TOOL]},
     "'nope' is not one of the request's tools (get_weather)"),
    ({"tool_choice": {"type": "tool", "name": "nope"}}, "'nope' is not one of the request's "
                                                         "tools (it has none)"),
    ({"tool_choice": {"type": "tool", "name": "web_search"},
      "tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "cannot be forced"),
    ({"tool_choice": {"type": "any"}}, "needs client tools"),
    ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
    ({"stop_sequences": "STOP"}, "stop_sequences: must be a list"),
    ({"stop_sequences": [""]}, "stop_sequences.0"),
    ({"output_config": {"effort": "extreme"}}, "output_config.effort"),
    ({"output_config": {"format": {"type": "json_object"}}}, "output_config.format.type"),
    ({"output_format": {"type": "json_schema"}}, "output_format.schema"),
    ({"output_config": {"task_budget": {"type": "tokens", "total": 0}}}, "task_budget"),
    ({"thinking": {"type": "adaptive", "display": 3}}, "thinking.display"),
    ({"tools": [{"type": "web_fetch_20250910", "name": "web_fetch",
                 "allowed_domains": "example.com"}]}, "tools.0.allowed_domains"),
])
def test_refusals_name_the_field(extra, fragment):
    assert fragment in refusal(body(**extra))


def test_empty_refused_fields_are_harmless():
    assert parse_messages_request(body(mcp_servers=[], compaction=None)).ignored == []


# -- tools split by who runs them ---------------------------------------------------------

def test_client_and_server_tools_are_split():
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3,
              "allowed_domains": ["a.org"]}
    fetch = {"type": "web_fetch_20250910", "name": "web_fetch",
             "allowed_domains": ["example.com"], "blocked_domains": ["bad.example.com"],
             "citations": {"enabled": True}}
    request = parse_messages_request(body(tools=[TOOL, search, fetch]))
    assert request.client_tools == [TOOL]
    assert request.server_tools == [search, fetch]
    assert request.cli_tools == ["WebSearch", "WebFetch"]
    assert request.cli_allow == ["WebSearch", "WebFetch(domain:example.com)"]
    assert request.cli_deny == ["WebFetch(domain:bad.example.com)"]
    assert request.ignored == ["tools[web_search].max_uses",
                               "tools[web_search].allowed_domains",
                               "tools[web_fetch].citations"]


@pytest.mark.parametrize("choice, normal", [
    ({"type": "auto"}, None), ({"type": "auto", "disable_parallel_tool_use": True},
                               {"type": "auto", "disable_parallel_tool_use": True}),
    ({"type": "any", "disable_parallel_tool_use": False}, {"type": "any"}),
    ({"type": "tool", "name": "get_weather"}, {"type": "tool", "name": "get_weather"}),
    ({"type": "none"}, {"type": "none"})])
def test_tool_choice_is_normalised(choice, normal):
    assert parse_messages_request(body(tools=[TOOL], tool_choice=choice)).tool_choice == normal


def test_pool_key_includes_what_is_fixed_at_spawn(tmp_path):
    settings = Settings(cwd=str(tmp_path))
    base = body(tools=[TOOL])
    keys = {pool_key(settings, parse_messages_request(data, headers), "passthrough", None)
            for data, headers in [
                (base, None),
                ({**base, "output_config": {"effort": "low"}}, None),
                ({**base, "output_config": {"format": {"type": "json_schema", "schema": {}}}},
                 None),
                ({**base, "output_config": {"task_budget": {"total": 9}}}, None),
                (base, {"anthropic-beta": "context-1m-2025-08-07"}),
                ({**base, "tool_choice": {"type": "any"}}, None),
                ({**base, "tools": [TOOL, {"type": "web_search_20250305",
                                           "name": "web_search"}]}, None)]}
    assert len(keys) == 7
    # what is not fixed at spawn does not split the pool
    assert pool_key(settings, parse_messages_request({**base, "stop_sequences": ["x"],
                                                      "max_tokens": 7}), "passthrough", None) \
        == pool_key(settings, parse_messages_request(base), "passthrough", None)


def test_unsupported_params_setting(tmp_path):
    env = {"CLAUDE_PROXY_UNSUPPORTED_PARAMS": "reject", "CLAUDE_PROXY_CWD": str(tmp_path)}
    assert load_settings(env=env, config_file=None).unsupported_params == "reject"
    assert Settings().unsupported_params == "announce"
    with pytest.raises(SettingsError, match="unsupported_params"):
        load_settings(env={**env, "CLAUDE_PROXY_UNSUPPORTED_PARAMS": "ignore"})


# -- the stop rules in the translator ------------------------------------------------------

def stream_events(*texts, block_type="text"):
    """One API call's raw SDK events: one text block made of these deltas."""
    events = [{"type": "message_start", "message": {"usage": {"input_tokens": 3}}},
              {"type": "content_block_start", "index": 0,
               "content_block": {"type": block_type, block_type: ""}}]
    events += [{"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": t}} for t in texts]
    events += [{"type": "content_block_stop", "index": 0},
               {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": len(texts)}}]
    return events


def run(rules, events, **kw):
    translator = StreamTranslator("m", forward_thinking=False, **kw)
    translator.rules = rules
    out = []
    for event in events:
        out += translator.feed(event)
        if translator.cut is not None:
            break
    cut = translator.cut
    out += translator.finish(cut.reason if cut else "end_turn", None,
                             cut.sequence if cut else None)
    acc = MessageAccumulator()
    for event in out:
        acc.feed(event)
    return translator, out, acc.message


def text_of(message):
    return "".join(b.get("text", "") for b in message["content"] if b["type"] == "text")


def test_stop_sequence_spanning_deltas_is_never_sent():
    translator, out, message = run(StopRules(stop_sequences=["END"]),
                                   stream_events("one E", "N", "D two"))
    assert text_of(message) == "one "
    assert message["stop_reason"] == "stop_sequence" and message["stop_sequence"] == "END"
    sent = "".join(e["delta"].get("text", "") for e in out if e["type"] == "content_block_delta")
    assert "E" not in sent.replace("one ", "", 1), "held-back text leaked before the match"


def test_held_back_prefix_is_released_when_it_is_no_match():
    _, out, message = run(StopRules(stop_sequences=["END"]), stream_events("a E", "x", " EN"))
    assert text_of(message) == "a Ex EN" and message["stop_reason"] == "end_turn"
    deltas = [e["delta"]["text"] for e in out if e["type"] == "content_block_delta"]
    assert deltas == ["a ", "Ex", " ", "EN"]  # 'E' waited for 'x'; 'EN' for the block's end


def test_the_sequence_completing_first_wins():
    _, _, message = run(StopRules(stop_sequences=["abcd", "bc"]), stream_events("xab", "cd"))
    assert text_of(message) == "xa" and message["stop_sequence"] == "bc"


def test_max_tokens_cuts_the_delta_at_the_estimate():
    _, _, message = run(StopRules(max_tokens=3), stream_events("0123456789", "abcdef"))
    assert text_of(message) == "0123456789ab"  # 3 tokens x 4 characters
    assert message["stop_reason"] == "max_tokens"


def test_thinking_the_client_did_not_ask_for_does_not_count():
    events = stream_events("xxxxxxxxxxxxxxxxxxxx", block_type="thinking")
    events[2]["delta"] = {"type": "thinking_delta", "thinking": "x" * 40}
    events = events[:-1] + stream_events("hello")[1:]
    _, _, message = run(StopRules(max_tokens=2), events)
    assert text_of(message) == "hello" and message["stop_reason"] == "end_turn"


def tool_call(index, name, args='{"a": 1}'):
    return [{"type": "content_block_start", "index": index,
             "content_block": {"type": "tool_use", "id": f"toolu_{index}", "name": name,
                               "input": {}}},
            {"type": "content_block_delta", "index": index,
             "delta": {"type": "input_json_delta", "partial_json": args}},
            {"type": "content_block_stop", "index": index}]


def tool_events(*names):
    events = [{"type": "message_start", "message": {"usage": {}}}]
    for i, name in enumerate(names):
        events += tool_call(i, "mcp__client__" + name)
    return events + [{"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                      "usage": {"output_tokens": 9}}]


PASSTHROUGH = dict(forward_types=frozenset({"text", "tool_use"}),
                   tool_name=lambda n: n.removeprefix("mcp__client__"),
                   forward_tool=lambda n: n.startswith("mcp__client__"))


@pytest.mark.parametrize("choice, names, kept, reason", [
    ({"type": "tool", "name": "b"}, ["a", "b", "c"], ["a", "b"], "tool_use"),
    ({"type": "any"}, ["a", "b"], ["a"], "tool_use"),
    ({"type": "auto", "disable_parallel_tool_use": True}, ["a", "b"], ["a"], "tool_use"),
    ({"type": "none"}, ["a"], [], "end_turn"),
    ({"type": "tool", "name": "a"}, ["a"], ["a"], None),  # ends there by itself: no cut
])
def test_tool_choice_rules(choice, names, kept, reason):
    translator, _, message = run(StopRules(tool_choice=choice), tool_events(*names),
                                 **PASSTHROUGH)
    assert [b["name"] for b in message["content"]] == kept
    assert (translator.cut.reason if translator.cut else None) == reason
    assert all(b["input"] == {"a": 1} for b in message["content"])


def test_synthetic_text_obeys_stop_sequences_but_not_max_tokens_twice():
    translator = StreamTranslator("m", forward_thinking=False, forward_types=frozenset())
    translator.rules = StopRules(stop_sequences=["}"], max_tokens=1)
    events = translator.synthetic_text('{"a": 1}')
    assert [e["delta"]["text"] for e in events if e["type"] == "content_block_delta"] == \
        ['{"a": 1']
    assert translator.cut.reason == "stop_sequence"
