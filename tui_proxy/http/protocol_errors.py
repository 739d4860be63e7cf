"""Errors aiohttp answers itself, below the app (a request line that is not HTTP, an
unknown method, bad headers): shaped as Anthropic errors too, never plain text."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler


class _ShapedHandler(RequestHandler):
    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        plain = super().handle_error(request, status, exc, message)  # logs, checks state
        # aiohttp builds a plain-text web.Response here; its annotation says only StreamResponse.
        plain_text = plain.text if isinstance(plain, web.Response) else None
        first = (message or plain_text or "").strip().splitlines()
        error_type = "invalid_request_error" if status < 500 else "api_error"
        text = first[0].rstrip(":") if first and status < 500 else "Internal proxy error"
        response = web.json_response({"type": "error",
                                      "error": {"type": error_type, "message": text}},
                                     status=status)
        response.force_close()
        return response


class _ShapedServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _ShapedHandler(self, loop=self._loop, **self._kwargs)


def shape_protocol_errors(runner: web.AppRunner) -> None:
    """Call after ``runner.setup()``: its connections then answer with shaped errors."""
    server = runner.server
    if server is not None and type(server) is web.Server:
        server.__class__ = _ShapedServer
