"""The journal records every flow (start and end), without secrets, within its size cap,
in the format `claude-proxy-tui log` and `replay` read."""

import asyncio
import io
import json
from pathlib import Path

import aiohttp
import anthropic
import pytest

from conftest import eventually
from tui_proxy.journal.reader import load_journal
from tui_proxy.commands.replay import replay, replayable_body

MODEL = "claude-sonnet-5-5"
SECRET = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789"


def records(folder: Path) -> list[dict]:
    out = []
    for path in sorted(folder.glob("journal-*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


async def test_every_flow_has_a_start_and_one_end_with_its_outcome(start_proxy, tmp_path):
    folder = tmp_path / "journal"
    proxy = await start_proxy(journal_dir=str(folder))
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    async with client.messages.stream(model=MODEL, max_tokens=200, system=f"key is {SECRET}",
                                      messages=[{"role": "user", "content": "FAKE:tokens=30"}]
                                      ) as stream:
        assert len([t async for t in stream.text_stream]) == 30
    with pytest.raises(anthropic.RateLimitError):
        await client.messages.create(model=MODEL, max_tokens=20, messages=[
            {"role": "user", "content": "FAKE:rate_limit"}])
    with pytest.raises(anthropic.BadRequestError):
        await client.messages.create(model=MODEL, max_tokens=20, messages=[])
    async with (  # a client that walks away mid-stream
        aiohttp.ClientSession() as session,
        session.post(proxy.url + "/v1/messages", json={
            "model": MODEL, "max_tokens": 10, "stream": True, "messages": [
                {"role": "user", "content": "FAKE:delay=0.2 FAKE:tokens=100"}]}) as resp,
    ):
        await resp.content.readline()
    await eventually(lambda: proxy.engine.flows.get(4).state.terminal, what="flow 4's end")
    await proxy.server.stop()  # flushes the last lines

    lines = records(folder)
    starts = {r["flow_id"]: r for r in lines if r["record"] == "start"}
    ends = {}
    for r in (r for r in lines if r["record"] == "end"):
        assert r["flow_id"] not in ends, "exactly one terminal state per flow"
        ends[r["flow_id"]] = r
    assert sorted(starts) == sorted(ends) == [1, 2, 3, 4]
    assert {r["v"] for r in lines} == {1} and len({r["proxy_run"] for r in lines}) == 1
    assert [ends[i]["state"] for i in (1, 2, 3, 4)] == ["done", "error", "error", "cancelled"]
    assert ends[1]["usage"]["output_tokens"] >= 30 and ends[1]["ttft_s"] > 0
    assert any(e["kind"] == "text" and e["deltas"] == 30 for e in ends[1]["events"])
    assert ends[2]["status"] == 429 and ends[2]["error_class"] == "rate_limit"
    assert ends[3]["status"] == 400 and "messages" in ends[3]["message"]
    assert ends[4]["cancel_reason"] == "client_disconnect"
    assert starts[1]["body"]["messages"][0]["content"] == "FAKE:tokens=30"
    text = "\n".join(p.read_text() for p in folder.glob("*.jsonl"))
    assert SECRET not in text and "[redacted]" in text

    # `claude-proxy-tui log` reads exactly these flows
    journal = load_journal(folder)
    assert sorted(f.flow_id for f in journal.flows) == [1, 2, 3, 4]
    assert sorted(f.state for f in journal.flows) == ["cancelled", "done", "error", "error"]


async def test_start_records_are_on_disk_while_the_flow_runs(start_proxy, tmp_path):
    folder = tmp_path / "journal"
    proxy = await start_proxy(journal_dir=str(folder))
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    task = asyncio.create_task(client.messages.create(model=MODEL, max_tokens=20, messages=[
        {"role": "user", "content": "FAKE:delay=0.1 FAKE:tokens=30"}]))
    for _ in range(100):
        if any(r["record"] == "start" for r in records(folder)):
            break
        await asyncio.sleep(0.05)
    assert [r["record"] for r in records(folder)] == ["start"], "a crash now leaves the start"
    await task
    await proxy.server.stop()
    assert [r["record"] for r in records(folder)] == ["start", "end"]


async def test_the_journal_stays_under_its_cap_and_can_be_turned_off(start_proxy, tmp_path):
    folder = tmp_path / "journal"
    proxy = await start_proxy(journal_dir=str(folder), journal_max_mb=1)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    big = "word " * 40_000  # ~200 KB per request body
    for _ in range(12):
        await client.messages.create(model=MODEL, max_tokens=5, system=big,
                                     messages=[{"role": "user", "content": "hi"}])
        await asyncio.sleep(0.05)
    await proxy.server.stop()
    files = list(folder.glob("journal-*.jsonl"))
    assert len(files) > 1, "a day file rolls over"
    assert sum(p.stat().st_size for p in files) <= 1024 * 1024 + 300_000

    off = tmp_path / "off"
    proxy = await start_proxy(journal_dir=str(off), journal_max_mb=0)
    await anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0
                                   ).messages.create(model=MODEL, max_tokens=5, messages=[
                                       {"role": "user", "content": "hi"}])
    await proxy.server.stop()
    assert not off.exists()


async def test_replay_resends_a_journalled_request(start_proxy, tmp_path):
    folder = tmp_path / "journal"
    proxy = await start_proxy(journal_dir=str(folder))
    await anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0
                                   ).messages.create(model=MODEL, max_tokens=5, messages=[
                                       {"role": "user", "content": "replay me"}])
    await eventually(lambda: len(load_journal(folder).flows) == 1
                     and load_journal(folder).flows[0].end, what="the journalled end")
    (flow,) = load_journal(folder).flows
    out = io.StringIO()
    assert await replay(replayable_body(flow), proxy.url, out=out, err=io.StringIO()) == 0
    assert "You said: replay me" in out.getvalue()


