"""Server-sent event encoding of Messages API events."""

from __future__ import annotations

import json
from typing import Any


def encode(event: dict[str, Any]) -> bytes:
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    try:
        return f"event: {event['type']}\ndata: {data}\n\n".encode()
    except UnicodeEncodeError:  # a lone surrogate (valid JSON): send it escaped
        data = json.dumps(event, ensure_ascii=True, separators=(",", ":"))
        return f"event: {event['type']}\ndata: {data}\n\n".encode()


PING = encode({"type": "ping"})
