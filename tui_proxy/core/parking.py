"""Parked runs: CLI turns waiting for the client's tool results.

A run parks when its flow's response ended with client ``tool_use`` blocks. It is taken
by the request that carries the matching ``tool_result`` ids — when that request fits it:
a parked call can only be answered with tool results, so a message that carries more (the
user's new text after an interrupt or a rejected permission, an image, per-turn system
context) or declares another tool set *retires* the run, and a fresh CLI seeded with the
exact history resumes the turn (see ``sdk.seed``). Otherwise it is released — its CLI
ended and its flow marked cancelled — when it times out, when the conversation arrives
with a history that does not answer it (the user interrupted and moved on), when the
operator cancels it, at shutdown, or when more than ``max_parked`` runs are parked (the
oldest goes, reason ``parked_limit``). A released run's results, when they come, find no
parked run: the engine resumes the turn in a fresh CLI seeded with the exact history.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui_proxy.core.events import Cancelled, Note
from tui_proxy.core.flow import Flow, FlowState
from tui_proxy.wire.errors import cancelled
from tui_proxy.wire.tools import offered_tools, tool_signature
from tui_proxy.wire.history import blocks_of
from tui_proxy.wire.request import MessagesRequest

if TYPE_CHECKING:
    from tui_proxy.core.engine import Engine
    from tui_proxy.core.runner import LiveProcess as LiveRun


@dataclass(eq=False)
class ParkedEntry:
    flow: Flow
    live: LiveRun
    ids: tuple[str, ...]
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class ParkedRuns:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._by_id: dict[str, ParkedEntry] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len({id(e) for e in self._by_id.values()})

    def entries(self) -> list[ParkedEntry]:
        seen: dict[int, ParkedEntry] = {}
        for entry in self._by_id.values():
            seen.setdefault(id(entry), entry)
        return list(seen.values())

    def park(self, flow: Flow, live: LiveRun) -> ParkedEntry:
        entry = ParkedEntry(flow, live, tuple(u["id"] for u in live.waiting_on))
        timeout_s = self.engine.settings.parked_timeout_ms / 1000
        entry.timer = asyncio.get_running_loop().call_later(
            timeout_s, self._spawn_release, entry, "parked timeout")
        for use_id in entry.ids:
            self._by_id[use_id] = entry
        self._enforce_limit(flow)
        return entry

    def _enforce_limit(self, newest: Flow) -> None:
        """Each parked run is a live CLI (~170 MB with the real one): at most ``max_parked``.
        Over the bound, the oldest go; their clients' results, when they come, are answered
        by a fresh CLI seeded with the exact history."""
        limit = self.engine.settings.max_parked
        entries = self.entries()  # in parking order, oldest first
        for entry in entries[:max(0, len(entries) - limit)]:
            why = f"more than max_parked ({limit}) parked runs"
            self.engine.publish(Note(entry.flow.id, "warning", (
                f"released: {why}; this run was the oldest. Its CLI is ended; when the "
                "client sends the tool results, a fresh CLI resumes the turn from the exact "
                "history")))
            if entry.flow is not newest:
                self.engine.publish(Note(newest.id, "warning", (
                    f"released: {why}; parked flow #{entry.flow.id} (the oldest) was "
                    "released to make room")))
            self._spawn_release(entry, "parked_limit")

    def _detach(self, entry: ParkedEntry) -> None:
        for use_id in entry.ids:
            if self._by_id.get(use_id) is entry:
                del self._by_id[use_id]
        if entry.timer is not None:
            entry.timer.cancel()

    def take(self, request: MessagesRequest) -> tuple[ParkedEntry | None, str | None]:
        """The parked run this request's tool results answer, now owned by the caller;
        or (None, why) when the request answers one that cannot take it (retired)."""
        last = blocks_of(request.messages[-1])
        results = [b["tool_use_id"] for b in last if b.get("type") == "tool_result"]
        entry = next((self._by_id[i] for i in results if i in self._by_id), None)
        if entry is None:
            return None, None
        self._detach(entry)
        entry.flow.transition(FlowState.DONE)  # its tool calls got their answers
        self.engine.finish(entry.flow, None)
        why = misfit(entry, request)
        if why is not None:
            self._spawn_close(entry)
            return None, why
        return entry, None

    def _spawn_close(self, entry: ParkedEntry) -> None:
        self._forget(entry)
        task = asyncio.ensure_future(entry.live.close())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def release_superseded(self, request: MessagesRequest) -> None:
        """Release runs whose tool calls appear in this history but are not answered by it."""
        if not self._by_id:
            return
        answered = {b["tool_use_id"] for b in blocks_of(request.messages[-1])
                    if b.get("type") == "tool_result"}
        for message in request.messages[:-1]:
            if message["role"] != "assistant":
                continue
            for block in blocks_of(message):
                use_id = block.get("id") if block.get("type") == "tool_use" else None
                entry = self._by_id.get(use_id) if use_id else None
                if entry is not None and not answered & set(entry.ids):
                    self._spawn_release(entry, "superseded")

    def release_flow(self, flow_id: int, reason: str) -> bool:
        for entry in self.entries():
            if entry.flow.id == flow_id:
                self._spawn_release(entry, reason)
                return True
        return False

    def _spawn_release(self, entry: ParkedEntry, reason: str) -> None:
        self._detach(entry)
        task = asyncio.ensure_future(self._release(entry, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _forget(self, entry: ParkedEntry) -> None:
        """Its session ends mid-turn with its CLI: the conversation map must not show it
        parked (nor continue it)."""
        self.engine.conversations.set_state(entry.live.session_id, "evicted")

    async def _release(self, entry: ParkedEntry, reason: str) -> None:
        self._forget(entry)
        await entry.live.close()
        flow = entry.flow
        if flow.state == FlowState.PARKED:
            flow.transition(FlowState.CANCELLED)
            flow.cancel_reason = reason
            self.engine.publish(Cancelled(flow.id, reason))
            self.engine.finish(flow, cancelled(reason, flow.id))

    async def release_all(self, reason: str) -> None:
        for entry in self.entries():
            self._spawn_release(entry, reason)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)


def misfit(entry: ParkedEntry, request: MessagesRequest) -> str | None:
    """Why this request cannot continue the parked turn, or None."""
    extra = [b.get("type", "?") for b in blocks_of(request.messages[-1])
             if b.get("type") != "tool_result"]
    if extra:
        kinds = ", ".join(sorted(set(extra)))
        return (f"the message carries {len(extra)} block(s) beside its tool results ({kinds}), "
                "which a parked tool call cannot take")
    bridge = entry.live.bridge
    now = tool_signature(offered_tools(request))
    if bridge is not None and now != bridge.signature:
        added = sorted(set(now) - set(bridge.signature))
        removed = sorted(set(bridge.signature) - set(now))
        changed = sorted(n for n in set(now) & set(bridge.signature)
                         if now[n] != bridge.signature[n])
        parts = [f"+{', +'.join(added)}" if added else "",
                 f"-{', -'.join(removed)}" if removed else "",
                 f"changed {', '.join(changed)}" if changed else ""]
        return "the tool set changed (" + "; ".join(p for p in parts if p) + ")"
    return None
