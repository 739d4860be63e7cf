"""Who may drive the proxy: its user's own programs, nobody else.

The proxy runs Claude with the user's subscription and, in agent mode, may write files and
run commands, so:

* it listens on loopback unless an API key is set (``check_bind``);
* with a key, every endpoint but ``/health`` needs it (``x-api-key`` or ``Authorization:
  Bearer``, compared in constant time);
* other local users cannot drive it: a loopback connection owned by another uid (read from
  ``/proc/net/tcp`` on Linux, ``SO_PEERCRED`` on the Unix socket) is refused unless
  ``allow_other_users`` is set or it presents the key (``local_user_refusal``, see
  ``localusers.py``);
* browsers cannot reach it: a ``Host`` that is not the bound address or a loopback name is
  refused (DNS rebinding), any ``Origin`` is refused unless allowed in settings, no CORS
  headers are ever sent, and a POST must say its body is JSON (a form post from a page
  cannot);
* bodies are bounded in size (aiohttp's limit), nesting and message count, and a client has
  ``upload_timeout_s`` to send its body; every check of a body is linear in its size, and a
  body that is large or holds many values is decoded off the event loop, in bounded pieces
  (``load_body``).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
from typing import Any
from collections.abc import Callable

from aiohttp import web

from tui_proxy.http import localusers
from tui_proxy.config.settings import Settings
from tui_proxy.wire.errors import ProxyError
from tui_proxy.wire.request import TooManyValues, parse_body

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
WILDCARDS = {"0.0.0.0", "::", ""}
MAX_DEPTH = 64
# Bodies of at most this many bytes and values are decoded in C on the event loop (a few ms);
# any other is decoded in a thread, in bounded pieces.
LOOP_BYTES = 1024 * 1024
LOOP_VALUES = 20_000
# More values than this are refused before anything else walks them (journal, redaction, the
# flow's summary run on the loop): a long agent session holds a few tens of thousands.
MAX_VALUES = 250_000
PUBLIC_PATHS = {"/health"}


class BindRefused(OSError):
    """Listening beyond loopback without a key."""


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings) -> None:
    if not is_loopback(settings.host) and not settings.api_key:
        raise BindRefused(
            f"refusing to listen on {settings.host!r} without an API key: anyone who can reach "
            "this address could use your Claude subscription (and, in agent mode, write files "
            "and run commands). Set CLAUDE_PROXY_API_KEY (or api_key in the settings file), or "
            "listen on 127.0.0.1.")


def _host_of(header: str) -> str:
    """``example.com:3456`` → ``example.com``; ``[::1]:3456`` → ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(header: str | None, settings: Settings) -> bool:
    if header is None:
        return True  # not a browser: browsers always send Host
    host = _host_of(header)
    if is_loopback(host):
        return True
    bound = settings.host.strip("[]").lower()
    if bound in WILDCARDS:
        # Every address of the machine answers; the API key (required here) guards it.
        return bool(settings.api_key)
    return host == bound


def local_user_refusal(request: web.Request, settings: Settings,
                       untold: Callable[[str], None] | None = None) -> ProxyError | None:
    """Another local user's connection, refused (403) unless allowed; None when it may go on.
    ``untold(why)`` is called when the owner cannot be told (the caller announces it once)."""
    if settings.allow_other_users:
        return None
    owner = localusers.connection_owner(request.transport)
    if owner is None:  # not a local peer: beyond loopback the key (required there) guards
        return None
    me = os.geteuid()
    if owner.uid in (me, 0):  # root can read this user's files anyway
        return None
    if owner.uid is None and not owner.missing:
        if not settings.api_key and untold is not None:
            untold(owner.why)
        return None  # the key, when set, is checked next
    if settings.api_key and key_matches(request, settings.api_key):
        return None  # the user gave this key out on purpose
    who = (f"uid {owner.uid}" if owner.uid is not None
           else f"a connection whose owner cannot be found ({owner.why})")
    return ProxyError(
        "permission_error", f"This proxy serves only its own user (uid {me}); the request came "
        f"from {who}. To let other local users in, set allow_other_users = true "
        "(CLAUDE_PROXY_ALLOW_OTHER_USERS=1), or set an api_key and give them the key.",
        status=403)


def key_matches(request: web.Request, key: str) -> bool:
    given = request.headers.get("x-api-key")
    if given is None:
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), key.encode("utf-8"))


