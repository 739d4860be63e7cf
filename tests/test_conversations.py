"""Conversation continuity without any header: a client that resends its history keeps
one SDK session and sends only the new turns; retries, edits and look-alike conversations
never continue the wrong session."""

import asyncio
import json
import os
import re
from pathlib import Path

import pytest

from conftest import read_log
from tui_proxy.core.conversations import history_hash, message_hash

MODEL = "claude-sonnet-5-5"


@pytest.fixture
async def proxy(start_proxy):
    """No warm processes here: every continuation must go through --resume."""
    return await start_proxy(pool_size=0)


def cli_transcript(cwd: str, session: str) -> str:
    """Where the CLI writes a session's transcript: $CLAUDE_CONFIG_DIR/projects/<its cwd, every
    character but letters and digits as '-'>/<session>.jsonl (the tests set CLAUDE_CONFIG_DIR)."""
    project = re.sub(r"[^A-Za-z0-9]", "-", os.path.realpath(cwd))
    return str(Path(os.environ["CLAUDE_CONFIG_DIR"]) / "projects" / project / f"{session}.jsonl")


def starts_since(mark):
    return [e for e in read_log()[mark:] if e.get("event") == "start"]


def user_frames_since(mark):
    return [e["frame"] for e in read_log()[mark:] if e.get("event") == "stdin"
            and e["frame"].get("type") == "user"]


def resumed_id(start):
    for arg in start["argv"]:
        if arg.startswith("--resume="):
            return arg.split("=", 1)[1]
    return None


async def turn(client, messages):
    reply = await client.messages.with_raw_response.create(model=MODEL, max_tokens=50,
                                                           messages=messages)
    message = await reply.parse()
    return message, reply.headers["X-Claude-Session-ID"]


async def test_multi_turn_conversation_keeps_one_session_and_sends_only_new_turns(
        proxy, anthropic_client):
    messages = [{"role": "user", "content": "remember PINEAPPLE"}]
    first, session = await turn(anthropic_client, messages)
    for word in ("MANGO", "FAKE:recall what came before?"):
        messages += [{"role": "assistant", "content": first.content},
                     {"role": "user", "content": word}]
        mark = len(read_log())
        first, same = await turn(anthropic_client, messages)
        assert same == session
        assert resumed_id(starts_since(mark)[0]) == session
        frames = user_frames_since(mark)
        assert len(frames) == 1
        assert json.dumps(frames[0]["message"]["content"]) == json.dumps(
            [{"type": "text", "text": word}]), "only the new turn is sent"
    assert first.content[0].text == "History: remember PINEAPPLE | MANGO"
    conv = proxy.engine.conversations.by_session[session]
    assert conv.state == "idle" and conv.turns == 3
    assert conv.transcript == cli_transcript(proxy.engine.settings.cwd, session)


async def test_identical_replay_is_not_a_continuation(proxy, anthropic_client):
    messages = [{"role": "user", "content": "hello"}]
    first, session = await turn(anthropic_client, messages)
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": "FAKE:recall second"}]
    second, s2 = await turn(anthropic_client, messages)
    assert s2 == session and second.content[0].text == "History: hello"
    mark = len(read_log())
    retry, s3 = await turn(anthropic_client, messages)  # the client retries the same request
    seeded = resumed_id(starts_since(mark)[0])
    assert seeded != session and s3 != session, "a retry must not extend the session"
    # the new session was seeded with the exact earlier turns as a transcript it resumed
    loaded = [e for e in read_log()[mark:] if e.get("event") == "transcript_resumed"]
    assert [m["role"] for m in loaded[0]["messages"]] == ["user", "assistant"]
    assert loaded[0]["session"] == seeded == s3
    assert json.dumps(user_frames_since(mark)[0]["message"]["content"]) == json.dumps(
        [{"type": "text", "text": "FAKE:recall second"}]), "only the new turn is sent"
    assert retry.content[0].text == "History: hello"


async def test_without_seeding_the_history_travels_as_a_record(start_proxy):
    import anthropic
    proxy = await start_proxy(pool_size=0, seed_history=False)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    mark = len(read_log())
    reply = await client.messages.create(model=MODEL, max_tokens=50, messages=[
        {"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"},
        {"role": "user", "content": "FAKE:recall"}])
    assert resumed_id(starts_since(mark)[0]) is None
    assert "conversation_history" in json.dumps(user_frames_since(mark)[0])
    assert reply.content[0].text == "History: (empty)"


