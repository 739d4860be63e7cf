"""A flow is the unit: one request, its state, its SDK run, its events (as in mitmproxy)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tui_proxy.core.events import Event, TextDelta, ThinkingDelta


class FlowState(StrEnum):
    QUEUED = "queued"
    STARTING = "starting"
    STREAMING = "streaming"
    TOOL = "tool"
    PARKED = "parked"  # response ended with tool_use; its CLI waits for the tool results
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed out"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({FlowState.DONE, FlowState.ERROR, FlowState.CANCELLED,
                             FlowState.TIMED_OUT})


@dataclass(eq=False)
class Flow:
    id: int
    request_id: str
    method: str
    path: str
    client: str
    model: str
    stream: bool
    mode: str
    summary: dict[str, Any]
    created: float = field(default_factory=time.time)
    created_mono: float = field(default_factory=time.monotonic)
    _state: FlowState = field(default=FlowState.QUEUED, repr=False)
    session_id: str | None = None
    resumed: bool = False
    sdk_started_mono: float | None = None
    first_token_mono: float | None = None
    finished_mono: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    stop_reason: str | None = None
    error: dict[str, Any] | None = None
    streamed_deltas: int = 0  # text and thinking deltas streamed (the console's live count)
    options_summary: dict[str, Any] = field(default_factory=dict)
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    timeline: deque[Event] = field(default_factory=lambda: deque(maxlen=2000))
    task: asyncio.Task[Any] | None = field(default=None, repr=False)
    cancel_reason: str | None = None
    waiting_on: list[dict[str, Any]] = field(default_factory=list)  # parked tool calls

    @property
    def state(self) -> FlowState:
        return self._state

    def transition(self, state: FlowState) -> bool:
        """The only writer of a flow's state. A terminal state is final, so a late timeout,
        cancel or error cannot rewrite how a flow ended; False when the move was refused.
        Leaving the run (terminal, or parked with its CLI waiting) stamps the end time."""
        if self._state.terminal:
            return False
        self._state = state
        if (state.terminal or state == FlowState.PARKED) and self.finished_mono is None:
            self.finished_mono = time.monotonic()
        return True

    def record(self, event: Event) -> None:
        """An event of this flow: onto its timeline, and counted when it is streamed output."""
        self.timeline.append(event)
        if isinstance(event, (TextDelta, ThinkingDelta)):
            self.streamed_deltas += 1

    def settle_output_tokens(self) -> None:
        """A run that did not finish (cancelled, error, timed out) may end before the CLI
        reports its usage: count at least the output streamed so far, one token a delta."""
        if self.state != FlowState.DONE and self.output_tokens < self.streamed_deltas:
            self.output_tokens = self.streamed_deltas

    @property
    def elapsed_s(self) -> float:
        end = self.finished_mono if self.finished_mono is not None else time.monotonic()
        return end - self.created_mono

    @property
    def ttft_s(self) -> float | None:
        if self.first_token_mono is None:
            return None
        return self.first_token_mono - self.created_mono

    @property
    def tokens_per_s(self) -> float | None:
        if self.first_token_mono is None or not self.output_tokens:
            return None
        end = self.finished_mono if self.finished_mono is not None else time.monotonic()
        span = end - self.first_token_mono
        return self.output_tokens / span if span > 0 else None


class FlowStore:
    """In-flight flows plus a bounded list of recent finished ones."""

    def __init__(self, recent: int = 500) -> None:
        self._next_id = 1
        self.active: dict[int, Flow] = {}
        self.recent: OrderedDict[int, Flow] = OrderedDict()
        self._recent_cap = recent

    def new_id(self) -> int:
        flow_id = self._next_id
        self._next_id += 1
        return flow_id

    def add(self, flow: Flow) -> None:
        self.active[flow.id] = flow

    def finish(self, flow: Flow) -> None:
        self.active.pop(flow.id, None)
        self.recent[flow.id] = flow
        while len(self.recent) > self._recent_cap:
            self.recent.popitem(last=False)

    def get(self, flow_id: int) -> Flow | None:
        return self.active.get(flow_id) or self.recent.get(flow_id)

    def all(self) -> list[Flow]:
        return [*self.recent.values(), *self.active.values()]