def refusal(request: web.Request, settings: Settings,
            untold: Callable[[str], None] | None = None) -> ProxyError | None:
    """Why this request may not proceed, before its body is read; None when it may."""
    error = local_user_refusal(request, settings, untold)
    if error is not None:
        return error
    # A browser cannot reach a Unix socket: no DNS rebinding there, any Host will do.
    if not localusers.over_unix_socket(request.transport) \
            and not host_allowed(request.headers.get("Host"), settings):
        return ProxyError("permission_error", "This proxy only answers requests addressed to "
                          f"{settings.host} or localhost (Host header "
                          f"{request.headers.get('Host')!r} refused).", status=403)
    origin = request.headers.get("Origin")
    if origin is not None and origin not in settings.allowed_origins:
        return ProxyError("permission_error", f"Requests from web pages (Origin {origin!r}) "
                          "are refused; allow an origin with CLAUDE_PROXY_ALLOWED_ORIGINS.",
                          status=403)
    if settings.api_key and request.path not in PUBLIC_PATHS \
            and not key_matches(request, settings.api_key):
        return ProxyError("authentication_error", "A valid API key is required: send it as "
                          "x-api-key or Authorization: Bearer (setting CLAUDE_PROXY_API_KEY).",
                          status=401)
    if request.method == "POST":
        ctype = request.headers.get("Content-Type", "")
        if "json" not in ctype.split(";")[0].lower():
            return ProxyError("invalid_request_error", "Content-Type must be application/json"
                              + (f", got {ctype!r}" if ctype else ""), status=415)
    return None


def nesting_depth(data: Any, cap: int | None = None) -> int:
    """Deepest array/object nesting of a parsed JSON value (no recursion: each container is
    visited once, so the cost is linear in the number of containers); stops once past
    ``cap``."""
    deepest = 0
    stack = [(data, 1)] if isinstance(data, (dict, list)) else []
    while stack:
        value, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if cap is not None and deepest > cap:
                return deepest
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, (dict, list)))
    return deepest


def value_bound(raw: bytes) -> int:
    """An upper bound on the JSON values in ``raw``, in a few C passes (``bytes.count``): a
    container's every value but its first follows a comma."""
    return raw.count(b",") + raw.count(b"[") + raw.count(b"{") + 1


def _load(raw: bytes, python_scanner: bool) -> dict[str, Any]:
    try:
        data = parse_body(raw, python_scanner=python_scanner, max_values=MAX_VALUES)
    except TooManyValues:  # the scanner stops there: the cost is bounded by the limit
        data = None
    if data is None:
        # Raised outside the handler: the scanner's traceback (its frames hold what it had
        # built, up to MAX_VALUES values) is freed here, in the thread, not on the loop as
        # the ProxyError's __context__ when the handler drops it.
        raise ProxyError("request_too_large", "request body holds more than this proxy's "
                         f"limit of {MAX_VALUES:,} JSON values", status=413)
    if nesting_depth(data, MAX_DEPTH) > MAX_DEPTH:
        raise ProxyError("invalid_request_error", f"request body is nested more than "
                         f"{MAX_DEPTH} levels deep")
    return data


async def load_body(raw: bytes) -> dict[str, Any]:
    """The body parsed and its depth checked, every step linear in its size. The raw bytes
    are read by the JSON decoder alone (no regex: a backtracking scan of strings was
    quadratic). A body that may hold many values (``value_bound`` over ``LOOP_VALUES``) is
    decoded in a thread by the pure-Python scanner, which hands the GIL back every few
    milliseconds, so the event loop never waits on more than one string's scan; so is any
    body over ``LOOP_BYTES`` (a few huge strings or integers are few values but long C calls:
    the scanner reads strings, whitespace and text in bounded pieces). A small body is
    decoded in C on the loop, which costs less than the hop."""
    if len(raw) <= LOOP_BYTES and value_bound(raw) <= LOOP_VALUES:
        return _load(raw, False)
    return await asyncio.to_thread(_load, raw, True)


def check_body(raw: bytes, data: Any, settings: Settings) -> None:
    """Limits beyond size, once the body is in."""
    if isinstance(data, dict) and isinstance(data.get("messages"), list) \
            and len(data["messages"]) > settings.max_messages:
        # The one limit on messages (wire/request.py has none of its own): a 413 like every
        # other "too much" of a body, for /v1/messages and count_tokens alike.
        raise ProxyError("request_too_large", f"messages: {len(data['messages'])} messages "
                         f"exceed the limit of {settings.max_messages} "
                         "(setting max_messages, CLAUDE_PROXY_MAX_MESSAGES)", status=413)
