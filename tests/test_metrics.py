"""GET /metrics: Prometheus text, counted from the engine's events; keyed like the API."""

import re

import aiohttp
import anthropic
import pytest

MODEL = "claude-sonnet-5-5"


def samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


async def test_flows_errors_tokens_latency_and_gauges_are_exported(start_proxy):
    proxy = await start_proxy()
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    for text in ("one two three", "four five"):
        await client.messages.create(model=MODEL, max_tokens=50,
                                     messages=[{"role": "user", "content": text}])
    with pytest.raises(anthropic.AuthenticationError):
        await client.messages.create(model=MODEL, max_tokens=50,
                                     messages=[{"role": "user", "content": "FAKE:auth"}])
    await client.messages.create(model=MODEL, max_tokens=50, messages=[{
        "role": "user",
        "content": "FAKE:rate_limit_event=allowed_warning FAKE:rate_limit_util=0.8"}])
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.url + "/metrics") as resp:
            assert resp.status == 200
            assert resp.content_type == "text/plain"
            text = await resp.text()
        async with http.get(proxy.url + "/health") as resp:
            health = await resp.json()
    got = samples(text)
    assert got['claude_proxy_flows_total{state="done"}'] == 3
    assert got['claude_proxy_flows_total{state="error"}'] == 1
    assert got['claude_proxy_errors_total{class="auth"}'] == 1
    assert got['claude_proxy_tokens_total{direction="output"}'] > 0
    assert got["claude_proxy_ttft_seconds_count"] == 3, "failed flows had no first token"
    assert got['claude_proxy_ttft_seconds_bucket{le="+Inf"}'] == 3
    assert got["claude_proxy_duration_seconds_count"] == 4
    assert got['claude_proxy_rate_limit_utilization{window="five_hour"}'] == 0.8
    assert got["claude_proxy_in_flight"] == 0 and got["claude_proxy_parked"] == 0
    assert got["claude_proxy_journal_write_errors_total"] == 0
    assert 'claude_proxy_bus_dropped_events_total{subscriber="journal"}' in got
    assert re.search(r"^# TYPE claude_proxy_ttft_seconds histogram$", text, re.M)
    buckets = [v for k, v in got.items() if k.startswith("claude_proxy_duration_seconds_bucket")]
    assert buckets == sorted(buckets), "cumulative buckets"
    assert health["dropped_events"] == 0 and health["journal_errors"] == 0


async def test_metrics_need_the_key_when_one_is_set(start_proxy):
    proxy = await start_proxy(api_key="sekrit")
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.url + "/metrics") as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["type"] == "authentication_error"
        async with http.get(proxy.url + "/metrics", headers={"x-api-key": "sekrit"}) as resp:
            assert resp.status == 200
        async with http.get(proxy.url + "/health") as resp:
            assert resp.status == 200
