"""Secrets never reach the journal or the logs: keys, tokens and Authorization values are
replaced by ``[redacted]`` wherever they appear in a structure or a line of text."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
SECRET_KEY = re.compile(r"(api[_-]?key|authorization|auth[_-]?token|access[_-]?token|"
                        r"refresh[_-]?token|oauth|secret|password|passwd|cookie)", re.I)
SECRET_VALUE = re.compile(r"(sk-ant-[A-Za-z0-9_\-]{8,}|sk-[A-Za-z0-9]{20,}|"
                          r"(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,})")


def redact_text(text: str) -> str:
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
