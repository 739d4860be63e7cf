"""Honest billing states, fed by the fake CLI: every refusal reaches the client with its true
reason (plan limit with its window and reset time, per-minute rate limit, extra-usage /
third-party refusal with Anthropic's own message, not logged in, overloaded), a usage warning
is not an error, and the RateLimitInfo event carries status, type, utilisation and reset."""

import json
import re
import time

import aiohttp
import anthropic
import pytest

from conftest import read_log
from sse_grammar import check_stream
from tui_proxy.sdk.failures import FailureFacts, classify_api_error, describe_reset

MODEL = "claude-sonnet-5-5"
RESET_RE = r"resets (\d{4}-\d\d-\d\d \d\d:\d\d) UTC, in (1 h 0 min|59 min)"


def user(text):
    return [{"role": "user", "content": text}]


async def post(proxy, text, stream=False):
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + "/v1/messages", json={
            "model": MODEL, "max_tokens": 20, "stream": stream,
            "messages": user(text)}) as resp,
    ):
        return resp.status, resp.headers.copy(), await resp.read()


def error_of(body: bytes) -> dict:
    return json.loads(body)["error"]


def failures(proxy):
    return [e for e in proxy.collect() if e.kind == "error"]


def rate_events(proxy):
    return [e for e in proxy.collect() if e.kind == "rate_limit"]


@pytest.mark.parametrize("limit_type, name", [
    ("five_hour", "five-hour"), ("seven_day", "weekly"), ("seven_day_opus", "weekly Opus"),
    ("seven_day_sonnet", "weekly Sonnet"), ("overage", "extra-usage"),
])
async def test_plan_limit_names_the_window_and_the_reset_time(proxy, limit_type, name):
    before = time.time()
    status, headers, body = await post(
        proxy, f"FAKE:rate_limit_event=rejected FAKE:rate_limit_type={limit_type} go")
    assert status == 429
    error = error_of(body)
    assert error["type"] == "rate_limit_error"
    message = error["message"]
    assert f"Claude plan usage limit reached ({name} limit, resets" in message
    assert "You've hit your limit" in message, "the CLI's own words are kept"
    [event] = rate_events(proxy)
    assert (event.status, event.limit_type, event.utilization) == ("rejected", limit_type, 1.0)
    assert before + 3590 <= event.resets_at <= time.time() + 3600
    when = re.search(RESET_RE, message)
    assert when, message
    assert when.group(1) == time.strftime("%Y-%m-%d %H:%M", time.gmtime(event.resets_at))
    assert 3500 <= int(headers["retry-after"]) <= 3600
    assert headers.get("x-should-retry") != "false", "a plan limit is retryable after the reset"
    [failed] = failures(proxy)
    assert (failed.error_class, failed.status) == ("plan_limit", 429)


async def test_plan_limit_on_a_stream_before_any_token_is_the_same_error(proxy):
    status, headers, body = await post(proxy, "FAKE:rate_limit_event=rejected go", stream=True)
    assert status == 429, "nothing was streamed yet, so the refusal keeps its HTTP status"
    assert headers["content-type"].startswith("application/json")
    error = error_of(body)
    assert error["type"] == "rate_limit_error"
    assert re.search(r"plan usage limit reached \(five-hour limit, " + RESET_RE, error["message"])


@pytest.mark.parametrize("stream", [False, True])
async def test_usage_warning_is_not_an_error(proxy, stream):
    text = "FAKE:rate_limit_event=allowed_warning FAKE:rate_limit_type=seven_day " \
           "FAKE:rate_limit_util=0.8 FAKE:tokens=3"
    status, _headers, body = await post(proxy, text, stream=stream)
    assert status == 200
    if stream:
        checked = check_stream(body, expect_error=False)
        assert checked.text == "tok0 tok1 tok2"
    else:
        assert json.loads(body)["content"][0]["text"] == "tok0 tok1 tok2"
    [event] = rate_events(proxy)
    assert (event.status, event.limit_type, event.utilization) == ("allowed_warning", "seven_day",
                                                                   0.8)
    assert event.resets_at and event.resets_at > time.time() + 3000
    assert failures(proxy) == []
    assert [e.kind for e in proxy.collect()].count("finished") == 1


async def test_per_minute_rate_limit_is_not_called_a_plan_limit(proxy):
    status, headers, body = await post(proxy, "FAKE:rate_limit go")
    assert status == 429
    message = error_of(body)["message"]
    assert message.startswith("Rate limited: API Error: Request rejected (429)")
    assert "plan" not in message
    assert failures(proxy)[-1].error_class == "rate_limit"
    assert rate_events(proxy) == []


async def test_extra_usage_refusal_is_distinct_never_retried_and_quotes_anthropic(proxy):
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="k", max_retries=2)
    starts = len([e for e in read_log() if e.get("event") == "start"])
    with pytest.raises(anthropic.APIStatusError) as info:
        await client.messages.create(model=MODEL, max_tokens=5, messages=user("FAKE:billing go"))
    assert info.value.status_code == 402
    assert info.value.response.headers["x-should-retry"] == "false"
    error = info.value.body["error"]
    assert error["type"] == "billing_error"
    assert "third-party app usage that draws from extra usage" in error["message"]
    assert error["message"].endswith("Anthropic said: Third-party apps now draw from your extra "
                                     "usage, not your plan limits. Add extra usage to continue.")
    assert '{"type"' not in error["message"], "Anthropic's message, not the raw JSON"
    assert len([e for e in read_log() if e.get("event") == "start"]) - starts == 1
    failed = failures(proxy)[-1]
    assert (failed.error_class, failed.status) == ("extra_usage", 402)


@pytest.mark.parametrize("directive, exc, status, error_type, error_class, fragment", [
    ("FAKE:auth", anthropic.AuthenticationError, 401, "authentication_error", "auth",
     "run `claude-proxy-tui login`"),
    ("FAKE:auth=401", anthropic.AuthenticationError, 401, "authentication_error", "auth",
     "run `claude-proxy-tui login`"),
    ("FAKE:overloaded", anthropic.OverloadedError, 529, "overloaded_error", "overloaded",
     "529 Overloaded"),
])
async def test_auth_and_overloaded(proxy, anthropic_client, directive, exc, status, error_type,
                                   error_class, fragment):
    with pytest.raises(exc) as info:
        await anthropic_client.messages.create(model=MODEL, max_tokens=5,
                                               messages=user(f"{directive} go"))
    assert info.value.status_code == status
    assert info.value.body["error"]["type"] == error_type
    assert fragment in info.value.body["error"]["message"]
    failed = failures(proxy)[-1]
    assert (failed.error_class, failed.status) == (error_class, status)


def test_classification_from_fields_alone():
    now = 1_700_000_000.0
    assert describe_reset(now + 5400, now=now) == "resets 2023-11-14 23:43 UTC, in 1 h 30 min"
    assert describe_reset(None) == ""
    plan = classify_api_error(FailureFacts(assistant_error="rate_limit", api_error_status=429,
                                           error_text="limit", rate_limit_type="seven_day_opus",
                                           rate_limit_resets_at=time.time() + 120))
    assert plan.error_class == "plan_limit" and "weekly Opus limit, resets" in plan.message
    # a billing_error without the extra-usage wording stays a plain billing refusal
    billing = classify_api_error(FailureFacts(assistant_error="billing_error",
                                              error_text="Your credit balance is too low"))
    assert billing.error_class == "billing" and billing.headers == {"x-should-retry": "false"}
    assert billing.message.endswith("Your credit balance is too low")
