"""Message threads: the official SDKs' tool runners send ``thread: create`` then ``continue``.

The real ``anthropic`` SDK's ``beta.messages.tool_runner`` with a ``@beta_tool`` function runs
against the in-process proxy on the fake CLI. A continue carries only the tool_result and no
tools; the proxy expands it from its thread map, so the parked CLI run takes the result and
one CLI process serves the whole loop."""

import asyncio
import json

import aiohttp
import anthropic
import pytest
from anthropic import beta_tool

from conftest import read_log, wait_no_fake_alive
from sse_grammar import check_stream
from tui_proxy.http.threads import ThreadError, ThreadMap

MODEL = "claude-sonnet-5-5"
BETA = {"anthropic-beta": "message-threads-2026-08-12"}
LOOKUP = {"name": "lookup", "description": "Look a key up",
          "input_schema": {"type": "object", "properties": {"key": {"type": "string"}},
                           "required": ["key"]}}


def starts_since(mark):
    return [e for e in read_log()[mark:] if e.get("event") == "start"]


def user_frames_since(mark):
    return [e["frame"] for e in read_log()[mark:] if e.get("event") == "stdin"
            and e["frame"].get("type") == "user"]


def notes(proxy):
    return [e.message for e in proxy.collect() if e.kind == "note"]


def make_lookup(calls):
    @beta_tool
    def lookup(key: str) -> str:
        """Look a key up.

        Args:
            key: the key to look up
        """
        calls.append(key)
        return f"value-of-{key}"

    return lookup


def run_tool_runner(url, tool, *, stream, prompt='FAKE:call=lookup{"key":"k1"}', sent=None):
    """The tool loop as a user writes it, on the sync client (in a worker thread)."""

    def record(request):
        if sent is not None:
            sent.append((dict(request.headers), json.loads(request.content or b"{}")))

    client = anthropic.Anthropic(base_url=url, api_key="dummy", max_retries=0, timeout=30,
                                 http_client=anthropic.DefaultHttpxClient(
                                     event_hooks={"request": [record]}))
    runner = client.beta.messages.tool_runner(
        model=MODEL, max_tokens=200, system="Answer briefly.", tools=[tool], stream=stream,
        messages=[{"role": "user", "content": prompt}])
    replies = []
    for item in runner:
        replies.append(item.get_final_message() if stream else item)
    return replies


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_tool_runner_loop_runs_on_one_cli_process(start_proxy, stream):
    # No warm pool: once the loop is done, no CLI may be left (the parked one included).
    proxy = await start_proxy(pool_size=0)
    mark = len(read_log())
    calls, sent = [], []
    replies = await asyncio.to_thread(run_tool_runner, proxy.url, make_lookup(calls),
                                      stream=stream, sent=sent)

    assert calls == ["k1"], "the runner ran the tool once, with the model's input"
    assert [r.stop_reason for r in replies] == ["tool_use", "end_turn"]
    assert replies[-1].content[0].text == "Tool mcp__client__lookup returned: value-of-k1"
    assert len(starts_since(mark)) == 1, "the parked run must be continued, not a fresh session"
    frames = user_frames_since(mark)
    assert len(frames) == 1, "the tool result answers the parked call; nothing is resent"
    assert await wait_no_fake_alive() == [], "no CLI may be left waiting"

    # What the runner really sent: create with everything, then continue with the result only.
    (h1, b1), (h2, b2) = sent
    assert "message-threads-2026-08-12" in h1.get("anthropic-beta", "")
    assert b1["thread"] == {"type": "create"} and b1["tools"] and b1["system"]
    assert b2["thread"] == {"type": "continue", "previous_message_id": replies[0].id}
    assert "tools" not in b2 and "system" not in b2
    assert [m["role"] for m in b2["messages"]] == ["user"]
    assert b2["messages"][0]["content"][0]["type"] == "tool_result"

    assert any(n.startswith(f"thread continue of {replies[0].id}") for n in notes(proxy))
    assert "thread create" in " ".join(notes(proxy))
    assert "resumed" in proxy.kinds()
    states = [e.state for e in proxy.collect() if e.kind == "finished"]
    assert states == ["done", "done"]


