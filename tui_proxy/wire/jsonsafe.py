"""JSON text that UTF-8 can always carry.

JSON may hold a lone surrogate (``"\\ud800"`` is valid JSON and Python decodes it), but
such a string cannot be encoded as UTF-8: written with ``ensure_ascii=False`` it breaks the
journal, a transcript or an SSE frame. ``dumps`` keeps the compact unescaped form and
falls back to escaping (``ensure_ascii=True``, the same JSON value) only when needed.
"""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any, **kwargs: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, **kwargs)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, **kwargs)
    return text


def printable(text: str) -> str:
    """Text for a terminal: a lone surrogate becomes U+FFFD instead of failing the write."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text
