"""A loopback stand-in for Anthropic's Messages API, for the real Claude Code CLI.

The real CLI (bundled in the SDK wheel) talks to ``ANTHROPIC_BASE_URL``; pointed here, it runs
offline. The stub records every request body and answers from a script:

* ``replies`` — what the *main* conversation gets, in order: ``Text("…")``,
  ``ToolUse(name, input)``, a list of ``ToolUse`` (parallel calls in one message), or a callable
  ``f(body) -> reply`` that answers from the request itself. A ``ToolUse`` name is matched
  against the request's own ``tools`` list (suffix match), so the stub calls the tool under
  whatever name the CLI advertises (``mcp__client__get_weather`` for a client tool). When the
  script runs out, it answers ``Text("stub reply")``.
* Side calls the CLI makes on its own are told apart from the main conversation by
  ``is_main``: a main request carries the Agent SDK's system prompt line ("You are a Claude
  agent, built on Anthropic's Claude Agent SDK.") and asks for more than one token. The quota
  probe (``messages: [{"role": "user", "content": "quota"}]``, ``max_tokens: 1``, no system,
  not streamed) and title/topic generation (their own short system prompts) are side calls: they
  get a short text (``max_tokens: 1`` → one token, ``stop_reason: "max_tokens"``) and never
  consume the script. With CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1, 2.1.330 made none in
  these scenarios: every request was a main one, on ``/v1/messages?beta=true``.
* Everything is deterministic: ids are counters (``msg_stub_0001``, ``toolu_stub_0001``),
  usage is fixed, text streams one word per delta.

Every request is recorded in ``requests`` as ``{"path", "headers", "body", "t"}`` (the path with its
query string), whatever its route. ``count_tokens`` answers ``{"input_tokens": N}``; any other
route answers an Anthropic-shaped 404.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
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
    return SDK_LINE in system_text(body) and body.get("max_tokens") != 1


Reply = Text | ToolUse | list[ToolUse]
Script = Reply | Callable[[dict[str, Any]], Reply]


def _tool_name(wanted: str, body: dict[str, Any]) -> str:
    names = [t.get("name", "") for t in body.get("tools") or [] if isinstance(t, dict)]
    for name in names:
        if name == wanted or name.endswith("__" + wanted):
            return name
    return wanted


class MessagesStub:
    def __init__(self, replies: list[Script] | None = None,
                 first_token_delay_s: float = 0.0) -> None:
        self.replies = list(replies or [])
        self._ids = itertools.count(1)
        self.requests: list[dict[str, Any]] = []  # {"path", "headers", "body"}
        self.first_token_delay_s = first_token_delay_s
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def message_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].split("?")[0] == "/v1/messages"]

    def main_bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.message_requests() if is_main(r["body"])]

    def side_bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.message_requests() if not is_main(r["body"])]

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
                              "body": body, "t": time.monotonic()})
        return body

    async def _other(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"type": "error", "error": {
            "type": "not_found_error", "message": f"stub: no {request.method} {request.path}"}},
            status=404)

    async def _count(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        return web.json_response({"input_tokens": max(1, len(json.dumps(body)) // 4)})

    def _next(self, body: dict[str, Any]) -> Reply:
        if not is_main(body):
            return Text("Side" if body.get("max_tokens") == 1 else "Side note")
        if not self.replies:
            return Text("stub reply")
        reply = self.replies.pop(0)
        return reply(body) if callable(reply) else reply

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        reply = self._next(body)
        model = body.get("model", "claude-stub")
        uses = reply if isinstance(reply, list) else [reply] if isinstance(reply, ToolUse) else []
        n = next(self._ids)
        if uses:
            blocks = [{"type": "tool_use", "id": f"toolu_stub_{n:04d}_{i}",
                       "name": _tool_name(use.name, body), "input": use.input}
                      for i, use in enumerate(uses)]
            stop = "tool_use"
        else:
            assert isinstance(reply, Text), f"not a stub reply: {reply!r}"
            blocks = [{"type": "text", "text": reply.text}]
            stop = "max_tokens" if body.get("max_tokens") == 1 else "end_turn"
        message = {"id": f"msg_stub_{n:04d}", "type": "message", "role": "assistant",
                   "model": model, "content": blocks, "stop_reason": stop,
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
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                await send("content_block_start", {"type": "content_block_start", "index": index,
                                                   "content_block": {"type": "text", "text": ""}})
                for piece in _pieces(block["text"]):
                    await send("content_block_delta", {"type": "content_block_delta",
                                                       "index": index, "delta": {
                                                           "type": "text_delta", "text": piece}})
            else:
                await send("content_block_start", {"type": "content_block_start", "index": index,
                                                   "content_block": {**block, "input": {}}})
                await send("content_block_delta", {"type": "content_block_delta", "index": index,
                                                   "delta": {"type": "input_json_delta",
                                                             "partial_json": json.dumps(
                                                                 block["input"])}})
            await send("content_block_stop", {"type": "content_block_stop", "index": index})
        await send("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": stop, "stop_sequence": None},
                                     "usage": {"output_tokens": 5}})
        await send("message_stop", {"type": "message_stop"})
        await response.write_eof()
        return response


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
