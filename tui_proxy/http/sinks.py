"""Where a flow's client events go: an SSE stream or one JSON message.

The SSE sink sends its headers with the first event, so a failure before any output
(rate limit, auth, bad model) still gets a real HTTP status. After
``ping_interval`` seconds of silence it sends a ``ping`` (and the headers, if needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiohttp import web

from tui_proxy.wire import sse
from tui_proxy.wire.errors import ClientGone, ProxyError
from tui_proxy.wire.stream import MessageAccumulator

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
        # What the client has been sent, so a failure can close exactly what is open.
        self._message_usage: dict[str, Any] | None = None  # set by message_start
        self._open_blocks: list[int] = []
        self._stopped = False

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
        for event in events:
            kind = event.get("type")
            if kind == "message_start":
                self._message_usage = dict(event.get("message", {}).get("usage") or {})
            elif kind == "content_block_start":
                self._open_blocks.append(event.get("index", 0))
            elif kind == "content_block_stop" and event.get("index") in self._open_blocks:
                self._open_blocks.remove(event["index"])
            elif kind == "message_stop":
                self._stopped = True
        await self._write(b"".join(sse.encode(event) for event in events))

    def _closing(self) -> list[dict[str, Any]]:
        """The events that close what this stream opened (blocks, then the message)."""
        if self._message_usage is None or self._stopped:
            return []  # no message to close: the API sends a bare error here too
        usage = {"input_tokens": int(self._message_usage.get("input_tokens") or 0),
                 "output_tokens": 0, "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0}
        out: list[dict[str, Any]] = [{"type": "content_block_stop", "index": i}
                                     for i in self._open_blocks]
        out.append({"type": "message_delta", "delta": {"stop_reason": None,
                                                        "stop_sequence": None},
                    "usage": usage})
        out.append({"type": "message_stop"})
        return out

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

    async def fail(self, error: ProxyError) -> None:
        """Mid-stream failure: close the open block and the message, then ``event: error``."""
        events = self._closing()
        events.append(error.body(self.request_id))
        with contextlib.suppress(ClientGone):
            await self.send(events)

    async def finish(self) -> web.StreamResponse:
        response = await self._ensure_started()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
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
