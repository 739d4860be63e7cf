"""The one bridge between the engine and its subscribers.

``publish`` appends to each subscriber's bounded deque and never awaits, so the request
path never waits on a reader. A slow subscriber loses its oldest events (counted in
``dropped``) instead of slowing anyone down.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from tui_proxy.core.events import Event


class Subscription:
    def __init__(self, bus: EventBus, maxlen: int, name: str,
                 accept: Callable[[Event], bool] | None) -> None:
        self._bus = bus
        self._queue: deque[Event] = deque(maxlen=maxlen)
        self._wake: asyncio.Event | None = None
        self._accept = accept
        self.name = name
        self.dropped = 0
        self._dropped_told = 0

    def _push(self, event: Event) -> None:
        if self._accept is not None and not self._accept(event):
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(event)
        if self._wake is not None:
            self._wake.set()

    def drain(self, limit: int | None = None) -> list[Event]:
        queue = self._queue
        count = len(queue) if limit is None else min(limit, len(queue))
        return [queue.popleft() for _ in range(count)]

    def take_dropped(self) -> int:
        """Events lost since the last call, so a subscriber can say so where it shows
        things (its own log line), not only in /metrics."""
        new, self._dropped_told = self.dropped - self._dropped_told, self.dropped
        return new

    def __len__(self) -> int:
        return len(self._queue)

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until something is queued; False on timeout."""
        if self._queue:
            return True
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(self, maxlen: int = 50_000, name: str = "",
                  accept: Callable[[Event], bool] | None = None) -> Subscription:
        sub = Subscription(self, maxlen, name, accept)
        self._subs.append(sub)
        return sub

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subs)

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, event: Event) -> None:
        for sub in self._subs:
            sub._push(event)