async def test_async_tool_runner_with_parallel_calls(start_proxy):
    proxy = await start_proxy(pool_size=0)
    mark = len(read_log())
    calls = []

    @anthropic.beta_async_tool
    async def lookup(key: str) -> str:
        """Look a key up.

        Args:
            key: the key to look up
        """
        calls.append(key)
        return f"value-of-{key}"

    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="dummy", max_retries=0,
                                      timeout=30)
    runner = client.beta.messages.tool_runner(
        model=MODEL, max_tokens=200, tools=[lookup], stream=True, messages=[
            {"role": "user", "content": 'FAKE:call=lookup{"key":"a"};lookup{"key":"b"}'}])
    replies = [await stream.get_final_message() async for stream in runner]
    assert sorted(calls) == ["a", "b"]
    assert [r.stop_reason for r in replies] == ["tool_use", "end_turn"]
    assert replies[-1].content[0].text == ("Tool mcp__client__lookup returned: value-of-a; "
                                           "Tool mcp__client__lookup returned: value-of-b")
    assert len(starts_since(mark)) == 1
    assert await wait_no_fake_alive() == []


async def test_tool_runner_recovers_when_the_proxy_forgot_the_thread(start_proxy):
    """A forgotten thread is a 400 the SDK understands (thread_not_found): it replays the full
    conversation under a new thread, whose tool result still answers the parked run."""
    proxy = await start_proxy(pool_size=0)
    mark = len(read_log())
    calls = []

    @beta_tool
    def lookup(key: str) -> str:
        """Look a key up.

        Args:
            key: the key to look up
        """
        calls.append(key)
        ThreadMap.of(proxy.engine).clear()  # as after a restart of the map (or its bound)
        return f"value-of-{key}"

    sent = []
    replies = await asyncio.to_thread(run_tool_runner, proxy.url, lookup, stream=False,
                                      sent=sent)
    assert calls == ["k1"]
    assert replies[-1].content[0].text == "Tool mcp__client__lookup returned: value-of-k1"
    assert [b["thread"]["type"] for _, b in sent] == ["create", "continue", "create"]
    assert len(sent[2][1]["messages"]) == 3 and sent[2][1]["tools"], "the full replay"
    assert len(starts_since(mark)) == 1
    failed = [e for e in proxy.collect() if e.kind == "error"]
    assert [(e.status, e.error_class) for e in failed] == [(400, "thread_not_found")]
    assert await wait_no_fake_alive() == []


async def post(session, url, body, headers=BETA):
    async with session.post(url + "/v1/messages", json=body, headers=headers) as resp:
        if body.get("stream") and resp.status == 200:
            return resp.status, check_stream(await resp.read(), expect_error=False)
        return resp.status, await resp.json()