async def test_a_cancelled_flow_is_journalled_with_the_tokens_it_streamed(start_proxy, tmp_path):
    """No message_delta comes for a cancelled run: the end record counts what was streamed."""
    folder = tmp_path / "journal"
    proxy = await start_proxy(journal_dir=str(folder))
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    seen = 0
    with pytest.raises(anthropic.APIError):
        async with client.messages.stream(model=MODEL, max_tokens=20, messages=[
                {"role": "user", "content": "FAKE:delay=0.05 FAKE:tokens=400"}]) as stream:
            async for _ in stream.text_stream:
                seen += 1
                if seen == 12:
                    assert proxy.engine.cancel(1)
    await eventually(lambda: proxy.engine.flows.get(1).state.terminal, what="flow 1's end")
    await proxy.server.stop()

    streamed = sum(1 for e in proxy.collect() if e.kind == "text" and e.flow_id == 1)
    assert streamed >= 12
    finished = [e for e in proxy.collect() if e.kind == "finished" and e.flow_id == 1]
    assert finished[0].state == "cancelled" and finished[0].output_tokens == streamed
    end = next(r for r in records(folder) if r["record"] == "end" and r["flow_id"] == 1)
    assert end["state"] == "cancelled" and end["usage"]["output_tokens"] == streamed


async def test_a_body_over_the_cap_is_recorded_truncated_without_walking_it(start_proxy,
                                                                          tmp_path, monkeypatch):
    """A 32 MiB body was redacted and serialised whole on the loop (a second) only for the
    text to be dropped past BODY_CAP; a cheap size floor now says it is over and the start
    record says body_truncated, as before."""
    import tui_proxy.journal.writer as journal
    folder = tmp_path / "journal"
    proxy = await start_proxy(journal_dir=str(folder))
    big = "word " * (journal.BODY_CAP // 4)
    walked = []
    real = journal.redact

    def redact(value, *args):
        if isinstance(value, dict) and "messages" in value:
            walked.append(True)
        return real(value, *args)

    monkeypatch.setattr(journal, "redact", redact)
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + "/v1/messages", json={
            "model": MODEL, "max_tokens": "x",
            "messages": [{"role": "user", "content": big}]}) as resp,
    ):
        assert resp.status == 400
    await eventually(lambda: [r for r in records(folder) if r["record"] == "start"])
    start = [r for r in records(folder) if r["record"] == "start"]
    assert start[-1]["body_truncated"] is True and "body" not in start[-1]
    assert not walked
    assert journal.size_floor({"a": [big]}, journal.BODY_CAP) > journal.BODY_CAP
    assert journal.size_floor({"api_key": big, "b": [1, "xy"]}, journal.BODY_CAP) < 64
