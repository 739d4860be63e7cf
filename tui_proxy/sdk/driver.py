"""Run one flow through the Claude Agent SDK.

One ``ClaudeSDKClient`` on a ``FastCloseTransport`` per flow: the client gives us the
control channel (hooks, interrupt) and the transport lets an aborted flow end its CLI
at once. The driver translates SDK messages into client events (through the sink) and
engine events (through ``publish``); failures surface as ``ProxyError``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import suppress
from typing import Any, AsyncIterator, Callable, Protocol

from claude_agent_sdk import (
    AssistantMessage, ClaudeSDKClient, RateLimitEvent, ResultMessage, StreamEvent,
    SystemMessage, TextBlock, ToolResultBlock, ToolUseBlock, UserMessage,
)

from ..events import (
    ApiRetry, Event, Note, RateLimitInfo, SdkSpawned, SessionInfo, StderrLine, TextDelta,
    ThinkingDelta, TimedOut, ToolResult,
)
from ..flow import Flow, FlowState
from ..settings import Settings
from ..wire.errors import ClientGone, ProxyError, timed_out
from ..wire.history import build_prompt
from ..wire.request import MessagesRequest
from ..wire.stream import StreamTranslator
from .failures import FailureFacts, classify_api_error, classify_exception
from .observe import ToolObserver, summarize
from .options import BuiltOptions, build_options
from .transport import FastCloseTransport

CLOSE_BUDGET_S = 3.0


class Sink(Protocol):
    session_id: str | None

    async def send(self, events: list[dict[str, Any]]) -> None: ...


def is_session_id(value: str | None) -> bool:
    if not value:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def _one_frame(blocks: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    yield {"type": "user", "message": {"role": "user", "content": blocks},
           "parent_tool_use_id": None}


class _Timeouts:
    """Total and inactivity limits on one ``asyncio.timeout`` that is re-armed per message."""

    def __init__(self, flow: Flow, settings: Settings) -> None:
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.total_s = settings.timeout_ms / 1000
        self.inactivity_s = settings.inactivity_ms / 1000
        # The total limit counts from the request's arrival, queueing included.
        self.total_deadline = loop.time() - (time.monotonic() - flow.created_mono) + self.total_s
        self.scope: asyncio.Timeout | None = None

    def next_deadline(self) -> float:
        return min(self.total_deadline, self.loop.time() + self.inactivity_s)

    def touch(self) -> None:
        if self.scope is not None:
            self.scope.reschedule(self.next_deadline())

    def which(self) -> tuple[str, float]:
        if self.loop.time() >= self.total_deadline - 0.01:
            return "total", self.total_s
        return "inactivity", self.inactivity_s


class FlowDriver:
    def __init__(self, flow: Flow, request: MessagesRequest, settings: Settings,
                 cli_path: str | None, mode: str, publish: Callable[[Event], None],
                 sink: Sink, resume: str | None = None) -> None:
        self.flow = flow
        self.request = request
        self.settings = settings
        self.cli_path = cli_path
        self.mode = mode
        self.publish = publish
        self.sink = sink
        self.resume = resume if is_session_id(resume) else None
        if resume and not self.resume:
            publish(Note(flow.id, "warning",
                         f"X-Claude-Session-ID {resume!r} is not a session id; starting fresh"))
        self.translator = StreamTranslator(request.model, forward_thinking=request.wants_thinking)
        self.facts = FailureFacts()
        self.observer = ToolObserver(flow.id, settings.cwd, publish,
                                     on_tool_start=lambda: self._set_state(FlowState.TOOL),
                                     on_tool_end=lambda: self._set_state(FlowState.STREAMING))
        self.transport: FastCloseTransport | None = None
        self.client: ClaudeSDKClient | None = None
        self.built: BuiltOptions | None = None
        self.result: ResultMessage | None = None
        self._tool_names: dict[str, str] = {}

    # -- small helpers -------------------------------------------------------------

    def _set_state(self, state: FlowState) -> None:
        if not self.flow.state.terminal:
            self.flow.state = state

    def _on_stderr(self, line: str) -> None:
        self.flow.stderr.append(line)
        self.publish(StderrLine(self.flow.id, line))

    def _stderr_tail(self, lines: int = 12) -> str:
        return "\n".join(list(self.flow.stderr)[-lines:])

    # -- the run ----------------------------------------------------------------------

    async def run(self) -> None:
        timeouts = _Timeouts(self.flow, self.settings)
        try:
            async with asyncio.timeout(timeouts.next_deadline()) as scope:
                timeouts.scope = scope
                await self._connect(timeouts)
                await self._converse(timeouts)
        except TimeoutError:
            limit, limit_s = timeouts.which()
            self.publish(TimedOut(self.flow.id, limit, limit_s, self.flow.elapsed_s))
            self.flow.state = FlowState.TIMED_OUT
            raise timed_out(limit, limit_s) from None
        finally:
            await self._close()

    async def _spawn(self, resume: str | None) -> None:
        self.built = build_options(
            self.settings, self.request, mode=self.mode, cli_path=self.cli_path,
            stderr=self._on_stderr,
            hooks=self.observer.hooks() if self.mode == "agent" else None, resume=resume)
        self.flow.options_summary = self.built.summary
        self.transport = FastCloseTransport(prompt=_empty(), options=self.built.options)
        self.client = ClaudeSDKClient(self.built.options, transport=self.transport)
        started = time.monotonic()
        await self.client.connect()
        self.publish(SdkSpawned(self.flow.id, self.cli_path or "(SDK lookup)",
                                self.transport.pid, self.built.summary,
                                (time.monotonic() - started) * 1000))

    async def _connect(self, timeouts: _Timeouts) -> None:
        self.flow.state = FlowState.STARTING
        self.flow.sdk_started_mono = time.monotonic()
        try:
            await self._spawn(self.resume)
        except Exception as exc:
            if not self.resume:
                raise classify_exception(exc, self._facts_now()) from exc
            # An unknown or expired session: the CLI refuses before initialize. Start fresh.
            self.publish(Note(self.flow.id, "warning",
                              f"session {self.resume} could not be resumed ({exc}); "
                              "starting a fresh session with the full history"))
            await self._close()
            self.resume = None
            try:
                await self._spawn(None)
            except Exception as exc2:
                raise classify_exception(exc2, self._facts_now()) from exc2
        self.flow.resumed = self.resume is not None
        timeouts.touch()

    def _facts_now(self) -> FailureFacts:
        self.facts.stderr_tail = self._stderr_tail()
        return self.facts

    async def _converse(self, timeouts: _Timeouts) -> None:
        assert self.client is not None
        blocks = build_prompt(self.request.messages, session_has_history=self.resume is not None)
        try:
            await self.client.query(_one_frame(blocks))
            async for message in self.client.receive_response():
                timeouts.touch()
                await self._handle(message)
        except (ProxyError, ClientGone, asyncio.CancelledError, TimeoutError):
            raise
        except Exception as exc:
            raise classify_exception(exc, self._facts_now()) from exc
        result = self.result
        if result is None:
            raise classify_exception(RuntimeError("the CLI ended the turn without a result"),
                                     self._facts_now())
        if result.is_error or self.facts.assistant_error:
            self.facts.result_is_error = True
            raise classify_api_error(self._facts_now())
        usage = result.usage or {}
        self.flow.input_tokens = int(usage.get("input_tokens") or 0)
        self.flow.output_tokens = int(usage.get("output_tokens") or 0)
        self.flow.cost_usd = result.total_cost_usd
        stop_reason = getattr(result, "stop_reason", None) or self.translator.last_stop_reason \
            or "end_turn"
        if self.mode == "agent" and stop_reason == "tool_use":
            stop_reason = "end_turn"  # tool turns ran inside the proxy; the client sees text
        self.flow.stop_reason = stop_reason
        await self.sink.send(self.translator.finish(stop_reason, usage))

    async def _handle(self, message: Any) -> None:
        flow = self.flow
        if isinstance(message, StreamEvent):
            if message.parent_tool_use_id:
                return  # a subagent's inner stream: not part of the reply
            event = message.event
            kind = event.get("type")
            if kind == "content_block_delta":
                delta = event.get("delta") or {}
                if delta.get("type") == "text_delta":
                    self._first_token()
                    flow.response_text_chars += len(delta.get("text", ""))
                    self.publish(TextDelta(flow.id, delta.get("text", "")))
                elif delta.get("type") == "thinking_delta":
                    self._first_token()
                    self.publish(ThinkingDelta(flow.id, delta.get("thinking", "")))
            elif kind == "message_start":
                self._set_state(FlowState.STREAMING)
            elif kind == "message_delta":
                out = ((event.get("usage") or {}).get("output_tokens"))
                if isinstance(out, int):
                    flow.output_tokens = max(flow.output_tokens, out)
            client_events = self.translator.feed(event)
            if client_events:
                await self.sink.send(client_events)
        elif isinstance(message, SystemMessage):
            data = message.data or {}
            if message.subtype == "init":
                session = data.get("session_id")
                if session and session != flow.session_id:
                    flow.session_id = session
                    self.sink.session_id = session
                    self.publish(SessionInfo(flow.id, session, str(data.get("model", "")),
                                             flow.resumed, tuple(data.get("tools") or ())))
            elif message.subtype == "api_retry":
                self.publish(ApiRetry(flow.id, data.get("attempt"), data.get("max_retries"),
                                      data.get("retry_delay_ms"), data.get("error_status"),
                                      data.get("error")))
        elif isinstance(message, AssistantMessage):
            for block in message.content:
                if isinstance(block, ToolUseBlock):
                    self._tool_names[block.id] = block.name
            if message.error:
                self.facts.assistant_error = message.error
                self.facts.error_text = " ".join(
                    b.text for b in message.content if isinstance(b, TextBlock))
        elif isinstance(message, UserMessage):
            self._tool_results(message)
        elif isinstance(message, RateLimitEvent):
            info = message.rate_limit_info
            self.publish(RateLimitInfo(flow.id, info.status, info.rate_limit_type,
                                       info.utilization, info.resets_at))
            if info.resets_at:
                self.facts.rate_limit_resets_at = float(info.resets_at)
            self.facts.rate_limit_type = info.rate_limit_type
        elif isinstance(message, ResultMessage):
            self.result = message
            self.facts.result_subtype = message.subtype
            self.facts.result_is_error = bool(message.is_error)
            self.facts.api_error_status = message.api_error_status
            self.facts.terminal_reason = getattr(message, "terminal_reason", None)
            self.facts.errors = getattr(message, "errors", None)
            if message.is_error and not self.facts.error_text:
                self.facts.error_text = message.result or "; ".join(message.errors or [])
            if message.session_id and not flow.session_id:
                flow.session_id = message.session_id

    def _first_token(self) -> None:
        if self.flow.first_token_mono is None:
            self.flow.first_token_mono = time.monotonic()

    def _tool_results(self, message: UserMessage) -> None:
        """Tool results the hooks did not report (denied by the permission mode)."""
        if not isinstance(message.content, list):
            return
        for block in message.content:
            if isinstance(block, ToolResultBlock) and block.is_error \
                    and not self.observer.reported(block.tool_use_id):
                self.publish(ToolResult(self.flow.id, block.tool_use_id,
                                        self._tool_names.get(block.tool_use_id, "?"), "denied",
                                        summarize(block.content or "")))

    async def _close(self) -> None:
        """End the CLI process; shielded so a second cancel cannot leave it running."""
        client, transport, built = self.client, self.transport, self.built
        self.client = self.transport = self.built = None
        if client is None and built is None:
            return

        async def close() -> None:
            if transport is not None and self.result is None:
                await transport.terminate_now()  # aborted mid-turn: no 5 s grace
            if client is not None:
                with suppress(Exception):
                    await asyncio.wait_for(client.disconnect(), CLOSE_BUDGET_S)
            if transport is not None and transport.is_alive():
                await transport.terminate_now()
            if built is not None:
                built.cleanup()

        task = asyncio.ensure_future(close())
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            with suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(task), CLOSE_BUDGET_S + 1)
            raise


async def _empty() -> AsyncIterator[dict[str, Any]]:
    return
    yield {}  # pragma: no cover - makes this an async generator
