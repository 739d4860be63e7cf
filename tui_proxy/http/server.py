"""The HTTP face: aiohttp routes for the Messages API, models, token counting and health.

Runs in whatever event loop hosts it (headless ``asyncio.run`` or the Textual console).
Every response carries ``request-id``; every error is Anthropic-shaped, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from aiohttp import web

from tui_proxy import __version__
from tui_proxy.core.engine import Engine, new_request_id
from tui_proxy.core.events import Note
from tui_proxy.journal.writer import Journal
from tui_proxy.http.localusers import bind_private_socket, remove_socket
from tui_proxy.http.metrics import Metrics
from tui_proxy.http.protocol_errors import shape_protocol_errors
from tui_proxy.http.security import check_bind, check_body, load_body, refusal
from tui_proxy.sdk.cli_locate import probe_version
from tui_proxy.http.sinks import SESSION_HEADER, JsonSink, SseSink
from tui_proxy.http.threads import ThreadMap
from tui_proxy.wire.errors import ProxyError, not_found
from tui_proxy.wire.models import find_model, list_page
from tui_proxy.wire.fields import IGNORED_HEADER, header_value
from tui_proxy.wire.request import MessagesRequest, parse_messages_request
from tui_proxy.wire.tokens import estimate_input_tokens

log = logging.getLogger("tui_proxy.http.server")
ENGINE_KEY = web.AppKey("engine", Engine)
METRICS_KEY = web.AppKey("metrics", Metrics)
REQUEST_ID = web.RequestKey("request_id", str)
REJECTED = web.RequestKey("rejected", bool)  # already journalled as a refused flow
LISTEN_KEY = web.AppKey("listen", dict)  # {"socket": the Unix socket's path, or None}
UNTOLD_KEY = web.AppKey("untold", list)  # announced once: other users cannot be told apart


def announced_headers(parsed: MessagesRequest, mode: str) -> dict[str, str]:
    """``x-claude-proxy-ignored``: what the proxy accepted without honouring it (in chat and
    agent mode the client's tools and tool_choice too: the operator chose that mode)."""
    names = list(parsed.ignored)
    if mode != "passthrough" and parsed.client_tools:
        names += ["tools"] + (["tool_choice"] if parsed.tool_choice else [])
    return {IGNORED_HEADER: header_value(names)} if names else {}


def error_response(error: ProxyError, request_id: str) -> web.Response:
    response = web.json_response(error.body(request_id), status=error.status)
    response.headers.update(error.headers)
    response.headers["request-id"] = request_id
    return response


_HTTP_ERRORS = {
    404: ("not_found_error", "Not found: {path}"),
    405: ("invalid_request_error", "Method {method} is not allowed on {path}"),
    413: ("request_too_large", "Request body is larger than the proxy's limit of {limit} bytes "
                               "(setting CLAUDE_PROXY_MAX_BODY_BYTES)"),
}


def reject(request: web.Request, error: ProxyError, body: Any = None) -> None:
    """A refused request is a flow too (console, journal), recorded once."""
    if request.get(REJECTED):
        return
    request[REJECTED] = True
    request.app[ENGINE_KEY].reject(error, method=request.method, path=request.path,
                                   client=request.headers.get("User-Agent", "?")[:120],
                                   request_id=request[REQUEST_ID], body=body)


async def expect_continue(request: web.Request) -> web.StreamResponse | None:
    """``Expect``: what would be refused is refused before ``100 Continue`` (Host, Origin, key,
    Content-Type, a ``Content-Length`` over the limit, an expectation other than
    100-continue: 417), shaped and journalled like every refusal."""
    settings = request.app[ENGINE_KEY].settings
    request[REQUEST_ID] = new_request_id()
    error = refusal(request, settings, _untold(request))
    expect = request.headers.get("Expect", "")
    if error is None and expect.lower() != "100-continue":
        error = ProxyError("invalid_request_error", f"Expect: {expect[:100]!r} cannot be met "
                           "(only 100-continue is understood)", status=417)
    if error is None and (request.content_length or 0) > settings.max_body_bytes:
        error = ProxyError("request_too_large", _HTTP_ERRORS[413][1].format(
            limit=settings.max_body_bytes), status=413)
    if error is None:
        if request.version >= (1, 1):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0  # as aiohttp's own handler: the body is not begun
        return None
    reject(request, error)
    response = error_response(error, request[REQUEST_ID])
    response.force_close()  # the client may send the body anyway: do not read it as a request
    return response


@web.middleware
async def anthropic_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    request_id = new_request_id()
    request[REQUEST_ID] = request_id
    try:
        response = await handler(request)
    except ProxyError as exc:
        reject(request, exc)
        return error_response(exc, request_id)
    except web.HTTPException as exc:
        error_type, template = _HTTP_ERRORS.get(
            exc.status, ("invalid_request_error" if exc.status < 500 else "api_error",
                         "{reason}"))
        limit = request.app[ENGINE_KEY].settings.max_body_bytes
        message = template.format(path=request.path, method=request.method, limit=limit,
                                  reason=exc.reason)
        error = ProxyError(error_type, message, status=exc.status)
        if exc.status >= 400:
            reject(request, error)
        return error_response(error, request_id)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # never a traceback to the client
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(ProxyError("api_error", f"Internal proxy error: "
                                                      f"{type(exc).__name__}"), request_id)
    if not response.prepared:
        response.headers.setdefault("request-id", request_id)
    return response


def _untold(request: web.Request):
    """Announce, once per server, that this system cannot tell other local users apart."""
    def announce(why: str) -> None:
        seen = request.app[UNTOLD_KEY]
        if seen:
            return
        seen.append(why)
        request.app[ENGINE_KEY].publish(Note(None, "warning", (
            f"other local users cannot be told apart here ({why}): any account on this "
            "machine can use the proxy. Set an api_key (it then guards the TCP port) and use "
            "the Unix socket (--socket, mode 0600) for clients that can.")))
    return announce


@web.middleware
async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Who (another local user), Host, Origin, API key and Content-Type are checked before
    any body is read."""
    error = refusal(request, request.app[ENGINE_KEY].settings, _untold(request))
    if error is not None:
        raise error
    return await handler(request)


async def _read_json(request: web.Request) -> dict[str, Any]:
    settings = request.app[ENGINE_KEY].settings
    try:
        async with asyncio.timeout(settings.upload_timeout_s):
            raw = await request.read()
    except TimeoutError:
        raise ProxyError("invalid_request_error", "the request body did not arrive within "
                         f"{settings.upload_timeout_s} s (setting CLAUDE_PROXY_UPLOAD_TIMEOUT_S)",
                         status=408) from None
    data = await load_body(raw)  # linear; a body of many values is decoded off the loop
    check_body(raw, data, settings)
    return data


async def messages(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE_KEY]
    request_id = request[REQUEST_ID]
    client = request.headers.get("User-Agent", "?")[:120]
    data: Any = None
    try:
        data = await _read_json(request)
        # A message thread's continue becomes the full request (see threads.py).
        turn = ThreadMap.of(engine).begin(data, request.content_length)
        if turn is not None:  # the expanded history is held to the same max_messages (413)
            check_body(b"", turn.body, engine.settings)
        parsed = parse_messages_request(turn.body if turn else data, request.headers,
                                        unsupported=engine.settings.unsupported_params)
    except ProxyError as exc:
        # Refused before it could run: still a flow with a terminal state, seen and journalled.
        reject(request, exc, data)
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        if data is None:  # the client left before its body was in
            reject(request, ProxyError("api_error", "the client disconnected before its "
                                       "request body arrived", status=499,
                                       error_class="cancelled"))
        raise
    flow = engine.open_flow(parsed, method=request.method, path=request.path, client=client,
                            request_id=request_id, body=data)
    if turn is not None:
        engine.publish(Note(flow.id, "info", turn.note))
    sink: SseSink | JsonSink
    sink = (SseSink(request, request_id, engine.settings.ping_interval_s,
                    headers=announced_headers(parsed, flow.mode)) if parsed.stream
            else JsonSink())
    resume = request.headers.get(SESSION_HEADER) or None
    task = asyncio.create_task(
        engine.execute(flow, parsed, turn.recorder(sink) if turn else sink, resume=resume),
        name=f"flow-{flow.id}")
    flow.task = task
    keepalive = asyncio.create_task(sink.keepalive()) if isinstance(sink, SseSink) else None
    try:
        error = await asyncio.shield(task)
    except asyncio.CancelledError:
        # aiohttp cancels the handler when the client disconnects; the server's own
        # shutdown cancels flows through the engine first.
        engine.cancel(flow.id, "shutdown" if engine.shutting_down else "client_disconnect")
        with suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(task), 5)
        raise
    finally:
        if keepalive is not None:
            keepalive.cancel()
        if task.done():
            flow.task = None  # the finished task holds the driver and its CLI client: let go
    if turn is not None and error is not None:
        turn.discard()
    headers = {"request-id": request_id, **announced_headers(parsed, flow.mode)}
    if flow.session_id:
        headers[SESSION_HEADER] = flow.session_id
    if isinstance(sink, SseSink):
        if error is not None:
            if not sink.started:
                response = error_response(error, request_id)
                response.headers.update(headers)
                return response
            await sink.fail(error)
        return await sink.finish()
    if error is not None:
        response = error_response(error, request_id)
        response.headers.update(headers)
        return response
    return web.json_response(sink.message(), headers=headers)


async def count_tokens(request: web.Request) -> web.Response:
    data = await _read_json(request)
    parse_messages_request({**data, "stream": False})  # same validation as /v1/messages
    return web.json_response({"input_tokens": estimate_input_tokens(data)},
                             headers={"x-token-count": "estimate"})


async def models(request: web.Request) -> web.Response:
    return web.json_response(list_page(request.app[ENGINE_KEY].settings.model_aliases))


async def model(request: web.Request) -> web.Response:
    model_id = request.match_info["model_id"]
    entry = find_model(model_id, request.app[ENGINE_KEY].settings.model_aliases)
    if entry is None:
        raise not_found(f"model: {model_id}")
    return web.json_response(entry)


async def health(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    settings = engine.settings
    return web.json_response({
        "status": "ok" if not engine.cli.error else "degraded",
        "version": __version__,
        "cli": engine.cli.as_dict(),
        "cwd": settings.cwd,
        "socket": request.app[LISTEN_KEY]["socket"],
        "allow_other_users": settings.allow_other_users,
        "mode": settings.mode,
        "permission_mode": settings.permission_mode,
        "in_flight": engine.in_flight,
        "queued": engine.queued,
        "uptime_s": round(time.time() - engine.started_at, 1),
        # What observers lost: events a slow subscriber dropped, journal lines not written.
        "dropped_events": sum(request.app[METRICS_KEY].dropped().values()),
        "journal_errors": request.app[METRICS_KEY].journal_errors(),
        "journal_dropped": request.app[METRICS_KEY].journal_dropped(),
    })


async def metrics_page(request: web.Request) -> web.Response:
    return web.Response(text=request.app[METRICS_KEY].render(),
                        content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


def build_app(engine: Engine, metrics: Metrics | None = None) -> web.Application:
    app = web.Application(middlewares=[anthropic_errors, guard],
                          client_max_size=engine.settings.max_body_bytes)
    app[ENGINE_KEY] = engine
    app[METRICS_KEY] = metrics or Metrics(engine)
    app[LISTEN_KEY] = {"socket": None}
    app[UNTOLD_KEY] = []
    for path in ("/v1/messages", "/messages"):
        app.router.add_post(path, messages, expect_handler=expect_continue)
    app.router.add_post("/v1/messages/count_tokens", count_tokens,
                        expect_handler=expect_continue)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/v1/models/{model_id}", model)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_page)  # keyed like every endpoint but /health
    return app


class ProxyServer:
    """Start and stop the HTTP server in the running loop (headless or inside the console)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.runner: web.AppRunner | None = None
        self.host = engine.settings.host
        self.port = engine.settings.port
        self.journal: Journal | None = None
        self.socket_path: str | None = None  # the Unix socket listened on, if any
        self._socket_inode = 0
        # One for the server's life: its counters outlive a rebind to a new port.
        self.metrics = Metrics(engine, lambda: self.journal.errors if self.journal else 0)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def where(self) -> str:
        """What the proxy listens on, for people: the URL and the Unix socket, if any."""
        return self.url + (f" and unix:{self.socket_path}" if self.socket_path else "")

    async def start(self) -> None:
        check_bind(self.engine.settings)  # beyond loopback only with an API key
        self.engine.cli = await probe_version(self.engine.cli)
        app = build_app(self.engine, self.metrics)
        runner = web.AppRunner(app, access_log=None,
                               shutdown_timeout=2.0, handler_cancellation=True,
                               # a head not in within it closes the connection
                               # (slowloris), as does an idle keep-alive one
                               keepalive_timeout=self.engine.settings.header_timeout_s)
        await runner.setup()
        shape_protocol_errors(runner)
        site = web.TCPSite(runner, self.engine.settings.host, self.engine.settings.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(exc.errno, f"cannot listen on {self.engine.settings.host}:"
                                     f"{self.engine.settings.port}: {exc.strerror}") from None
        self.host = self.engine.settings.host
        self.port = runner.addresses[0][1]
        if self.engine.settings.socket:
            made: tuple[Path, int] | None = None
            try:
                sock, path, inode = bind_private_socket(self.engine.settings.socket)
                made = (path, inode)
                await web.SockSite(runner, sock).start()
            except OSError:
                await runner.cleanup()
                if made is not None:
                    remove_socket(*made)
                raise
            self.socket_path, self._socket_inode = str(path), inode
            app[LISTEN_KEY]["socket"] = self.socket_path
        self.runner = runner
        if self.journal is None:
            self.journal = Journal(self.engine)
            await self.journal.start()

    async def stop(self, drain_s: float = 0.0) -> None:
        """Stop listening, let flows finish for up to ``drain_s``, cancel the rest (each
        client gets a clean error), end every CLI, then write the journal's last lines."""
        if self.runner is not None:
            for site in list(self.runner.sites):
                await site.stop()
        await self.engine.shutdown(drain_s)
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        self._remove_socket()
        if self.journal is not None:
            await self.journal.stop()
            self.journal = None

    async def rebind(self) -> None:
        """Listen on the (changed) host/port/socket of the current settings; flows keep
        running."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        self._remove_socket()
        await self.start()

    def _remove_socket(self) -> None:
        if self.socket_path is not None:
            remove_socket(Path(self.socket_path), self._socket_inode)
            self.socket_path, self._socket_inode = None, 0
