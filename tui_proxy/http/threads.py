"""Message threads (``anthropic-beta: message-threads-2026-08-12``): the server holds the history.

The official SDKs' tool runners (``anthropic`` ``client.beta.messages.tool_runner``,
``@anthropic-ai/sdk`` ``client.beta.messages.toolRunner``) and ``client.beta.messages.thread()``
send ``thread: {"type": "create"}`` with the full request, then
``thread: {"type": "continue", "previous_message_id": "<id of the previous response>"}`` with only
the new messages (a tool runner: the ``tool_result`` message) and without ``system`` and
``tools``, which the server keeps from the ``create``. The response is an ordinary message; its
``id`` is what the next turn continues from.

The proxy keeps, per response message id it sent on a thread, the turn's effective request
fields (model, system, tools, metadata, …), the messages it carried and the reply the client
received. A ``continue`` is *expanded* into the full request (every earlier message and reply,
then the new messages; fields inherited unless the request gives them) before the normal
parse, so it flows through the ordinary path: its tool results answer the parked run
(``parking``), or the conversation map continues the session. An unknown or forgotten
``previous_message_id`` is a 400 naming it, with ``details.error_code: "thread_not_found"``:
the SDKs then replay the full conversation under a new thread; nothing starts fresh in silence.

A turn is recorded when its ``message_stop`` passes through the recording sink, before the
client can read it, so a fast client's ``continue`` never finds its thread missing. Bounded:
at most ``max_threads`` threads and about ``max_bytes`` of messages, least recently used
first out, and a thread idle for ``idle_s`` is forgotten.
"""

from __future__ import annotations

import json
import logging
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from tui_proxy.wire.errors import ProxyError, invalid_request
from tui_proxy.wire.request import parse_messages_request
from tui_proxy.wire.stream import MessageAccumulator

log = logging.getLogger("tui_proxy.http.threads")

THREADS_BETA = "message-threads-2026-08-12"
# Fields a turn does not hand on: the history is rebuilt, and each request says if it streams.
_NOT_INHERITED = frozenset({"messages", "thread", "stream"})
# What the SDKs leave out of a continue because the server keeps it from the create.
_KEPT_BY_THREAD = ("system", "tools")


class ThreadError(ProxyError):
    """An Anthropic-shaped error with ``error.details`` (the SDKs read ``details.error_code``)."""

    def __init__(self, message: str, *, details: dict[str, Any], **kwargs: Any) -> None:
        super().__init__("invalid_request_error", message, **kwargs)
        self.details = details

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        body = super().body(request_id)
        body["error"]["details"] = dict(self.details)
        return body


@dataclass(eq=False)
class _Turn:
    message_id: str
    sent: list[dict[str, Any]]     # the messages this request added (as the client sent them)
    reply: dict[str, Any]          # the assistant message the client received
    fields: dict[str, Any]         # the effective request fields, minus messages/thread/stream
    size: int


@dataclass(eq=False)
class _Thread:
    turns: list[_Turn]
    used: float
    size: int = 0


@dataclass(eq=False)
class ThreadTurn:
    """One request on a thread, from its expansion to its recorded reply."""

    map: ThreadMap
    kind: str                                  # "create" | "continue"
    previous_message_id: str | None
    body: dict[str, Any]                       # the full request, to parse as usual
    sent: list[dict[str, Any]]
    fields: dict[str, Any]
    size: int
    note: str
    parent: tuple[_Thread, int] | None = None  # the thread and turn index continued from
    message_id: str | None = field(default=None, init=False)

    def recorder(self, sink: Any) -> RecordingSink:
        return RecordingSink(sink, self)

    def commit(self, message_id: str, reply: dict[str, Any]) -> None:
        self.message_id = message_id
        self.map._commit(self, message_id, reply)

    def discard(self) -> None:
        """The flow failed after its message ended: continuing from it must not work."""
        if self.message_id is not None:
            self.map.forget(self.message_id)


