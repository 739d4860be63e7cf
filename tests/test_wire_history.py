"""History construction: structure kept, no Human:/Assistant: script, resume sends only new
turns."""

from tui_proxy.wire.history import build_prompt, split_new_turns

IMG = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
DOC = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"},
       "title": "t", "cache_control": {"type": "ephemeral"}}


def texts(blocks):
    return "".join(b["text"] for b in blocks if b["type"] == "text")


def test_single_turn_is_sent_as_is_with_media_blocks():
    blocks = build_prompt([{"role": "user", "content": [
        {"type": "text", "text": "look"}, IMG, DOC]}], session_has_history=False)
    assert blocks[0] == {"type": "text", "text": "look"}
    assert blocks[1] == IMG
    assert blocks[2] == {k: DOC[k] for k in ("type", "source", "title")}  # cache_control dropped


def test_string_content_becomes_a_text_block():
    assert build_prompt([{"role": "user", "content": "hello"}], session_has_history=False) == [
        {"type": "text", "text": "hello"}]


def test_resumed_session_sends_only_new_turns():
    messages = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "reply"},
                {"role": "user", "content": "second"}]
    assert build_prompt(messages, session_has_history=True) == [{"type": "text", "text": "second"}]


def test_fresh_session_gets_a_delimited_record_not_a_dialogue_script():
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "what is in this?"}, IMG]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "secret", "signature": "sig"},
            {"type": "text", "text": "a cat"},
            {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"p": "a"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
             "content": [{"type": "text", "text": "nope"}, IMG]},
            {"type": "text", "text": "and now?"}]},
    ]
    blocks = build_prompt(messages, session_has_history=False)
    text = texts(blocks)
    assert "Human:" not in text and "Assistant:" not in text
    assert text.startswith("<conversation_history>")
    assert "<user_turn>" in text and "<assistant_turn>" in text
    assert '<tool_use id="toolu_1" name="read">{"p": "a"}</tool_use>' in text
    assert '<tool_result tool_use_id="toolu_1" is_error="true">' in text
    assert "secret" not in text  # earlier thinking is dropped
    assert text.rstrip().endswith("and now?\n</new_message>")
    assert [b for b in blocks if b["type"] == "image"] == [IMG, IMG]  # images stay images
    assert text.index("</conversation_history>") < text.index("and now?")


def test_split_new_turns_takes_trailing_user_messages():
    msgs = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"}, {"role": "user", "content": "d"}]
    earlier, new = split_new_turns(msgs)
    assert [m["content"] for m in earlier] == ["a", "b"]
    assert [m["content"] for m in new] == ["c", "d"]


def test_empty_text_is_not_sent_as_an_empty_block():
    blocks = build_prompt([{"role": "user", "content": ""}], session_has_history=False)
    assert blocks and all(b.get("text") for b in blocks if b["type"] == "text")
