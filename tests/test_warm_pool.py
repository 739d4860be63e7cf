"""Warm CLI processes: follow-up turns and new conversations skip the CLI's start-up."""

import asyncio

from conftest import eventually, live_fake_pids, read_log, wait_no_fake_alive

MODEL = "claude-sonnet-5-5"


def entries_since(mark, event):
    return [e for e in read_log()[mark:] if e.get("event") == event]


async def turn(client, messages, **kwargs):
    raw = await client.messages.with_raw_response.create(
        model=kwargs.pop("model", MODEL), max_tokens=50, messages=messages, **kwargs)
    return await raw.parse(), raw.headers["X-Claude-Session-ID"]


async def test_follow_up_turn_runs_on_the_warm_process(proxy, anthropic_client):
    messages = [{"role": "user", "content": "remember KIWI"}]
    first, session = await turn(anthropic_client, messages)
    pid = entries_since(0, "start")[-1]["pid"]
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": "FAKE:recall"}]
    mark = len(read_log())
    second, same = await turn(anthropic_client, messages, model="claude-opus-5-5")
    assert same == session and second.content[0].text == "History: remember KIWI"
    assert entries_since(mark, "start") == [], "a warm follow-up must not start a CLI"
    frames = [e for e in entries_since(mark, "stdin")]
    assert {e["pid"] for e in frames} == {pid}
    control = [e["frame"]["request"] for e in frames if e["frame"].get("type") == "control_request"]
    assert {"subtype": "set_model", "model": "claude-opus-5-5"}.items() <= control[0].items()
    assert any("warm process" in e.message for e in proxy.collect() if e.kind == "note")
    assert proxy.engine.conversations.by_session[session].state == "live"


async def test_spare_process_serves_the_next_new_conversation(start_proxy):
    import anthropic

    proxy = await start_proxy(spare_process=True)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    await turn(client, [{"role": "user", "content": "first conversation"}])
    for _ in range(100):  # the spare starts in the background
        if proxy.engine.pool._spare is not None:
            break
        await asyncio.sleep(0.02)
    spare_pid = proxy.engine.pool._spare.live.pid
    mark = len(read_log())
    reply, _ = await turn(client, [{"role": "user", "content": "second conversation"}])
    assert reply.content[0].text == "You said: second conversation"
    used = [e for e in entries_since(mark, "stdin") if e["frame"].get("type") == "user"]
    assert used[0]["pid"] == spare_pid
    assert any("spare" in e.message for e in proxy.collect() if e.kind == "note")


async def test_changed_spawn_options_do_not_reuse_the_process(proxy, anthropic_client):
    messages = [{"role": "user", "content": "hello"}]
    first, session = await turn(anthropic_client, messages, system="You are A.")
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": "FAKE:recall"}]
    mark = len(read_log())
    second, same = await turn(anthropic_client, messages, system="You are B.")
    starts = entries_since(mark, "start")
    assert len(starts) == 1 and f"--resume={session}" in starts[0]["argv"]
    assert second.content[0].text == "History: hello"


async def test_pool_is_bounded_and_idle_processes_end(start_proxy):
    import anthropic

    proxy = await start_proxy(pool_size=1, pool_idle_s=1)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    _, s1 = await turn(client, [{"role": "user", "content": "one"}])
    _, s2 = await turn(client, [{"role": "user", "content": "two"}])
    await eventually(lambda: len(live_fake_pids()) == 1, what="LRU eviction")
    assert len(proxy.engine.pool) == 1  # LRU evicted one
    assert proxy.engine.conversations.by_session[s1].state == "idle"
    assert await wait_no_fake_alive(2.5) == [], "idle warm process outlived pool_idle_s"
    assert proxy.engine.conversations.by_session[s2].state == "idle"
