"""Secrets never reach the journal or the logs: keys, tokens and Authorization values are
replaced by ``[redacted]`` wherever they appear in a structure or a line of text.

Besides what looks like a secret (``sk-ant-…``, ``Bearer …``, a secret-named key), the exact
values the proxy knows to be secret are hidden too: its own ``api_key`` and the credential
variables of its environment (``remember_secret``), whatever they look like."""

from __future__ import annotations

import os
import re
from typing import Any

REDACTED = "[redacted]"
SECRET_KEY = re.compile(r"(api[_-]?key|authorization|auth[_-]?token|access[_-]?token|"
                        r"refresh[_-]?token|oauth|secret|password|passwd|cookie)", re.I)
SECRET_VALUE = re.compile(r"(sk-ant-[A-Za-z0-9_\-]{8,}|sk-[A-Za-z0-9]{20,}|"
                          r"(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,})")
# Environment variables whose values are secrets wherever they show up.
SECRET_ENV = ("CLAUDE_PROXY_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN",
              "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_PROXY_CLI_ENV_ANTHROPIC_API_KEY",
              "CLAUDE_PROXY_CLI_ENV_ANTHROPIC_AUTH_TOKEN",
              "CLAUDE_PROXY_CLI_ENV_CLAUDE_CODE_OAUTH_TOKEN")
MIN_SECRET = 8  # shorter values ("x") would hide ordinary words
_known: set[str] = set()
_known_re: re.Pattern[str] | None = None


def remember_secret(value: Any) -> None:
    """Hide this exact value from now on (the proxy's key, a token from the environment)."""
    global _known_re
    if not isinstance(value, str) or len(value) < MIN_SECRET or value in _known:
        return
    _known.add(value)
    _known_re = re.compile("|".join(re.escape(v) for v in
                                    sorted(_known, key=len, reverse=True)))


def remember_environment(environ: Any = None) -> None:
    environ = os.environ if environ is None else environ
    for name in SECRET_ENV:
        remember_secret(environ.get(name))


def redact_text(text: str) -> str:
    if _known_re is not None:
        text = _known_re.sub(REDACTED, text)
    return SECRET_VALUE.sub(REDACTED, text)


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` with secret-looking keys' values and secret-looking strings hidden."""
    if _depth > 64:
        return value
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and SECRET_KEY.search(k)
                    and isinstance(v, (str, int, float)) else redact(v, _depth + 1))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(redact(v, _depth + 1) for v in value)
    if isinstance(value, str):
        return redact_text(value)
    return value


remember_environment()
