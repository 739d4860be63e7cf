"""Classify a failed SDK run into the error the client sees.

The SDK reports API failures as fields (``AssistantMessage.error``,
``ResultMessage.api_error_status``), before any exception; the exception that follows
(``ResultError`` / ``ProcessError``) only says the process exited. Classification reads
those fields. The one refusal the CLI has no field for — Anthropic treating the traffic
as third-party app usage that draws from extra usage — is recognised from the refusal
text, and gets its own error so clients never retry it.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, UTC

from claude_agent_sdk import CLIConnectionError, CLINotFoundError, ProcessError

from tui_proxy.sdk.login import LOGIN_ADVICE
from tui_proxy.wire.errors import ProxyError

# Honoured by the official SDKs: a refusal that retrying cannot fix.
NO_RETRY = {"x-should-retry": "false"}
EXTRA_USAGE = re.compile(r"\bextra[ -]usage\b", re.IGNORECASE)


@dataclass
class FailureFacts:
    assistant_error: str | None = None
    error_text: str | None = None
    api_error_status: int | None = None
    result_subtype: str | None = None
    result_is_error: bool = False
    terminal_reason: str | None = None
    errors: list[str] | None = None
    rate_limit_resets_at: float | None = None
    rate_limit_type: str | None = None
    stderr_tail: str = ""


def _retry_after(resets_at: float | None) -> dict[str, str]:
    if not resets_at:
        return {}
    seconds = max(1, int(resets_at - time.time()))
    return {"retry-after": str(seconds)}


LIMIT_NAMES = {"five_hour": "five-hour", "seven_day": "weekly", "seven_day_opus": "weekly Opus",
               "seven_day_sonnet": "weekly Sonnet", "overage": "extra-usage"}


def limit_name(limit_type: str | None) -> str:
    return LIMIT_NAMES.get(limit_type or "", limit_type or "usage")


def describe_reset(resets_at: float | None, now: float | None = None) -> str:
    """``resets 2025-11-24 15:00 UTC, in 59 min`` (empty when unknown)."""
    if not resets_at:
        return ""
    now = time.time() if now is None else now
    when = datetime.fromtimestamp(resets_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    left = max(0, int(resets_at - now))
    hours, minutes = divmod((left + 59) // 60, 60)
    span = f"{hours} h {minutes} min" if hours else f"{minutes} min"
    return f"resets {when}, in {span}"


def anthropic_message(text: str) -> str:
    """The ``error.message`` of an ``API Error: 400 {json}`` text, else the text itself."""
    start = text.find("{")
    if start >= 0:
        try:
            data = json.loads(text[start:])
            message = data.get("error", {}).get("message") or data.get("message")
            if isinstance(message, str) and message:
                return message
        except (ValueError, AttributeError):
            pass
    return text


def _with_stderr(message: str, tail: str) -> str:
    return f"{message}\nCLI stderr (last lines):\n{tail}" if tail else message


def classify_api_error(facts: FailureFacts) -> ProxyError:
    """An error reported by the CLI as an API failure (is_error result / error field)."""
    kind = facts.assistant_error
    status = facts.api_error_status
    text = (facts.error_text or "").strip() or "Claude returned an error"
    if kind == "rate_limit" or status == 429:
        if facts.rate_limit_type:
            # A subscription's unified limit (a RateLimitEvent said which one), not a
            # per-minute API limit: name the window and when it resets.
            reset = describe_reset(facts.rate_limit_resets_at)
            detail = f"{limit_name(facts.rate_limit_type)} limit" + (f", {reset}" if reset else "")
            return ProxyError("rate_limit_error",
                              f"Rate limited: Claude plan usage limit reached ({detail}): {text}",
                              error_class="plan_limit",
                              headers=_retry_after(facts.rate_limit_resets_at))
        return ProxyError("rate_limit_error", f"Rate limited: {text}", error_class="rate_limit",
                          headers=_retry_after(facts.rate_limit_resets_at))
    if kind in ("authentication_failed", "cloud_credential_error") or status == 401:
        return ProxyError("authentication_error",
                          f"{text} — the Claude Code CLI this proxy drives is not "
                          f"authenticated: {LOGIN_ADVICE}.",
                          error_class="auth")
    if EXTRA_USAGE.search(text) and (status in (400, 402, 403)
                                     or kind in ("invalid_request", "billing_error")):
        return ProxyError("billing_error",
                          "Anthropic refused this request as third-party app usage that draws "
                          "from extra usage, not your plan (not retried). Anthropic said: "
                          f"{anthropic_message(text)}",
                          error_class="extra_usage", headers=NO_RETRY)
    if kind == "billing_error":
        return ProxyError("billing_error",
                          f"Billing refusal (not retried): {anthropic_message(text)}",
                          error_class="billing", headers=NO_RETRY)
    if kind in ("overloaded", "server_error") or status == 529:
        return ProxyError("overloaded_error", f"Claude is overloaded: {text}",
                          error_class="overloaded")
    if kind in ("oauth_org_not_allowed", "account_on_hold", "verification_required") \
            or status == 403:
        return ProxyError("permission_error", text, error_class="permission")
    if kind == "model_not_found" or status == 404:
        return ProxyError("not_found_error", text, error_class="model_not_found")
    if kind == "invalid_request" or status == 400:
        return ProxyError("invalid_request_error", text, error_class="invalid_request")
    if status == 413:
        return ProxyError("request_too_large", text, error_class="too_large")
    if facts.result_subtype == "error_max_turns":
        return ProxyError("api_error", f"Claude Code stopped: {text}", error_class="max_turns")
    return ProxyError("api_error", _with_stderr(text, facts.stderr_tail), error_class="api_error")


def classify_exception(exc: BaseException, facts: FailureFacts) -> ProxyError:
    """An exception from the SDK with no API error recorded before it."""
    if facts.assistant_error or facts.result_is_error:
        return classify_api_error(facts)
    if isinstance(exc, CLINotFoundError):
        return ProxyError("api_error", f"{exc}. Set CLAUDE_PROXY_CLI_PATH or --cli-path.",
                          error_class="cli_not_found")
    if isinstance(exc, ProcessError):
        code = getattr(exc, "exit_code", None)
        return ProxyError("api_error",
                          _with_stderr(f"The Claude Code CLI exited with code {code}.",
                                       facts.stderr_tail),
                          error_class="crash")
    if isinstance(exc, CLIConnectionError):
        return ProxyError("api_error", _with_stderr(f"Could not talk to the Claude Code CLI: {exc}",
                                                    facts.stderr_tail),
                          error_class="cli_connection")
    name = type(exc).__name__
    return ProxyError("api_error", _with_stderr(f"Claude Agent SDK failure ({name}): {exc}",
                                                facts.stderr_tail),
                      error_class="sdk_error")
