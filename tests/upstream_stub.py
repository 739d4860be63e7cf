"""A loopback stand-in for Anthropic's Messages API, for the real Claude Code CLI.

The real CLI (bundled in the SDK wheel) talks to ``ANTHROPIC_BASE_URL``; pointed here, it runs
offline. The stub records every request body and answers from a script:

* ``replies`` — what the *main* conversation gets, in order: ``Text("…")`` or
  ``ToolUse(name, input)``. A ``ToolUse`` name is matched against the request's own ``tools``
  list (suffix match), so the stub calls the tool under whatever name the CLI advertises
  (``mcp__client__get_weather`` for a client tool). When the script runs out, it answers
  ``Text("stub reply")``.
* Side calls the CLI makes on its own (title or topic generation, quota probes) are told
  apart from the main conversation by ``is_main``: the main requests carry the Agent SDK's
  system prompt line. Side calls get a short text and do not consume the script.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SDK_LINE = "Claude Agent SDK"


@dataclass
class Text:
    text: str


@dataclass
class ToolUse:
    name: str
    input: dict[str, Any] = field(default_factory=dict)


def system_text(body: dict[str, Any]) -> str:
    system = body.get("system")
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return " ".join(b.get("text", "") for b in system if isinstance(b, dict))
    return ""


def is_main(body: dict[str, Any]) -> bool:
    return SDK_LINE in system_text(body)


def _tool_name(wanted: str, body: dict[str, Any]) -> str:
    names = [t.get("name", "") for t in body.get("tools") or [] if isinstance(t, dict)]
    for name in names:
        if name == wanted or name.endswith("__" + wanted):
            return name
    return wanted


class MessagesStub:
    def __init__(self, replies: list[Text | ToolUse] | None = None,
                 first_token_delay_s: float = 0.0) -> None:
        self.replies = list(replies or [])
        self.requests: list[dict[str, Any]] = []  # {"path", "headers", "body"}
        self.first_token_delay_s = first_token_delay_s
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def main_bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["path"].startswith("/v1/messages")
                and "count_tokens" not in r["path"] and is_main(r["body"])]

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count)
        app.router.add_route("*", "/{tail:.*}", self._other)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _record(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = {}
        self.requests.append({"path": request.path_qs, "headers": dict(request.headers),
                              "body": body})
        return body

    async def _other(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"type": "error", "error": {
            "type": "not_found_error", "message": f"stub: no {request.method} {request.path}"}},
            status=404)

    async def _count(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        return web.json_response({"input_tokens": max(1, len(json.dumps(body)) // 4)})

    def _next(self, body: dict[str, Any]) -> Text | ToolUse:
        if is_main(body) and self.replies:
            return self.replies.pop(0)
        return Text("stub reply" if is_main(body) else "Side note")

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        reply = self._next(body)
        model = body.get("model", "claude-stub")
        if isinstance(reply, ToolUse):
            block = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}",
                     "name": _tool_name(reply.name, body), "input": reply.input}
            stop = "tool_use"
        else:
            block = {"type": "text", "text": reply.text}
            stop = "end_turn"
        message = {"id": f"msg_{uuid.uuid4().hex[:20]}", "type": "message", "role": "assistant",
                   "model": model, "content": [block], "stop_reason": stop,
                   "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5}}
        if not body.get("stream"):
            return web.json_response(message, headers={"request-id": "req_stub"})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "request-id": "req_stub"})
        await response.prepare(request)

        async def send(event: str, data: dict[str, Any]) -> None:
            await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())

        await send("message_start", {"type": "message_start", "message": {
            **message, "content": [], "stop_reason": None,
            "usage": {"input_tokens": 10, "output_tokens": 1}}})
        if self.first_token_delay_s:
            await asyncio.sleep(self.first_token_delay_s)
        if block["type"] == "text":
            await send("content_block_start", {"type": "content_block_start", "index": 0,
                                               "content_block": {"type": "text", "text": ""}})
            for piece in _pieces(block["text"]):
                await send("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                   "delta": {"type": "text_delta",
                                                             "text": piece}})
        else:
            await send("content_block_start", {"type": "content_block_start", "index": 0,
                                               "content_block": {**block, "input": {}}})
            await send("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "input_json_delta",
                                                         "partial_json": json.dumps(
                                                             block["input"])}})
        await send("content_block_stop", {"type": "content_block_stop", "index": 0})
        await send("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": stop, "stop_sequence": None},
                                     "usage": {"output_tokens": 5}})
        await send("message_stop", {"type": "message_stop"})
        await response.write_eof()
        return response


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
