"""The engine: flows, concurrency, cancellation and settings. Knows nothing of HTTP or UI.

``execute`` runs one flow to exactly one terminal state and publishes it; ``cancel`` is
the only way in from outside (console key, shutdown, a disconnecting client).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any
from collections.abc import Awaitable, Callable

from tui_proxy.core.bus import EventBus
from tui_proxy.core.conversations import Conversation, ConversationMap
from tui_proxy.core.events import (
    Cancelled, Event, FlowFailed, FlowFinished, FlowQueued, FlowStarted, Note, Parked,
    SettingsApplied,
)
from tui_proxy.core.flow import Flow, FlowState, FlowStore
from tui_proxy.core.parking import ParkedRuns
from tui_proxy.core.modes import effective_mode
from tui_proxy.core.pool import WarmPool
from tui_proxy.core.runner import PARKED, CliInfo, FlowRun, LiveProcess, Runner, Sink
from tui_proxy.wire.history import tool_results_of
from tui_proxy.config.settings import Settings, changed_keys
from tui_proxy.wire.errors import ClientGone, ProxyError, cancelled
from tui_proxy.wire.request import MessagesRequest

log = logging.getLogger("tui_proxy.core.engine")

class SlotLimiter:
    """At most ``limit`` concurrent runs, FIFO queue of at most ``queue_cap`` waiters."""

    def __init__(self, limit: int, queue_cap: int) -> None:
        self.limit = limit
        self.queue_cap = queue_cap
        self.running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def has_room(self) -> bool:
        return self.running < self.limit or len(self._waiters) < self.queue_cap

    async def acquire(self, on_queued: Any = None) -> None:
        if self.running < self.limit and not self._waiters:
            self.running += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        if on_queued:
            on_queued(len(self._waiters))
        try:
            await waiter
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot while being cancelled: pass it on
            raise

    def _hand_over(self) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves to the waiter
                return True
        return False

    def release(self) -> None:
        if self.running <= self.limit and self._hand_over():
            return
        self.running -= 1

    def resize(self, limit: int, queue_cap: int) -> None:
        self.limit, self.queue_cap = limit, queue_cap
        while self.running < self.limit and self._hand_over():
            self.running += 1


@dataclass
class _Start:
    """How one run begins, kept where the error path can still release a claim."""
    resume: str | None = None
    root: str = ""
    adopt: LiveProcess | None = None
    adopted_from: int | None = None
    # The conversation this run continues (released if the run fails).
    claimed: Conversation | None = None


class Engine:
    def __init__(self, settings: Settings, bus: EventBus | None, runner: Runner) -> None:
        self.settings = settings
        self.bus = bus or EventBus()
        self.runner = runner  # how flows run (the SDK adapter); the engine decides when
        self.flows = FlowStore()
        self.slots = SlotLimiter(settings.max_concurrent, settings.max_queue)
        self.cli: CliInfo = runner.locate(settings)
        self.started_at = time.time()
        self.shutting_down = False
        self.parked = ParkedRuns(self)
        self.conversations = ConversationMap()
        self.pool = WarmPool(settings.pool_size, settings.pool_idle_s, settings.spare_process)
        self.pool.on_evict = lambda session, why: self.conversations.set_state(session, "idle")
        # Called with (flow, request body) as a flow opens: the journal's start record.
        self.body_hooks: list[Callable[[Flow, dict[str, Any]], None]] = []

    # -- publishing ---------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        if event.flow_id is not None:
            flow = self.flows.get(event.flow_id)
            if flow is not None:
                flow.record(event)
        self.bus.publish(event)

    # -- flows --------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return sum(1 for f in self.flows.active.values() if f.state != FlowState.QUEUED)

    @property
    def queued(self) -> int:
        return self.slots.queued

    def open_flow(self, request: MessagesRequest, *, method: str, path: str, client: str,
                  request_id: str | None = None, body: dict[str, Any] | None = None) -> Flow:
        mode = effective_mode(self.settings, request)
        flow = Flow(id=self.flows.new_id(), request_id=request_id or new_request_id(),
                    method=method, path=path, client=client, model=request.model,
                    stream=request.stream, mode=mode, summary=request.summary())
        self._opened(flow, body)
        if request.tools and mode == "chat":
            self.publish(Note(flow.id, "warning",
                              f"request carries {len(request.tools)} client tools; chat mode "
                              "answers without tools (client-tool pass-through is not enabled)"))
        if request.ignored:
            self.publish(Note(flow.id, "info", "accepted but not honoured (told to the client "
                                               "in x-claude-proxy-ignored): "
                                               + ", ".join(request.ignored)))
        return flow

    async def execute(self, flow: Flow, request: MessagesRequest, sink: Sink,
                      resume: str | None = None) -> ProxyError | None:
        """Run ``flow`` to its terminal state. Never raises; returns the client's error."""
        error: ProxyError | None = None
        start = _Start(resume=resume)
        acquired = False
        try:
            await self._admit(flow)
            acquired = True
            self._choose_start(flow, request, start)
            key = self.runner.pool_key(self.settings, request, flow.mode, self.cli.path)
            driver = self.runner.flow_run(
                flow, request, self.settings, self.cli.path, self.publish, sink, start.resume,
                adopt=start.adopt, adopted_from=start.adopted_from,
                pool=self.pool if self.settings.pool_size > 0 else None, pool_key=key)
            outcome = await driver.run()
            self._settle(flow, request, driver, outcome, start, key)
            if outcome == PARKED:
                return None
            flow.transition(FlowState.DONE)
        except ProxyError as exc:
            error = exc
            flow.transition(FlowState.ERROR)  # a timed-out flow keeps its state
        except (asyncio.CancelledError, ClientGone) as exc:
            reason = flow.cancel_reason or (
                "client_disconnect" if isinstance(exc, ClientGone) else "shutdown")
            flow.cancel_reason = reason
            error = cancelled(reason, flow.id)
            flow.transition(FlowState.CANCELLED)
            self.publish(Cancelled(flow.id, reason))
        except Exception as exc:  # a bug of ours: still a terminal state and a clean error
            error = ProxyError("api_error", f"Internal proxy error: {type(exc).__name__}: {exc}",
                               error_class="internal")
            flow.transition(FlowState.ERROR)
        finally:
            if acquired:
                self.slots.release()
        if error is not None and start.claimed is not None:
            self.conversations.release(start.claimed)  # what the session holds is now unknown
        self.finish(flow, error)
        return error

    async def _admit(self, flow: Flow) -> None:
        """A slot for the flow (queued if need be), or the refusal the client gets."""
        if self.shutting_down:
            raise ProxyError("overloaded_error", "The proxy is shutting down.",
                             error_class="shutdown")
        if not self.slots.has_room():
            raise ProxyError("overloaded_error",
                             f"The proxy's queue is full ({self.slots.running} running, "
                             f"{self.slots.queued} queued); try again shortly.",
                             error_class="queue_full")
        await self.slots.acquire(lambda pos: self.publish(FlowQueued(flow.id, pos)))
        if self.cli.error:
            self.slots.release()
            raise ProxyError("api_error", f"Claude Code CLI unavailable: {self.cli.error}",
                             error_class="cli_not_found")

    def _choose_start(self, flow: Flow, request: MessagesRequest, start: _Start) -> None:
        """Where the run starts: a parked process its tool results answer, a conversation
        it continues (only the new turns are sent), or a fresh CLI."""
        # A client's own conversation or user id (metadata.user_id) keeps look-alike
        # conversations apart even while their histories are identical.
        user_id = (request.metadata or {}).get("user_id")
        start.root = f"{flow.mode}|{self.settings.cwd}|{user_id or ''}"
        answers_tools = flow.mode == "passthrough" and bool(tool_results_of(request))
        if flow.mode == "passthrough":
            self.parked.release_superseded(request)
            entry, why = self.parked.take(request)
            if entry is not None:
                start.adopt, start.adopted_from = entry.live, entry.flow.id
            elif why is not None:
                self.publish(Note(flow.id, "info", f"the parked turn cannot go on in its "
                                  f"process: {why}; a fresh CLI resumes it from the exact "
                                  "history"))
        # Tool results continue a turn, which only a parked process or a seeded
        # transcript can hold: a session resumed as a prompt would strip them.
        if start.adopt is None and start.resume is None and not answers_tools:
            start.claimed = self.conversations.claim(start.root, request.messages)
            if start.claimed is not None:
                start.resume = start.claimed.session_id
                self.publish(Note(flow.id, "info", f"continues conversation "
                                  f"#{start.claimed.id} (session {start.claimed.session_id}): "
                                  "only the new turns are sent"))

    def _settle(self, flow: Flow, request: MessagesRequest, driver: FlowRun, outcome: str,
                start: _Start, key: str) -> None:
        """After the run: the spare, the warm pool, the conversation map, a parked CLI."""
        claimed = start.claimed
        if driver.new_conversation_spawned:
            self._prepare_spare(key, request, flow)
        if claimed is not None and not flow.resumed:
            self.conversations.release(claimed)  # the session was gone; started fresh
        if driver.retain and driver.live is not None and flow.session_id:
            self.pool.put(flow.session_id, key, driver.live)
        if driver.diverged:
            # A stop rule cut the turn (stop sequence, max_tokens, tool_choice): the
            # session holds more than the client received, so it is never continued.
            if claimed is not None:
                self.conversations.release(claimed)
            self.conversations.set_state(flow.session_id, "evicted")
        elif flow.session_id:
            self.conversations.record(
                flow.session_id, start.root, request.messages, driver.reply_message(),
                cwd=flow.options_summary.get("cwd") or self.settings.cwd,  # where its CLI ran
                flow_id=flow.id,
                state="parked" if outcome == PARKED else "live" if driver.retain
                else "idle")
        if outcome == PARKED:
            assert driver.live is not None
            flow.transition(FlowState.PARKED)
            self.parked.park(flow, driver.live)
            self.publish(Parked(flow.id, tuple(u["id"] for u in flow.waiting_on),
                                tuple(u["name"] for u in flow.waiting_on),
                                self.settings.parked_timeout_ms / 1000))

    def _opened(self, flow: Flow, body: dict[str, Any] | None) -> None:
        self.flows.add(flow)
        self.publish(FlowStarted(flow.id, flow.method, flow.path, flow.model, flow.client,
                                 flow.stream, flow.mode, flow.summary))
        for hook in self.body_hooks:
            try:
                hook(flow, body or {})
            except Exception:  # an observer must not fail a request
                log.exception("body hook failed")

    def reject(self, error: ProxyError, *, method: str, path: str, client: str,
               request_id: str, body: Any = None) -> Flow:
        """A request refused before it could run (bad input) still ends as a recorded flow."""
        data = body if isinstance(body, dict) else {}
        raw_model = data.get("model")
        model = raw_model if isinstance(raw_model, str) else "?"
        flow = Flow(id=self.flows.new_id(), request_id=request_id, method=method, path=path,
                    client=client, model=model[:100], stream=data.get("stream") is True,
                    mode="rejected", summary={"rejected": error.message[:200]})
        self._opened(flow, data)
        flow.transition(FlowState.ERROR)
        self.finish(flow, error)
        return flow

    def _prepare_spare(self, key: str, request: MessagesRequest, flow: Flow) -> None:
        def start() -> Awaitable[LiveProcess]:
            return self.runner.start_spare(self.settings, request, flow.mode, self.cli.path,
                                           flow.id, self.publish)

        if self.settings.pool_size > 0 and not self.shutting_down and not self.cli.error:
            self.pool.prepare_spare(key, start)

    def finish(self, flow: Flow, error: ProxyError | None) -> None:
        """Record a flow's terminal state and publish it (engine and parked runs)."""
        if flow.finished_mono is None:
            flow.finished_mono = time.monotonic()
        if error is not None:
            flow.error = {"type": error.error_type, "status": error.status,
                          "message": error.message, "class": error.error_class}
            if flow.state != FlowState.CANCELLED:
                self.publish(FlowFailed(flow.id, error.error_type, error.status, error.message,
                                        error.error_class))
        flow.settle_output_tokens()
        self.publish(FlowFinished(flow.id, flow.state.value, flow.stop_reason, flow.input_tokens,
                                  flow.output_tokens, flow.cost_usd, flow.elapsed_s, flow.ttft_s,
                                  flow.session_id))
        self.flows.finish(flow)

    def cancel(self, flow_id: int, reason: str = "operator") -> bool:
        flow = self.flows.active.get(flow_id)
        if flow is not None and flow.state == FlowState.PARKED:
            return self.parked.release_flow(flow.id, reason)
        if flow is None or flow.task is None or flow.task.done():
            return False
        if flow.cancel_reason is None:
            flow.cancel_reason = reason
        flow.task.cancel()
        return True

    def cancel_all(self, reason: str = "operator") -> int:
        return sum(self.cancel(flow_id, reason) for flow_id in list(self.flows.active))

    async def shutdown(self, drain_s: float = 0.0) -> None:
        """Stop taking work, let flows finish up to ``drain_s``, cancel the rest."""
        self.shutting_down = True
        deadline = time.monotonic() + drain_s
        while self.flows.active and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.cancel_all("shutdown")
        await self.parked.release_all("shutdown")
        await self.pool.close_all()
        tasks = [f.task for f in self.flows.active.values() if f.task is not None
                 and not f.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    # -- settings ------------------------------------------------------------------------

    def apply_settings(self, new: Settings) -> list[str]:
        """Apply reloaded settings to future flows; returns the changed keys."""
        changed = changed_keys(self.settings, new)
        self.settings = new
        if "cli_path" in changed:
            self.cli = self.runner.locate(new)
        if {"max_concurrent", "max_queue"} & set(changed):
            self.slots.resize(new.max_concurrent, new.max_queue)
        self.pool.size, self.pool.idle_s = new.pool_size, new.pool_idle_s
        self.pool.spare_enabled = new.spare_process
        self.publish(SettingsApplied(None, tuple(changed)))
        return changed

    def status(self) -> dict[str, Any]:
        return {"in_flight": self.in_flight, "queued": self.queued,
                "max_concurrent": self.slots.limit}


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex[:24]}"