async def test_edited_history_starts_fresh(proxy, anthropic_client):
    messages = [{"role": "user", "content": "one"}]
    first, session = await turn(anthropic_client, messages)
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": "two"}]
    second, _ = await turn(anthropic_client, messages)
    edited = [{"role": "user", "content": "one (edited)"},
              {"role": "assistant", "content": first.content},
              {"role": "user", "content": "FAKE:recall two"}]
    mark = len(read_log())
    reply, s3 = await turn(anthropic_client, edited)
    assert resumed_id(starts_since(mark)[0]) != session and s3 != session
    assert reply.content[0].text == "History: one (edited)", "the edit, not the original"


async def test_two_conversations_with_the_same_first_message_never_cross(
        proxy, anthropic_client):
    async def conversation(word):
        messages = [{"role": "user", "content": "hello"}]
        reply, s1 = await turn(anthropic_client, messages)
        messages += [{"role": "assistant", "content": reply.content},
                     {"role": "user", "content": f"remember {word}"}]
        reply, s2 = await turn(anthropic_client, messages)
        messages += [{"role": "assistant", "content": reply.content},
                     {"role": "user", "content": "FAKE:recall"}]
        reply, s3 = await turn(anthropic_client, messages)
        return reply.content[0].text, {s1, s2, s3}

    for _ in range(3):
        (apple, sessions_a), (banana, sessions_b) = await asyncio.gather(
            conversation("APPLE"), conversation("BANANA"))
        assert apple == "History: hello | remember APPLE"
        assert banana == "History: hello | remember BANANA"
        # While both histories are identical ("hello" + the same reply) either session may
        # serve either conversation; once they differ, each keeps its own.
        assert len(sessions_a | sessions_b) == 2


async def test_metadata_user_id_keeps_look_alike_conversations_apart(proxy, anthropic_client):
    async def first_turn(user):
        raw = await anthropic_client.messages.with_raw_response.create(
            model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "hello"}],
            metadata={"user_id": user})
        return await raw.parse(), raw.headers["X-Claude-Session-ID"]

    (ra, sa), (rb, sb) = await asyncio.gather(first_turn("user-a"), first_turn("user-b"))
    for user, reply, session in (("user-a", ra, sa), ("user-b", rb, sb)):
        raw = await anthropic_client.messages.with_raw_response.create(
            model=MODEL, max_tokens=50, metadata={"user_id": user}, messages=[
                {"role": "user", "content": "hello"},
                {"role": "assistant", "content": reply.content},
                {"role": "user", "content": "next"}])
        assert raw.headers["X-Claude-Session-ID"] == session


async def test_header_session_wins_over_the_map(proxy, anthropic_client):
    a, sa = await turn(anthropic_client, [{"role": "user", "content": "alpha"}])
    b, sb = await turn(anthropic_client, [{"role": "user", "content": "beta"}])
    # history of conversation b, but the header names a's session
    messages = [{"role": "user", "content": "beta"}, {"role": "assistant", "content": b.content},
                {"role": "user", "content": "FAKE:recall"}]
    reply = await anthropic_client.messages.create(
        model=MODEL, max_tokens=50, messages=messages, extra_headers={"X-Claude-Session-ID": sa})
    assert reply.content[0].text == "History: alpha"


def test_hash_ignores_cache_hints_thinking_and_block_splits():
    a = {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "x", "signature": "s"},
        {"type": "text", "text": "Hello "}, {"type": "text", "text": "world"}]}
    b = {"role": "assistant", "content": [{"type": "text", "text": "Hello world\n",
                                           "cache_control": {"type": "ephemeral"}}]}
    assert message_hash(a) == message_hash(b)
    assert message_hash({"role": "user", "content": "hi"}) != message_hash(
        {"role": "assistant", "content": "hi"})
    assert history_hash("chat", [a]) != history_hash("agent", [a])


async def test_a_passthrough_sessions_transcript_is_where_its_cli_runs(proxy, anthropic_client,
                                                                     tmp_path):
    """Passthrough runs the CLI in the client's project, not the proxy's cwd: so is the path."""
    project = tmp_path / "client-project"
    project.mkdir()
    reply = await anthropic_client.messages.with_raw_response.create(
        model=MODEL, max_tokens=50, system=f"<env>\n  Working directory: {project}\n</env>",
        tools=[{"name": "read", "description": "read a file",
                "input_schema": {"type": "object", "properties": {}}}],
        messages=[{"role": "user", "content": "hi"}])
    session = reply.headers["x-claude-session-id"]
    conv = proxy.engine.conversations.by_session[session]
    assert conv.transcript == cli_transcript(str(project), session)
