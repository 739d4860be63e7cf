"""The conversation map: which SDK session holds which client history.

Clients resend the whole history each turn. Each message is normalised (text joined and
trimmed; images and documents by content hash; tool calls and results by id; thinking and
cache hints ignored) and hashed into a chain. A session is indexed by the hash of the
history it holds after its last reply (its *head*). A request whose earlier messages hash
to a free session's head continues that session with only the new turns. Anything else —
an identical replay (a client retry), an edit or undo, a compaction — matches no head and
starts fresh, so a turn is never applied twice and two conversations never share a
session while they differ.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from tui_proxy.config import locations
from tui_proxy.wire.history import blocks_of, split_new_turns


def _digest(data: Any) -> str:
    raw = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def _source_hash(block: dict[str, Any]) -> str:
    source = block.get("source") or {}
    return _digest([source.get("type"), source.get("data"), source.get("url")])[:16]


def _normal_content(blocks: list[dict[str, Any]]) -> list[Any]:
    text: list[str] = []
    items: list[Any] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            text.append(block.get("text", ""))
        elif kind in ("image", "document"):
            items.append([kind[0], _source_hash(block)])
        elif kind == "tool_use":
            items.append(["u", block.get("id"), block.get("name"), block.get("input") or {}])
        elif kind == "tool_result":
            content = block.get("content")
            inner = _normal_content(blocks_of({"content": content})) if content else []
            items.append(["r", block.get("tool_use_id"), bool(block.get("is_error")), inner])
        elif kind in ("thinking", "redacted_thinking"):
            continue
        else:
            items.append(["x", kind])
    joined = "".join(text).strip()
    return ([joined] if joined else []) + items


def message_hash(message: dict[str, Any]) -> str:
    return _digest([message["role"], _normal_content(blocks_of(message))])


def history_hash(root: str, messages: list[dict[str, Any]]) -> str:
    head = _digest(["root", root])
    for message in messages:
        head = _digest([head, message_hash(message)])
    return head


def transcript_path(cwd: str, session_id: str) -> str:
    """Where the CLI running in ``cwd`` keeps the session's transcript (CLAUDE_CONFIG_DIR and
    the CLI's own path sanitising honoured)."""
    return str(locations.cli_transcript(cwd, session_id))


@dataclass(eq=False)
class Conversation:
    id: int
    session_id: str
    root: str
    head: str | None = None
    state: str = "live"  # live | parked | idle | evicted
    transcript: str | None = None
    turns: int = 0
    last_flow: int | None = None
    preview: str = ""


class ConversationMap:
    def __init__(self, cap: int = 2000) -> None:
        self.cap = cap
        self._next = 1
        self.by_session: OrderedDict[str, Conversation] = OrderedDict()
        self._by_head: dict[str, list[Conversation]] = {}

    def _unindex(self, conv: Conversation) -> None:
        if conv.head is None:
            return
        bucket = self._by_head.get(conv.head, [])
        if conv in bucket:
            bucket.remove(conv)
        if not bucket:
            self._by_head.pop(conv.head, None)

    def claim(self, root: str, messages: list[dict[str, Any]]) -> Conversation | None:
        """The idle session whose history equals this request's earlier messages.

        Claimed sessions leave the index until ``record`` sets their new head, so two
        concurrent requests never continue the same session.
        """
        earlier, _new = split_new_turns(messages)
        if not earlier:
            return None
        for conv in reversed(self._by_head.get(history_hash(root, earlier), [])):
            if conv.state in ("idle", "live") and conv.root == root:
                self._unindex(conv)
                conv.head = None
                conv.state = "live"
                self.by_session.move_to_end(conv.session_id)
                return conv
        return None

    def record(self, session_id: str, root: str, messages: list[dict[str, Any]],
               reply: dict[str, Any] | None, *, cwd: str, flow_id: int,
               state: str = "idle") -> Conversation:
        """The session now holds ``messages`` + ``reply``: index it by that head."""
        conv = self.by_session.get(session_id)
        if conv is None:
            conv = Conversation(self._next, session_id, root,
                                transcript=transcript_path(cwd, session_id))
            self._next += 1
            self.by_session[session_id] = conv
        self._unindex(conv)
        history = messages + ([reply] if reply else [])
        conv.head = history_hash(root, history)
        conv.root = root
        conv.state = state
        conv.turns = sum(1 for m in history if m["role"] == "user")
        conv.last_flow = flow_id
        texts = [b.get("text", "") for b in blocks_of(messages[0]) if b.get("type") == "text"]
        conv.preview = " ".join(" ".join(texts).split())[:60]
        self._by_head.setdefault(conv.head, []).append(conv)
        self.by_session.move_to_end(session_id)
        while len(self.by_session) > self.cap:
            _, old = self.by_session.popitem(last=False)
            self._unindex(old)
        return conv

    def set_state(self, session_id: str | None, state: str) -> None:
        conv = self.by_session.get(session_id or "")
        if conv is not None:
            conv.state = state

    def release(self, conv: Conversation) -> None:
        """A claimed session whose continuation failed: forget it (its history is unknown)."""
        self._unindex(conv)
        conv.head = None
        conv.state = "evicted"

    def snapshot(self) -> list[Conversation]:
        return list(self.by_session.values())