class RecordingSink:
    """Passes client events through to ``inner``; records the turn as its message ends.

    Recording happens before the batch holding ``message_stop`` is sent, so the thread is
    known before the client can read the response id it would continue from. A stream that
    fails midway is closed by the server on the inner sink, never here: nothing is recorded.
    """

    def __init__(self, inner: Any, turn: ThreadTurn) -> None:
        self._inner = inner
        self._turn = turn
        self._reply = MessageAccumulator()

    @property
    def session_id(self) -> str | None:
        return self._inner.session_id

    @session_id.setter
    def session_id(self, value: str | None) -> None:
        self._inner.session_id = value

    async def send(self, events: list[dict[str, Any]]) -> None:
        stopped = False
        for event in events:
            self._reply.feed(event)
            stopped = stopped or event.get("type") == "message_stop"
        message = self._reply.message
        if stopped and message is not None and self._turn.message_id is None:
            self._turn.commit(message["id"], {"role": "assistant",
                                              "content": message["content"]})
        await self._inner.send(events)


def _json_size(value: Any) -> int:
    try:
        return len(json.dumps(value, ensure_ascii=False, default=str))
    except (TypeError, ValueError):
        return 0


class ThreadMap:
    """Response message id → the thread it belongs to; bounded and in memory."""

    def __init__(self, *, max_threads: int = 1024, max_bytes: int = 256 * 1024 * 1024,
                 idle_s: float = 6 * 3600, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_threads = max_threads
        self.max_bytes = max_bytes
        self.idle_s = idle_s
        self.clock = clock
        self._threads: OrderedDict[int, _Thread] = OrderedDict()  # least recently used first
        self._by_message: dict[str, tuple[_Thread, int]] = {}
        self.size = 0

    _of: weakref.WeakKeyDictionary[Any, ThreadMap] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, owner: Any) -> ThreadMap:
        """The map that belongs to ``owner`` (the engine): it outlives a rebound server."""
        found = cls._of.get(owner)
        if found is None:
            found = cls._of[owner] = cls()
        return found

    def __len__(self) -> int:
        return len(self._threads)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._by_message

    def clear(self) -> None:
        self._threads.clear()
        self._by_message.clear()
        self.size = 0

    # -- a request ------------------------------------------------------------------

    def begin(self, data: dict[str, Any], size: int | None = None) -> ThreadTurn | None:
        """The request's thread turn (``data`` expanded in ``.body``), or None without ``thread``.

        Raises a 400 naming the field for a malformed ``thread`` and for a
        ``previous_message_id`` this proxy does not hold."""
        thread = data.get("thread")
        if thread is None:
            return None
        if not isinstance(thread, dict) or thread.get("type") not in ("create", "continue"):
            raise invalid_request("thread: must be an object with type 'create' or 'continue' "
                                  f"(message threads, anthropic-beta {THREADS_BETA})")
        new = data.get("messages")
        own = {k: v for k, v in data.items() if k not in _NOT_INHERITED}
        if thread["type"] == "create":
            body = {k: v for k, v in data.items() if k != "thread"}
            sent = new if isinstance(new, list) else []
            return ThreadTurn(self, "create", None, body, sent, own,
                              size if size is not None else _json_size(sent),
                              "thread create: the proxy holds this conversation under the "
                              "response's message id")
        previous = thread.get("previous_message_id")
        if not isinstance(previous, str) or not previous:
            raise invalid_request("thread.previous_message_id: field required (the id of the "
                                  "response this turn continues) for thread type 'continue'")
        self._expire()
        found = self._by_message.get(previous)
        if found is None:
            raise ThreadError(
                f"thread.previous_message_id: no thread here holds message {previous!r} (never "
                "sent by this proxy, forgotten after "
                f"{self.idle_s / 3600:g} h idle or to stay within its memory bound, or the "
                "proxy restarted); replay the full conversation with thread "
                '{"type": "create"}', details={"error_code": "thread_not_found"},
                error_class="thread_not_found")
        if not isinstance(new, list):
            raise invalid_request("messages: must be a list of message objects")
        if not new:
            raise invalid_request("messages: a thread continue must carry at least one new "
                                  "message (a paused turn cannot be resumed through the proxy)")
        held, index = found
        last = held.turns[index]
        fields = {**last.fields, **own}
        # The new messages alone must be a valid request: errors then name the client's own
        # indexes, not those of the expanded history.
        parse_messages_request({**fields, "messages": new, "stream": False})
        history: list[dict[str, Any]] = []
        for turn in held.turns[:index + 1]:
            history.extend(turn.sent)
            history.append(turn.reply)
        body = {**fields, "messages": history + new}
        if "stream" in data:
            body["stream"] = data["stream"]
        inherited = [k for k in _KEPT_BY_THREAD if k in last.fields and k not in own]
        note = (f"thread continue of {previous}: {len(history)} earlier message(s) restored "
                f"from the proxy's thread map, then {len(new)} new"
                + (f"; {' and '.join(inherited)} inherited" if inherited else ""))
        self._touch(held)
        return ThreadTurn(self, "continue", previous, body, new, fields,
                          size if size is not None else _json_size(new), note,
                          parent=(held, index))

    # -- recording ------------------------------------------------------------------

    def _commit(self, turn: ThreadTurn, message_id: str, reply: dict[str, Any]) -> None:
        record = _Turn(message_id, turn.sent, reply, turn.fields, turn.size + _json_size(reply))
        if turn.parent is None:
            held = _Thread([record], self.clock())
        else:
            parent, index = turn.parent
            if index == len(parent.turns) - 1 and id(parent) in self._threads:
                held = parent  # the usual case: the thread grows
            else:
                # Continued from an earlier turn (a retry, a fork), or the thread was dropped
                # meanwhile: a new thread from that turn's history.
                held = _Thread(parent.turns[:index + 1], self.clock(),
                               sum(t.size for t in parent.turns[:index + 1]))
            held.turns.append(record)
        held.size += record.size
        if id(held) not in self._threads:
            self._threads[id(held)] = held
            self.size += held.size
        else:
            self.size += record.size
        self._by_message[message_id] = (held, len(held.turns) - 1)
        self._touch(held)
        self._expire()
        self._shrink()

    def forget(self, message_id: str) -> None:
        found = self._by_message.pop(message_id, None)
        if found is None:
            return
        held, index = found
        if index != len(held.turns) - 1 or id(held) not in self._threads:
            return
        if len(held.turns) == 1:
            self._by_message[message_id] = found  # _drop removes what it finds
            self._drop(held)
            return
        turn = held.turns.pop()
        held.size -= turn.size
        self.size -= turn.size

    # -- bounds ---------------------------------------------------------------------

    def _touch(self, held: _Thread) -> None:
        held.used = self.clock()
        if id(held) in self._threads:
            self._threads.move_to_end(id(held))

    def _drop(self, held: _Thread) -> None:
        if self._threads.pop(id(held), None) is None:
            return
        self.size -= held.size
        for turn in held.turns:
            found = self._by_message.get(turn.message_id)
            if found is not None and found[0] is held:
                del self._by_message[turn.message_id]

    def _expire(self) -> None:
        cutoff = self.clock() - self.idle_s
        while self._threads:
            oldest = next(iter(self._threads.values()))
            if oldest.used > cutoff:
                break
            log.info("thread of %s forgotten after %g s idle", oldest.turns[-1].message_id,
                     self.idle_s)
            self._drop(oldest)

    def _shrink(self) -> None:
        while self._threads and (len(self._threads) > self.max_threads
                                 or self.size > self.max_bytes):
            oldest = next(iter(self._threads.values()))
            log.info("thread of %s forgotten to stay within %d threads / %d bytes",
                     oldest.turns[-1].message_id, self.max_threads, self.max_bytes)
            self._drop(oldest)
