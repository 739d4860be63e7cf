"""Warm CLI processes: a follow-up turn skips the CLI's start-up (~0.7 s on the real CLI).

After a turn completes, its process stays connected, keyed by its SDK session and by the
options fixed at spawn (mode, system prompt, tools, thinking, cwd, permission mode, CLI,
and the request's effort, output format, task budget, betas and tool choice).
The next turn of that session reuses it; the model can change per turn (``set_model``).
Bounded (LRU eviction) and idle-timed. Optionally one spare process, pre-started for the
most recent option key, serves the next *new* conversation with that key.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from collections.abc import Awaitable, Callable


if TYPE_CHECKING:
    from tui_proxy.core.runner import LiveProcess as LiveRun


@dataclass(eq=False)
class WarmEntry:
    live: LiveRun
    key: str
    session_id: str | None
    since: float


class WarmPool:
    def __init__(self, size: int, idle_s: float, spare: bool) -> None:
        self.size = size
        self.idle_s = idle_s
        self.spare_enabled = spare
        self._warm: OrderedDict[str, WarmEntry] = OrderedDict()  # by session id
        self._spare: WarmEntry | None = None
        self._spare_task: asyncio.Task[Any] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reaper: asyncio.TimerHandle | None = None
        self.on_evict: Callable[[str | None, str], None] = lambda session, why: None

    def __len__(self) -> int:
        return len(self._warm)

    def entries(self) -> list[WarmEntry]:
        return list(self._warm.values()) + ([self._spare] if self._spare else [])

    def _close_later(self, live: LiveRun) -> None:
        task = asyncio.ensure_future(live.close())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _arm_reaper(self) -> None:
        if self._reaper is None and (self._warm or self._spare):
            self._reaper = asyncio.get_running_loop().call_later(
                max(0.05, self.idle_s / 4), self._reap)

    def _reap(self) -> None:
        self._reaper = None
        cutoff = time.monotonic() - self.idle_s
        for session, entry in list(self._warm.items()):
            if entry.since < cutoff or entry.live.closed or not entry.live.transport.is_alive():
                del self._warm[session]
                self._close_later(entry.live)
                self.on_evict(session, "idle")
        if self._spare and (self._spare.since < cutoff or self._spare.live.closed):
            self._close_later(self._spare.live)
            self._spare = None
        self._arm_reaper()

    # -- warm follow-ups --------------------------------------------------------------

    def put(self, session_id: str, key: str, live: LiveRun) -> None:
        if self.size <= 0 or live.closed or not live.transport.is_alive():
            self._close_later(live)
            return
        old = self._warm.pop(session_id, None)
        if old is not None and old.live is not live:
            self._close_later(old.live)
        self._warm[session_id] = WarmEntry(live, key, session_id, time.monotonic())
        while len(self._warm) > self.size:
            session, entry = self._warm.popitem(last=False)
            self._close_later(entry.live)
            self.on_evict(session, "lru")
        self._arm_reaper()

    def take(self, session_id: str | None, key: str) -> LiveRun | None:
        entry = self._warm.get(session_id or "")
        if entry is None:
            return None
        del self._warm[session_id]  # type: ignore[arg-type]
        if entry.key != key or not entry.live.transport.is_alive():
            self._close_later(entry.live)  # options fixed at spawn changed: not reusable
            return None
        return entry.live

    # -- the spare ----------------------------------------------------------------------

    def take_spare(self, key: str) -> LiveRun | None:
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        if spare.key != key or not spare.live.transport.is_alive():
            self._close_later(spare.live)
            return None
        return spare.live

    def prepare_spare(self, key: str, start: Callable[[], Awaitable[LiveRun]]) -> None:
        """Pre-start one process for ``key`` in the background (replacing an older spare)."""
        if not self.spare_enabled or (self._spare_task and not self._spare_task.done()):
            return
        if self._spare is not None and self._spare.key == key:
            return

        async def make() -> None:
            try:
                live = await start()
            except Exception:
                return  # a failed spare only means the next request starts cold
            if self._spare is not None:
                self._close_later(self._spare.live)
            self._spare = WarmEntry(live, key, None, time.monotonic())
            self._arm_reaper()

        self._spare_task = asyncio.ensure_future(make())

    async def close_all(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        if self._spare_task is not None and not self._spare_task.done():
            self._spare_task.cancel()
            with contextlib.suppress(BaseException):
                await self._spare_task
        lives = [e.live for e in self.entries()]
        self._warm.clear()
        self._spare = None
        for live in lives:
            self._close_later(live)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
