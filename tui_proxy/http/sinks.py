"""Where a flow's client events go: an SSE stream or one JSON message.

The SSE sink sends its headers with the first event, so a failure before any output
(rate limit, auth, bad model) still gets a real HTTP status. After
``ping_interval`` seconds of silence it sends a ``ping`` (and the headers, if needed).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from tui_proxy.wire import sse
from tui_proxy.wire.errors import ClientGone, ProxyError
from tui_proxy.wire.stream import MessageAccumulator, StreamTranslator

SESSION_HEADER = "X-Claude-Session-ID"


class SseSink:
    def __init__(self, request: web.Request, request_id: str, ping_interval: float,
                 headers: dict[str, str] | None = None) -> None:
        self.request = request
        self.headers = dict(headers or {})  # more response headers (x-claude-proxy-ignored)
        self.request_id = request_id
        self.ping_interval = ping_interval
        self.session_id: str | None = None
        self.response: web.StreamResponse | None = None
        self.last_write = time.monotonic()
        self._lock = asyncio.Lock()

    @property
    def started(self) -> bool:
        return self.response is not None

    async def _ensure_started(self) -> web.StreamResponse:
        if self.response is None:
            response = web.StreamResponse(status=200, headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "Connection": "keep-alive",
                "request-id": self.request_id,
                **self.headers,
            })
            if self.session_id:
                response.headers[SESSION_HEADER] = self.session_id
            self.response = response
            await response.prepare(self.request)
        return self.response

    async def _write(self, data: bytes) -> None:
        async with self._lock:
            try:
                response = await self._ensure_started()
                await response.write(data)
            except (ConnectionError, RuntimeError) as exc:
                raise ClientGone(str(exc)) from exc
            self.last_write = time.monotonic()

    async def send(self, events: list[dict[str, Any]]) -> None:
        await self._write(b"".join(sse.encode(event) for event in events))

    async def keepalive(self) -> None:
        """Runs beside the flow: a ping after each ``ping_interval`` of silence."""
        try:
            while True:
                wait = self.last_write + self.ping_interval - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                await self._write(sse.PING)
        except ClientGone:
            return

    async def fail(self, translator: StreamTranslator | None, error: ProxyError) -> None:
        """Mid-stream failure: close the open block and the message, then ``event: error``."""
        events = translator.finish(None, None) if translator is not None else []
        events.append(error.body(self.request_id))
        try:
            await self.send(events)
        except ClientGone:
            pass

    async def finish(self) -> web.StreamResponse:
        response = await self._ensure_started()
        try:
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass
        return response


class JsonSink:
    def __init__(self) -> None:
        self.session_id: str | None = None
        self.accumulator = MessageAccumulator()
        self.started = False

    async def send(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.accumulator.feed(event)

    def message(self) -> dict[str, Any]:
        assert self.accumulator.message is not None
        return self.accumulator.message