async def test_raw_create_continue_and_a_follow_up_turn(start_proxy, tmp_path):
    proxy = await start_proxy(journal_dir=str(tmp_path / "journal"))
    mark = len(read_log())
    async with aiohttp.ClientSession() as session:
        status, first = await post(session, proxy.url, {
            "model": MODEL, "max_tokens": 100, "system": "Be brief.", "tools": [LOOKUP],
            "metadata": {"user_id": "u1"}, "thread": {"type": "create"},
            "messages": [{"role": "user", "content": 'FAKE:call=lookup{"key":"a"}'}]})
        assert status == 200 and first["stop_reason"] == "tool_use"
        use = first["content"][-1]
        assert use["type"] == "tool_use" and use["name"] == "lookup"

        status, second = await post(session, proxy.url, {
            "model": MODEL, "max_tokens": 100, "stream": True,
            "thread": {"type": "continue", "previous_message_id": first["id"]},
            "messages": [{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": use["id"], "content": "AAA"}]}]})
        assert status == 200
        assert second.text == "Tool mcp__client__lookup returned: AAA"
        second_id = second.events[0]["message"]["id"]

        # A plain follow-up on the thread: the conversation map continues the same session.
        status, third = await post(session, proxy.url, {
            "model": MODEL, "max_tokens": 100,
            "thread": {"type": "continue", "previous_message_id": second_id},
            "messages": [{"role": "user", "content": "FAKE:recall"}]})
        assert status == 200
        assert third["content"][0]["text"].startswith("History: FAKE:call=lookup")
    assert len(starts_since(mark)) == 1, "create, continue and follow-up on one CLI process"
    frames = user_frames_since(mark)
    assert len(frames) == 2 and "FAKE:recall" in json.dumps(frames[-1])
    assert "conversation" not in json.dumps(frames[-1]), "only the new turn is sent"
    messages = notes(proxy)
    assert any(n.startswith(f"thread continue of {first['id']}: 2 earlier") for n in messages)
    assert any(n.startswith(f"thread continue of {second_id}: 4 earlier") for n in messages)
    assert any("system and tools inherited" in n for n in messages)
    assert any("continues conversation" in n for n in messages)

    await proxy.server.stop()  # flushes the journal
    lines = [json.loads(line) for path in (tmp_path / "journal").glob("journal-*.jsonl")
             for line in path.read_text().splitlines() if line.strip()]
    journalled = {r["flow_id"]: [e["message"] for e in r["events"] if e["kind"] == "note"]
                  for r in lines if r["record"] == "end"}
    assert any(n.startswith("thread create") for n in journalled[1])
    assert any(n.startswith(f"thread continue of {first['id']}") for n in journalled[2])


async def test_unknown_previous_message_id_is_a_clear_400(proxy):
    mark = len(read_log())
    async with aiohttp.ClientSession() as session:
        status, body = await post(session, proxy.url, {
            "model": MODEL, "max_tokens": 100,
            "thread": {"type": "continue", "previous_message_id": "msg_nosuchthing"},
            "messages": [{"role": "user", "content": "hello"}]})
    assert status == 400
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "msg_nosuchthing" in body["error"]["message"]
    assert body["error"]["details"] == {"error_code": "thread_not_found"}
    assert starts_since(mark) == [], "never a silent fresh start"
    finished = [e for e in proxy.collect() if e.kind == "finished"]
    assert [e.state for e in finished] == ["error"]


@pytest.mark.parametrize("thread, field", [
    ("continue", "thread"), ({"type": "fork"}, "thread"),
    ({"type": "continue"}, "thread.previous_message_id"),
    ({"type": "continue", "previous_message_id": 7}, "thread.previous_message_id")])
async def test_malformed_thread_is_refused_naming_the_field(proxy, thread, field):
    async with aiohttp.ClientSession() as session:
        status, body = await post(session, proxy.url, {
            "model": MODEL, "max_tokens": 100, "thread": thread,
            "messages": [{"role": "user", "content": "hello"}]})
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith(field + ":")


async def test_bad_new_message_of_a_continue_names_its_own_index(proxy):
    async with aiohttp.ClientSession() as session:
        status, first = await post(session, proxy.url, {
            "model": MODEL, "max_tokens": 100, "thread": {"type": "create"},
            "messages": [{"role": "user", "content": "hi"}]})
        assert status == 200
        continued = {"type": "continue", "previous_message_id": first["id"]}
        status, body = await post(session, proxy.url, {
            "model": MODEL, "max_tokens": 100, "thread": continued,
            "messages": [{"role": "user", "content": [{"type": "bogus"}]}]})
        assert status == 400 and body["error"]["message"].startswith("messages.0.content.0")
        status, body = await post(session, proxy.url, {
            "model": MODEL, "max_tokens": 100, "thread": continued, "messages": []})
        assert status == 400 and "at least one new message" in body["error"]["message"]


async def test_a_turn_that_failed_midway_cannot_be_continued(proxy):
    """Its message_start (with the id) went out, its message never ended: nothing to continue."""
    async with aiohttp.ClientSession() as session:
        async with session.post(proxy.url + "/v1/messages", headers=BETA, json={
                "model": MODEL, "max_tokens": 100, "stream": True, "thread": {"type": "create"},
                "messages": [{"role": "user", "content": "FAKE:crash=3 one two three"}]}) as resp:
            failed = check_stream(await resp.read(), expect_error=True)
        failed_id = failed.events[0]["message"]["id"]
        status, body = await post(session, proxy.url, {
            "model": MODEL, "max_tokens": 100,
            "thread": {"type": "continue", "previous_message_id": failed_id},
            "messages": [{"role": "user", "content": "go on"}]})
    assert status == 400 and failed_id in body["error"]["message"]
    assert body["error"]["details"]["error_code"] == "thread_not_found"
    assert len(ThreadMap.of(proxy.engine)) == 0


# -- the map itself ---------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def create(threads, text="hi", **extra):
    body = {"model": MODEL, "thread": {"type": "create"},
            "messages": [{"role": "user", "content": text}], **extra}
    return threads.begin(body)


def reply(text):
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def continue_(threads, previous, text="more", **extra):
    return threads.begin({"model": MODEL, "messages": [{"role": "user", "content": text}],
                          "thread": {"type": "continue", "previous_message_id": previous},
                          **extra})


def test_map_expands_inherits_and_lets_the_request_override():
    threads = ThreadMap()
    assert threads.begin({"model": MODEL, "messages": []}) is None
    turn = create(threads, system="S", tools=[LOOKUP], max_tokens=9, stream=True)
    assert "thread" not in turn.body and turn.body["stream"] is True
    turn.commit("msg_1", reply("one"))
    nxt = continue_(threads, "msg_1", max_tokens=5)
    assert nxt.body["system"] == "S" and nxt.body["tools"] == [LOOKUP]
    assert nxt.body["max_tokens"] == 5 and "stream" not in nxt.body
    assert [m["role"] for m in nxt.body["messages"]] == ["user", "assistant", "user"]
    nxt.commit("msg_2", reply("two"))
    third = continue_(threads, "msg_2", tools=[{"name": "other"}])
    assert third.body["tools"] == [{"name": "other"}] and "tools" not in third.note
    assert [m["content"] for m in third.body["messages"][:4]] == [
        "hi", reply("one")["content"], "more", reply("two")["content"]]


def test_map_continuing_an_earlier_turn_forks_and_keeps_both():
    threads = ThreadMap()
    create(threads).commit("msg_1", reply("one"))
    continue_(threads, "msg_1", "a").commit("msg_a", reply("A"))
    continue_(threads, "msg_1", "b").commit("msg_b", reply("B"))  # a retry or a fork
    on_a = continue_(threads, "msg_a").body["messages"]
    on_b = continue_(threads, "msg_b").body["messages"]
    assert [m["content"] for m in on_a][2] == "a" and [m["content"] for m in on_b][2] == "b"
    assert len(threads) == 2


def test_map_forgets_idle_threads_and_stays_within_its_bounds():
    clock = Clock()
    threads = ThreadMap(max_threads=2, max_bytes=10_000, idle_s=60, clock=clock)
    for i in range(3):
        create(threads, f"t{i}").commit(f"msg_{i}", reply("r"))
    assert "msg_0" not in threads and "msg_1" in threads and "msg_2" in threads
    clock.now += 30
    continue_(threads, "msg_1")  # a continue keeps its thread alive
    clock.now += 40
    create(threads).commit("msg_3", reply("r"))
    assert "msg_2" not in threads and "msg_1" in threads and "msg_3" in threads
    with pytest.raises(ThreadError, match="msg_2"):
        continue_(threads, "msg_2")
    create(threads, "x" * 20_000).commit("msg_big", reply("r"))
    assert "msg_big" not in threads and threads.size <= threads.max_bytes


def test_map_discarded_turn_is_gone_and_its_thread_goes_on():
    threads = ThreadMap()
    create(threads).commit("msg_1", reply("one"))
    turn = continue_(threads, "msg_1")
    turn.commit("msg_2", reply("two"))
    turn.discard()
    assert "msg_2" not in threads and "msg_1" in threads
    assert len(continue_(threads, "msg_1").body["messages"]) == 3
    first = create(threads)
    first.commit("msg_solo", reply("x"))
    first.discard()
    assert "msg_solo" not in threads and len(threads) == 1

