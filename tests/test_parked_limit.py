"""Parked runs are bounded (issue 13 item 4): each one is a live CLI waiting for a client's
tool results. Beyond ``max_parked`` the oldest is released with a note on both flows, its
flow ends cancelled (``parked_limit``), and the client that later sends its tool result still
gets the right answer: a fresh CLI resumes the turn from the exact history (seed.py)."""

import aiohttp
import anthropic

from conftest import eventually, live_fake_pids, read_log

MODEL = "claude-sonnet-5-5"
TOOLS = [{"name": "read_file", "description": "Read a file",
          "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]


async def park(client, path):
    messages = [{"role": "user", "content": f'FAKE:call=read_file{{"path":"{path}"}}'}]
    first = await client.messages.create(model=MODEL, max_tokens=100, tools=TOOLS,
                                         messages=messages)
    assert first.stop_reason == "tool_use"
    use = next(b for b in first.content if b.type == "tool_use")
    return messages + [{"role": "assistant", "content": first.content}], use.id


def answer(messages, use_id, text):
    return messages + [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": use_id, "content": text}]}]


def parked_flows(proxy):
    return [f for f in proxy.engine.flows.active.values() if f.state.value == "parked"]


async def test_over_max_parked_the_oldest_is_released_and_still_answered(start_proxy):
    proxy = await start_proxy(max_parked=2, pool_size=0)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    convs = [await park(client, name) for name in ("a", "b")]
    assert len(parked_flows(proxy)) == 2 and len(live_fake_pids()) == 2
    oldest = min(f.id for f in parked_flows(proxy))

    convs.append(await park(client, "c"))  # one more than max_parked
    await eventually(lambda: len(live_fake_pids()) == 2, what="the oldest CLI ended")
    await eventually(lambda: any(e.kind == "finished" and e.flow_id == oldest
                                 for e in proxy.collect()), what="the released flow's end")
    assert len(parked_flows(proxy)) == 2 and oldest not in proxy.engine.flows.active
    events = proxy.collect()
    assert [(e.flow_id, e.reason) for e in events if e.kind == "cancelled"] == \
        [(oldest, "parked_limit")]
    assert [e.state for e in events if e.kind == "finished" and e.flow_id == oldest] == \
        ["cancelled"]
    newest = max(f.id for f in parked_flows(proxy))
    notes = {e.flow_id: e.message for e in events if e.kind == "note"
             and "more than max_parked (2) parked runs" in e.message}
    assert set(notes) == {oldest, newest}, notes
    assert notes[oldest].startswith("released: more than max_parked (2) parked runs")
    assert f"#{oldest}" in notes[newest]

    # The released conversation's client sends its result: a fresh CLI resumes the turn.
    mark = len(read_log())
    messages, use_id = convs[0]
    final = await client.messages.create(model=MODEL, max_tokens=100, tools=TOOLS,
                                         messages=answer(messages, use_id, "AAA"))
    assert final.stop_reason == "end_turn" and final.content[0].text
    log = read_log()[mark:]
    assert [e for e in log if e.get("event") == "start"], "a fresh CLI"
    resumed = [e for e in log if e.get("event") == "transcript_resumed"]
    assert [m["blocks"] for m in resumed[0]["messages"]] == [["text"], ["tool_use"],
                                                            ["tool_result"]]
    (turn,) = [e for e in log if e.get("event") == "interrupted_turn_resumed"]
    assert turn["blocks"][0] == {"type": "tool_result", "tool_use_id": use_id,
                                 "content": "AAA"}, "the result reaches the model as sent"
    assert not [e for e in log if e.get("event") == "stdin"
                and e["frame"].get("type") == "user"], "nothing resent as a prompt"

    # The ones still parked go on in their own processes.
    for (messages, use_id), text in zip(convs[1:], ("BBB", "CCC"), strict=True):
        final = await client.messages.create(model=MODEL, max_tokens=100, tools=TOOLS,
                                             messages=answer(messages, use_id, text))
        assert final.content[0].text == f"Tool mcp__client__read_file returned: {text}"
    assert not parked_flows(proxy)

    # Seen in /metrics (flows by state) and in the console's Aborts panel.
    async with aiohttp.ClientSession() as session, session.get(proxy.url + "/metrics") as resp:
        metrics = await resp.text()
    assert 'claude_proxy_flows_total{state="cancelled"} 1' in metrics
    from tui_proxy.console.model import ConsoleModel
    model = ConsoleModel()
    model.apply(proxy.collect())
    aborts = " ".join(f"#{e.flow_id} {e.text}" for e in model.panels["aborts"])
    assert f"#{oldest} cancelled (parked limit)" in aborts, aborts


def test_max_parked_is_a_setting(tmp_path):
    from tui_proxy.config.settings import Settings, load_settings
    assert Settings().max_parked == 8
    missing = tmp_path / "none.toml"
    missing.write_text("")
    assert load_settings(env={"CLAUDE_PROXY_MAX_PARKED": "3"},
                         config_file=missing).max_parked == 3
