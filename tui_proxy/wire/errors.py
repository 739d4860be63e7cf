"""Anthropic-shaped errors: ``{"type":"error","error":{"type","message"},"request_id"}``."""

from __future__ import annotations

from typing import Any

STATUS_BY_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class ProxyError(Exception):
    """An error the client should see, with its HTTP status and Anthropic error type.

    ``error_class`` says what happened in the proxy's own words (rate_limit, auth, crash,
    billing, timeout, cancelled, …) for logs, the journal and the console.
    """

    def __init__(self, error_type: str, message: str, *, status: int | None = None,
                 error_class: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status if status is not None else STATUS_BY_TYPE.get(error_type, 500)
        self.error_class = error_class or error_type
        self.headers = headers or {}

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "error",
                                "error": {"type": self.error_type, "message": self.message}}
        if request_id:
            body["request_id"] = request_id
        return body

    def __repr__(self) -> str:
        return f"ProxyError({self.status} {self.error_type}: {self.message!r})"


def invalid_request(message: str) -> ProxyError:
    return ProxyError("invalid_request_error", message, error_class="bad_request")


def not_found(message: str) -> ProxyError:
    return ProxyError("not_found_error", message, error_class="not_found")


def cancelled(reason: str, flow_id: int) -> ProxyError:
    # 499: the request was ended on purpose; below 500 so clients do not retry it.
    text = {
        "operator": f"Request cancelled by the proxy operator (flow #{flow_id}).",
        "shutdown": f"The proxy is shutting down; request cancelled (flow #{flow_id}).",
        "client_disconnect": f"Client disconnected (flow #{flow_id}).",
        "parked timeout": f"Parked tool call released: no tool result arrived in time "
                          f"(flow #{flow_id}, setting CLAUDE_PROXY_PARKED_TIMEOUT_MS).",
        "superseded": f"Parked tool call released: the conversation moved on without its "
                      f"result (flow #{flow_id}).",
    }.get(reason, f"Request cancelled: {reason} (flow #{flow_id}).")
    return ProxyError("api_error", text, status=499, error_class="cancelled",
                      headers={"x-should-retry": "false"})


def timed_out(limit: str, limit_s: float) -> ProxyError:
    what = "total time limit" if limit == "total" else "inactivity limit (no output from Claude)"
    setting = "CLAUDE_PROXY_TIMEOUT_MS" if limit == "total" else "CLAUDE_PROXY_INACTIVITY_MS"
    return ProxyError("timeout_error",
                      f"Request exceeded the proxy's {what} of {limit_s:g} s (setting {setting}).",
                      error_class="timeout")


class ClientGone(Exception):
    """The HTTP client went away while its response was being written."""
