"""Run one flow through the Claude Agent SDK.

A flow drives a ``LiveRun`` (one CLI process): a new one, or in passthrough mode a parked
one whose tool calls this flow's request answers. The driver translates SDK messages into
client events (through the sink) and engine events (through ``publish``); failures
surface as ``ProxyError``. ``run`` returns ``"done"``, or ``"parked"`` when the response
ended with client tool calls and the run must wait for their results.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import TYPE_CHECKING, Any
from collections.abc import Callable

from claude_agent_sdk import (
    AssistantMessage, RateLimitEvent, ResultMessage, StreamEvent, SystemMessage, TextBlock,
    ToolResultBlock, ToolUseBlock, UserMessage,
)

from tui_proxy.core.events import (
    ApiRetry, Event, Note, RateLimitInfo, Resumed, SdkSpawned, SessionInfo, StderrLine,
    TextDelta, ThinkingDelta, TimedOut, ToolCall, ToolResult,
)
from tui_proxy.core.flow import Flow, FlowState
from tui_proxy.config.settings import Settings
from tui_proxy.wire.errors import ClientGone, ProxyError, timed_out
from tui_proxy.wire.history import build_prompt
from tui_proxy.wire.request import MessagesRequest
from tui_proxy.wire.stops import StopRules
from tui_proxy.wire.stream import MessageAccumulator, StreamTranslator
from tui_proxy.wire.tools import offered_tools
from tui_proxy.core.runner import DONE, PARKED, Sink
from tui_proxy.wire.history import tool_results_of
from tui_proxy.sdk.client_tools import PREFIX, ToolBridge, client_name
from tui_proxy.sdk.failures import FailureFacts, classify_api_error, classify_exception
from tui_proxy.sdk.live_run import LiveRun, StartupTimeout, own_live_run
from tui_proxy.sdk.observe import ToolObserver, summarize
from tui_proxy.sdk.options import build_options
from tui_proxy.sdk.seed import plan_seed, write_seed
from tui_proxy.sdk.workdir import run_cwd

if TYPE_CHECKING:
    from tui_proxy.core.pool import WarmPool

CUT = "cut"  # _handle: a proxy-side stop rule ended the response (see _cut)
# Tools the CLI runs itself inside the turn for the request (never handed to the client).
PROXY_SIDE_TOOLS = frozenset({"WebSearch", "WebFetch", "StructuredOutput"})


def is_session_id(value: str | None) -> bool:
    if not value:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def new_live_run(settings: Settings, request: MessagesRequest, mode: str,
                 cli_path: str | None, resume: str | None, flow_id: int,
                 publish: Callable[[Event], None],
                 extra_env: dict[str, str] | None = None) -> LiveRun:
    """A not-yet-connected run with its options, tool bridge and hook observer."""
    bridge = ToolBridge(offered_tools(request)) if mode == "passthrough" else None
    observer = ToolObserver(flow_id, settings.cwd, publish)
    holder: dict[str, LiveRun] = {}
    built = build_options(
        settings, request, mode=mode, cli_path=cli_path,
        # A parked or warm run's stderr belongs to whichever flow drives it now.
        stderr=lambda line: holder["live"].stderr_sink(line),
        hooks=observer.hooks() if mode == "agent" else None, resume=resume,
        client_tools=bridge.config() if bridge else None, extra_env=extra_env)
    live = LiveRun(built, bridge, observer)
    live.stderr_sink = lambda line: None
    holder["live"] = live
    return live


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
                 sink: Sink, resume: str | None = None, adopt: LiveRun | None = None,
                 adopted_from: int | None = None, pool: WarmPool | None = None,
                 pool_key: str = "") -> None:
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
        passthrough = mode == "passthrough"
        self.translator = StreamTranslator(
            request.model, forward_thinking=request.wants_thinking,
            forward_types=frozenset({"text", "tool_use"} if passthrough else {"text"}),
            tool_name=client_name if passthrough else None,
            forward_tool=(lambda name: self._offered(name)) if passthrough else None)
        self._proxy_rules()  # stop sequences, max_tokens, tool_choice, structured output
        self.pool = pool
        self.pool_key = pool_key
        self.retain = False  # set on DONE when the process may stay warm for the next turn
        self.new_conversation_spawned = False
        self.live: LiveRun | None = adopt
        self.adopted_from = adopted_from
        self.reply = MessageAccumulator()  # what the client received, for the conversation map
        self._call_tool_uses: list[dict[str, Any]] = []  # client tool_use blocks of this call
        self.seeded: tuple[str, int] | None = None  # (session id, first message to send)
        self.resume_env: dict[str, str] | None = None  # the CLI resumes an interrupted turn
        # The client tools this run offers Claude: only calls of these go to the client.
        self.offered = {t["name"] for t in offered_tools(request)} if passthrough else set()

    async def _emit(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.reply.feed(event)
        await self.sink.send(events)

    def reply_message(self) -> dict[str, Any] | None:
        message = self.reply.message
        return {"role": "assistant", "content": message["content"]} if message else None

    @property
    def facts(self) -> FailureFacts:
        return self.live.facts if self.live else FailureFacts()

    # -- small helpers -------------------------------------------------------------

    def _set_state(self, state: FlowState) -> None:
        self.flow.transition(state)

    def _on_stderr(self, line: str) -> None:
        self.flow.stderr.append(line)
        self.publish(StderrLine(self.flow.id, line))

    def _facts_now(self) -> FailureFacts:
        facts = self.facts
        facts.stderr_tail = "\n".join(list(self.flow.stderr)[-12:])
        return facts

    def _first_token(self) -> None:
        if self.flow.first_token_mono is None:
            self.flow.first_token_mono = time.monotonic()

    # -- the run ----------------------------------------------------------------------

    async def run(self) -> str:
        timeouts = _Timeouts(self.flow, self.settings)
        outcome = DONE
        try:
            # An absolute deadline: asyncio.timeout() would take it as a delay.
            async with asyncio.timeout_at(timeouts.next_deadline()) as scope:
                timeouts.scope = scope
                if self.live is not None:
                    self._attach(self.live)
                    self._adopt()
                else:
                    if not self.resume:
                        self._seed_history()
                    if not await self._reuse_warm():
                        await self._connect(timeouts)
                    if self._resuming_turn():
                        self._live().follow()  # the CLI continues the seeded turn by itself
                    else:
                        await self._send(self._prompt_blocks())
                outcome = await self._pump(timeouts)
                self.retain = (outcome == DONE and self.pool is not None
                               and not self._live().closed)
        except TimeoutError:
            limit, limit_s = timeouts.which()
            self.publish(TimedOut(self.flow.id, limit, limit_s, self.flow.elapsed_s))
            self.flow.transition(FlowState.TIMED_OUT)
            raise timed_out(limit, limit_s) from None
        finally:
            if outcome != PARKED and not self.retain and self.live is not None:
                await self.live.close()
        return outcome

    def _seed_history(self) -> None:
        """Give a fresh CLI the earlier turns as a real transcript it resumes (see seed.py).

        When the new turn answers the last assistant message's tool calls (its parked run
        is gone, could not take what the client sent beside the results, or has another
        tool set), the transcript ends with those results and the CLI resumes the turn
        itself, with the message's trailing text merged in: nothing the client sent is
        lost or reordered. Otherwise the seed ends at the last assistant message with no
        pending tool call and the rest is sent as the prompt.
        """
        if not self.settings.seed_history:
            return
        tools = self.mode == "passthrough"
        plan = plan_seed(self.request.messages, tools=tools)
        if plan is None:
            return
        try:
            session_id, path = write_seed(
                plan.transcript, cwd=run_cwd(self.settings.cwd, self.request.system_text,
                                             self.mode), model=self._model() or "claude",
                version="claude-proxy-tui", tools=tools,
                rename=(lambda name: PREFIX + name) if tools else (lambda name: name))
        except OSError as exc:
            self.publish(Note(self.flow.id, "warning",
                              f"could not seed the session's history ({exc}); sending it as "
                              "a record in the new turn"))
            return
        self.seeded = (session_id, plan.prompt_from)
        self.resume_env = plan.resume_env
        self.resume = session_id
        self.publish(Note(self.flow.id, "info",
                          f"seeded session {session_id} with {len(plan.transcript)} earlier "
                          f"message(s) as a transcript ({path})"))
        if plan.resume_env is not None:
            self.publish(Note(self.flow.id, "info", (
                "the CLI resumes the interrupted turn: the tool results and everything "
                "beside them reach the model as sent") + (
                "; the message has no trailing text, so the CLI adds its own 'Continue "
                "from where you left off.'" if plan.default_prompt else "")))

    def _resuming_turn(self) -> bool:
        return bool(self.seeded and self.resume == self.seeded[0]
                    and self.resume_env is not None)

    def _prompt_blocks(self) -> list[dict[str, Any]]:
        messages = self.request.messages
        if self.seeded and self.resume == self.seeded[0]:
            return build_prompt(messages[self.seeded[1]:], session_has_history=False)
        return build_prompt(messages, session_has_history=self.resume is not None)

    def _live(self) -> LiveRun:
        """The process this flow drives, once attached (adopted, reused or connected)."""
        if self.live is None:
            raise RuntimeError(f"flow {self.flow.id} has no CLI process attached")
        return self.live

    def _attach(self, live: LiveRun) -> None:
        """Point a run (new, warm, spare or parked) at this flow."""
        live.stderr_sink = self._on_stderr
        observer = live.observer
        observer.flow_id = self.flow.id
        observer.publish = self.publish
        observer.on_tool_start = lambda: self._set_state(FlowState.TOOL)
        observer.on_tool_end = lambda: self._set_state(FlowState.STREAMING)

    async def _reuse_warm(self) -> bool:
        """A warm process of the resumed session, or the spare for a new conversation."""
        if self.pool is None:
            return False
        if self.resume:
            live = own_live_run(self.pool.take(self.resume, self.pool_key))
            what = f"warm process of session {self.resume}"
        else:
            live = own_live_run(self.pool.take_spare(self.pool_key))
            what = "the spare pre-started process"
        if live is None:
            return False
        self.flow.transition(FlowState.STARTING)
        self.flow.sdk_started_mono = time.monotonic()
        self.live = live
        self._attach(live)
        self.flow.options_summary = live.built.summary
        try:
            await live.set_model(self._model())
        except Exception as exc:
            raise classify_exception(exc, self._facts_now()) from exc
        self.flow.resumed = self.resume is not None
        self.new_conversation_spawned = not self.resume  # the spare is used up: make another
        if self.resume:
            self.flow.session_id = live.session_id
            self.sink.session_id = live.session_id
        self.publish(Note(self.flow.id, "info", f"served by {what} (pid {live.pid}): "
                                                 "no CLI start-up"))
        return True

    def _offered(self, model_facing: str) -> bool:
        return model_facing.startswith(PREFIX) and client_name(model_facing) in self.offered

    def _model(self) -> str:
        from tui_proxy.wire.models import resolve_model
        return resolve_model(self.request.model, self.settings.model_aliases)

    def _new_live(self, resume: str | None) -> LiveRun:
        env = self.resume_env if self.seeded and resume == self.seeded[0] else None
        live = new_live_run(self.settings, self.request, self.mode, self.cli_path, resume,
                            self.flow.id, self.publish, extra_env=env)
        self._attach(live)
        self.flow.options_summary = live.built.summary
        return live

    async def _spawn(self, resume: str | None) -> None:
        self.live = self._new_live(resume)
        self.new_conversation_spawned = resume is None
        started = time.monotonic()
        await self.live.connect()
        self.publish(SdkSpawned(self.flow.id, self.cli_path or "(SDK lookup)", self.live.pid,
                                self.live.built.summary, (time.monotonic() - started) * 1000))

    async def _connect(self, timeouts: _Timeouts) -> None:
        self.flow.transition(FlowState.STARTING)
        self.flow.sdk_started_mono = time.monotonic()
        try:
            await self._spawn(self.resume)
        except StartupTimeout as exc:
            raise self._startup_timeout(exc) from None
        except Exception as exc:
            if not self.resume:
                raise classify_exception(exc, self._facts_now()) from exc
            # An unknown or expired session: the CLI refuses before initialize. Start fresh.
            self.publish(Note(self.flow.id, "warning",
                              f"session {self.resume} could not be resumed ({exc}); "
                              "starting a fresh session with the full history"))
            if self.live is not None:
                await self.live.close()
            self.resume = None
            self.resume_env = None
            try:
                await self._spawn(None)
            except StartupTimeout as exc2:
                raise self._startup_timeout(exc2) from None
            except Exception as exc2:
                raise classify_exception(exc2, self._facts_now()) from exc2
        self.flow.resumed = self.resume is not None
        timeouts.touch()

    def _startup_timeout(self, exc: StartupTimeout) -> ProxyError:
        """The CLI never answered initialize (the SDK's own bound): killed, a 504."""
        self.publish(TimedOut(self.flow.id, "startup", exc.limit_s, self.flow.elapsed_s))
        self.flow.transition(FlowState.TIMED_OUT)
        return ProxyError("timeout_error", f"The Claude Code CLI did not finish starting "
                          f"within {exc.limit_s:g} s (it never answered the SDK's initialize "
                          "request); its process was ended.", error_class="timeout")

    async def _send(self, blocks: list[dict[str, Any]]) -> None:
        assert self.live is not None
        try:
            await self.live.send(blocks)
        except Exception as exc:
            raise classify_exception(exc, self._facts_now()) from exc

    def _adopt(self) -> None:
        """Continue a parked run: answer its tool calls with this request's tool results."""
        live = self.live
        assert live is not None and live.bridge is not None
        live.stderr_sink = self._on_stderr
        self.flow.session_id = live.session_id
        self.sink.session_id = live.session_id
        self.flow.options_summary = live.built.summary
        self.flow.sdk_started_mono = time.monotonic()
        results = tool_results_of(self.request)
        answered = []
        for use in live.waiting_on:
            block = results.get(use["id"])
            if block is None:
                live.bridge.resolve(use["id"], "The client returned no result for this call.",
                                    True)
                continue
            answered.append(use["id"])
            live.bridge.resolve(use["id"], block.get("content"), bool(block.get("is_error")))
            self.publish(ToolResult(self.flow.id, use["id"], use["name"],
                                    "error" if block.get("is_error") else "ok",
                                    summarize(block.get("content") or "")))
        self.publish(Resumed(self.flow.id, self.adopted_from or 0, tuple(answered)))
        live.waiting_on = []
        self.flow.transition(FlowState.STREAMING)

    async def _pump(self, timeouts: _Timeouts) -> str:
        live = self.live
        assert live is not None and live.messages is not None
        try:
            while True:
                try:
                    message = await anext(live.messages)
                except StopAsyncIteration:
                    break
                timeouts.touch()
                handled = await self._handle(message)
                if handled == PARKED:
                    return PARKED
                if handled == CUT:
                    return await self._cut()
        except (ProxyError, ClientGone, asyncio.CancelledError, TimeoutError):
            raise
        except Exception as exc:
            raise classify_exception(exc, self._facts_now()) from exc
        result = live.result
        if result is None:
            raise classify_exception(RuntimeError("the CLI ended the turn without a result"),
                                     self._facts_now())
        if result.is_error or live.facts.assistant_error:
            live.facts.result_is_error = True
            raise classify_api_error(self._facts_now())
        usage = dict(result.usage or {})
        if self.mode == "passthrough" or self.adopted_from is not None:
            # This response is one API call of a longer CLI turn: count that call only.
            usage = {**self.translator.input_usage,
                     "output_tokens": self.translator.last_output_tokens}
        self.flow.input_tokens = int(usage.get("input_tokens") or 0)
        self.flow.output_tokens = int(usage.get("output_tokens") or 0)
        self.flow.cost_usd = result.total_cost_usd
        stop_reason = getattr(result, "stop_reason", None) or self.translator.last_stop_reason \
            or "end_turn"
        if stop_reason == "tool_use":
            stop_reason = "end_turn"  # tool turns ran inside the proxy; the client sees text
        if self.request.output_format:
            await self._emit(self._structured_output(result))
            if self.translator.cut is not None:  # a stop sequence inside the JSON
                return await self._cut()
        self.flow.stop_reason = stop_reason
        await self._emit(self.translator.finish(stop_reason, usage))
        return DONE

    # -- proxy-side emulation (issue 11 item 5): stop rules and structured output ---------

    def _proxy_rules(self) -> None:
        """Consulted by the translator for every event: where the response must end."""
        request = self.request
        self.diverged = False  # a cut turn: the CLI's session holds more than the client got
        if request.stop_sequences or request.max_tokens or request.tool_choice:
            self.translator.rules = StopRules.for_request(request)
        if request.output_format:
            # The JSON arrives in ResultMessage.structured_output (the CLI's StructuredOutput
            # tool); the model's prose around it is not the API's answer.
            self.translator.forwarded_types.discard("text")

    def _structured_output(self, result: Any) -> list[dict[str, Any]]:
        data = getattr(result, "structured_output", None)
        if data is None:
            raise ProxyError("api_error", "The CLI returned no structured output for "
                             "output_config.format (the model did not produce it).",
                             error_class="structured_output")
        return self.translator.synthetic_text(json.dumps(data, ensure_ascii=False))

    async def _cut(self) -> str:
        """A stop rule ended the response mid-turn. Interrupt the CLI so it stops generating,
        end the response as the API would, and never reuse this process: its session now
        holds more than the client received (the engine does not continue it, see
        ``diverged``); the next turn starts fresh with the client's exact history."""
        cut = self.translator.cut
        live = self.live
        assert cut is not None and live is not None
        self.retain = False
        self.diverged = True
        what = {"stop_sequence": f"the stop sequence {cut.sequence!r}",
                "max_tokens": f"max_tokens ({self.request.max_tokens})",
                "tool_use": f"the tool call tool_choice asked for ({self._choice_text()})",
                "end_turn": "a tool call, which tool_choice 'none' forbids"}.get(cut.reason,
                                                                                  cut.reason)
        self.publish(Note(self.flow.id, "info", f"the response ends at {what}, as the API "
                          "would; the CLI turn was interrupted and its process is not reused"))
        # Any failure is fine: the process is ended below in any case.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(live.client.interrupt(), 2.0)
        usage = {**self.translator.input_usage,
                 "output_tokens": cut.output_tokens if cut.output_tokens is not None
                 else self.translator.last_output_tokens}
        self.flow.input_tokens = int(usage.get("input_tokens") or 0)
        self.flow.output_tokens = int(usage["output_tokens"] or 0)
        self.flow.stop_reason = cut.reason
        await self._emit(self.translator.finish(cut.reason, usage, cut.sequence))
        await live.close()
        return DONE

    def _choice_text(self) -> str:
        choice = self.request.tool_choice or {}
        return choice.get("name") or choice.get("type") or "?"

    async def _park(self) -> str:
        """Claude called client tools: end this response with them; the run waits."""
        live = self.live
        assert live is not None
        live.waiting_on = list(self._call_tool_uses)
        self.flow.waiting_on = list(live.waiting_on)
        usage = {**self.translator.input_usage,
                 "output_tokens": self.translator.last_output_tokens}
        self.flow.input_tokens = int(usage.get("input_tokens") or 0)
        self.flow.output_tokens = int(usage.get("output_tokens") or 0)
        self.flow.stop_reason = "tool_use"
        await self._emit(self.translator.finish("tool_use", usage))
        return PARKED

    async def _handle(self, message: Any) -> str | None:
        """One SDK message: CUT or PARKED when it ends the response, else None."""
        if isinstance(message, StreamEvent):
            if message.parent_tool_use_id:
                return None  # a subagent's inner stream: not part of the reply
            return await self._on_stream_event(message.event)
        if isinstance(message, SystemMessage):
            self._on_system(message)
        elif isinstance(message, AssistantMessage):
            if not message.parent_tool_use_id:
                self._on_assistant(message)
        elif isinstance(message, UserMessage):
            self._tool_results(message)
        elif isinstance(message, RateLimitEvent):
            self._on_rate_limit(message)
        elif isinstance(message, ResultMessage):
            self._on_result(message)
        return None

    async def _on_stream_event(self, event: dict[str, Any]) -> str | None:
        flow = self.flow
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                self._first_token()
                self.publish(TextDelta(flow.id, delta.get("text", "")))
            elif delta.get("type") == "thinking_delta":
                self._first_token()
                self.publish(ThinkingDelta(flow.id, delta.get("thinking", "")))
            elif delta.get("type") == "input_json_delta":
                self._first_token()
        elif kind == "message_start":
            self._call_tool_uses = []
            self._set_state(FlowState.STREAMING)
        elif kind == "message_delta":
            out = (event.get("usage") or {}).get("output_tokens")
            if isinstance(out, int):
                flow.output_tokens = max(flow.output_tokens, out)
        client_events = self.translator.feed(event)
        if client_events:
            await self._emit(client_events)
        if self.translator.cut is not None:
            return CUT
        if self.mode == "passthrough" and kind == "message_delta" and \
                (event.get("delta") or {}).get("stop_reason") == "tool_use" and \
                self._call_tool_uses:
            return await self._park()
        return None

    def _on_system(self, message: SystemMessage) -> None:
        flow, live = self.flow, self.live
        assert live is not None
        data = message.data or {}
        if message.subtype == "init":
            session = data.get("session_id")
            if session and session != flow.session_id:
                flow.session_id = live.session_id = session
                self.sink.session_id = session
                self.publish(SessionInfo(flow.id, session, str(data.get("model", "")),
                                         flow.resumed, tuple(data.get("tools") or ())))
        elif message.subtype == "api_retry":
            self.publish(ApiRetry(flow.id, data.get("attempt"), data.get("max_retries"),
                                  data.get("retry_delay_ms"), data.get("error_status"),
                                  data.get("error")))

    def _on_assistant(self, message: AssistantMessage) -> None:
        live = self.live
        assert live is not None
        for block in message.content:
            if isinstance(block, ToolUseBlock):
                live.tool_names[block.id] = block.name
                if self.mode == "passthrough":
                    self._route_tool_use(block)
        if message.error:
            live.facts.assistant_error = message.error
            live.facts.error_text = " ".join(
                b.text for b in message.content if isinstance(b, TextBlock))

    def _route_tool_use(self, block: ToolUseBlock) -> None:
        """Pass-through: a tool the CLI runs itself, one it refused, or the client's call."""
        flow, live = self.flow, self.live
        assert live is not None
        if block.name in PROXY_SIDE_TOOLS and (block.name == "StructuredOutput"
                                               or block.name in self.request.cli_tools):
            # web_search / web_fetch / structured output: the CLI runs it itself.
            self.publish(ToolCall(flow.id, block.id, block.name, summarize(block.input)))
        elif not self._offered(block.name):
            # The CLI answers it with "No such tool available": never the client's.
            self.publish(Note(flow.id, "warning", (
                f"Claude called {block.name}, which this run does not offer; the "
                "CLI answered it with an error and it was not handed to the "
                "client")))
        else:
            name = client_name(block.name)
            self._call_tool_uses.append({"id": block.id, "name": name, "input": block.input})
            if live.bridge is not None:
                live.bridge.saw_tool_use(block.id, block.name, block.input)
            self.publish(ToolCall(flow.id, block.id, name, summarize(block.input)))

    def _on_rate_limit(self, message: RateLimitEvent) -> None:
        assert self.live is not None
        info = message.rate_limit_info
        self.publish(RateLimitInfo(self.flow.id, info.status, info.rate_limit_type,
                                   info.utilization, info.resets_at))
        if info.resets_at:
            self.live.facts.rate_limit_resets_at = float(info.resets_at)
        self.live.facts.rate_limit_type = info.rate_limit_type

    def _on_result(self, message: ResultMessage) -> None:
        flow, live = self.flow, self.live
        assert live is not None
        live.result = message
        facts = live.facts
        facts.result_subtype = message.subtype
        facts.result_is_error = bool(message.is_error)
        facts.api_error_status = message.api_error_status
        facts.terminal_reason = getattr(message, "terminal_reason", None)
        facts.errors = getattr(message, "errors", None)
        if message.is_error and not facts.error_text:
            facts.error_text = message.result or "; ".join(message.errors or [])
        if message.session_id and not flow.session_id:
            flow.session_id = live.session_id = message.session_id

    def _tool_results(self, message: UserMessage) -> None:
        """Agent mode: tool results the hooks did not report (denied by the permission mode)."""
        if self.mode != "agent" or not isinstance(message.content, list):
            return
        assert self.live is not None
        for block in message.content:
            if isinstance(block, ToolResultBlock) and block.is_error \
                    and not self.live.observer.reported(block.tool_use_id):
                self.publish(ToolResult(self.flow.id, block.tool_use_id,
                                        self.live.tool_names.get(block.tool_use_id, "?"),
                                        "denied", summarize(block.content or "")))
