"""What the console knows, built from drained events: pure Python, no widgets.

The app drains the engine's bus a few times a second and feeds the batch to ``apply``;
widgets then read this model. Keeping it apart from Textual makes it cheap (one pass per
batch, bounded everywhere) and testable without a screen.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable
from typing import Any

from tui_proxy.core.events import (
    ApiRetry, Cancelled, Event, FileOp, FlowFailed, FlowFinished, FlowQueued, FlowStarted,
    Note, Parked, ProxyLog, RateLimitInfo, Resumed, SessionInfo, SettingsApplied, StderrLine,
    TextDelta, ThinkingDelta, TimedOut, ToolCall, ToolResult,
)
from tui_proxy.sdk.login import LOGIN_ADVICE
from tui_proxy.core.describe import describe
from tui_proxy.wire.jsonsafe import printable

TEXT, THINKING = "text", "thinking"
LINE_CAP = 160          # a streamed line is cut here so lines stay cheap to draw
FLOW_TEXT_CAP = 400     # completed lines kept per flow for the stream panel
STREAM_FLOWS = 64       # flows whose streamed text is kept at all
PANEL_CAP = 2000        # entries kept per side panel


@dataclass
class StreamLine:
    flow_id: int
    kind: str  # text | thinking
    text: str


@dataclass
class FlowText:
    """Streamed text of one flow, cut into lines as it arrives."""

    lines: deque[StreamLine] = field(default_factory=lambda: deque(maxlen=FLOW_TEXT_CAP))
    pending: str = ""
    pending_kind: str = TEXT
    chars: int = 0
    deltas: int = 0

    def add(self, flow_id: int, kind: str, text: str, out: list[StreamLine]) -> None:
        self.chars += len(text)
        self.deltas += 1
        if kind != self.pending_kind and self.pending:
            self._emit(flow_id, out)
        self.pending_kind = kind
        parts = (self.pending + text).split("\n")
        tail = parts.pop()
        for part in parts:
            self.pending = part
            self._emit(flow_id, out)
        self.pending = tail
        while len(self.pending) >= LINE_CAP:
            cut = self.pending.rfind(" ", LINE_CAP // 2, LINE_CAP)
            cut = cut + 1 if cut > 0 else LINE_CAP
            head, self.pending = self.pending[:cut], self.pending[cut:]
            line = StreamLine(flow_id, self.pending_kind, head.rstrip())
            self.lines.append(line)
            out.append(line)

    def _emit(self, flow_id: int, out: list[StreamLine]) -> None:
        line = StreamLine(flow_id, self.pending_kind, self.pending)
        self.lines.append(line)
        out.append(line)
        self.pending = ""

    def flush(self, flow_id: int, out: list[StreamLine]) -> None:
        if self.pending:
            self._emit(flow_id, out)


@dataclass
class PanelEntry:
    """One line of a side panel: when, which flow, what, how loud."""

    ts: float
    flow_id: int | None
    text: str
    level: str = "info"  # info | ok | warning | error | dim


@dataclass
class RateState:
    status: str
    limit_type: str | None
    utilization: float | None
    resets_at: float | None
    seen: float

    @property
    def severity(self) -> int:
        return _SEVERITY.get(self.status, 1)

    def in_force(self, now: float) -> bool:
        """What a window said holds until its reset time passes (or a newer report)."""
        return self.resets_at is None or self.resets_at > now


_SEVERITY = {"allowed": 0, "allowed_warning": 1, "rejected": 2}


def worst_window(windows: Iterable[RateState], now: float) -> RateState | None:
    """The rate-limit window that matters most now: a rejection over a warning over ok,
    then the fuller one, then the latest; windows past their reset time no longer count."""
    live = [w for w in windows if w.in_force(now)]
    if not live:
        return None
    return max(live, key=lambda w: (w.severity, w.utilization or 0.0, w.seen))


class ConsoleModel:
    """Aggregates events into rows, streams and panel entries, for the widgets to show."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.texts: dict[int, FlowText] = {}
        self.new_lines: list[StreamLine] = []       # since the last take_new_lines()
        self.touched: set[int] = set()              # flows whose row changed this batch
        self.panels: dict[str, deque[PanelEntry]] = {
            name: deque(maxlen=PANEL_CAP) for name in ("files", "tools", "aborts", "stderr",
                                                       "log")}
        self.panel_new: dict[str, list[PanelEntry]] = {name: [] for name in self.panels}
        # The last report of each limit window (five-hour, seven-day, opus, overage, …):
        # a warning in one window must not hide a rejection in another.
        self.rate_windows: dict[str, RateState] = {}
        self.request_times: deque[float] = deque(maxlen=5000)

    @property
    def rate(self) -> RateState | None:
        return worst_window(self.rate_windows.values(), self.clock())

    # -- feeding ------------------------------------------------------------------------

    def apply(self, events: list[Event]) -> None:
        for event in events:
            if event.flow_id is not None:
                self.touched.add(event.flow_id)
            handler = _HANDLERS.get(type(event))
            if handler is not None:
                handler(self, event)

    def take_new_lines(self) -> list[StreamLine]:
        lines, self.new_lines = self.new_lines, []
        return lines

    def take_panel(self, name: str) -> list[PanelEntry]:
        entries, self.panel_new[name] = self.panel_new[name], []
        return entries

    def take_touched(self) -> set[int]:
        touched, self.touched = self.touched, set()
        return touched

    def pending_line(self, flow_id: int) -> StreamLine | None:
        text = self.texts.get(flow_id)
        if text is None or not text.pending:
            return None
        return StreamLine(flow_id, text.pending_kind, text.pending)

    def requests_per_minute(self) -> int:
        horizon = self.clock() - 60
        return sum(1 for t in self.request_times if t >= horizon)

    def clear_panel(self, name: str) -> None:
        self.panels[name].clear()
        self.panel_new[name] = []

    # -- per event ----------------------------------------------------------------------

    def _panel(self, name: str, event: Event, text: str, level: str = "info") -> None:
        entry = PanelEntry(event.ts, event.flow_id, printable(text), level)
        self.panels[name].append(entry)
        new = self.panel_new[name]
        new.append(entry)
        if len(new) > PANEL_CAP:
            del new[: len(new) - PANEL_CAP]

    def _text(self, event: TextDelta | ThinkingDelta, kind: str) -> None:
        flow_id = event.flow_id
        if flow_id is None:
            return
        text = self.texts.get(flow_id)
        if text is None:
            text = self.texts[flow_id] = FlowText()
            while len(self.texts) > STREAM_FLOWS:
                self.texts.pop(next(iter(self.texts)))
        text.add(flow_id, kind, printable(event.text), self.new_lines)

    def _started(self, event: FlowStarted) -> None:
        self.request_times.append(event.ts)
        self._panel("log", event, describe(event), "dim")

    def _finished(self, event: FlowFinished) -> None:
        text = self.texts.get(event.flow_id) if event.flow_id is not None else None
        if text is not None and event.flow_id is not None:
            text.flush(event.flow_id, self.new_lines)
        self._panel("log", event, describe(event), "dim")

    def _tool_call(self, event: ToolCall) -> None:
        self._panel("tools", event, "→ " + describe(event),
                    "warning" if event.outside_cwd else "info")

    def _tool_result(self, event: ToolResult) -> None:
        self._panel("tools", event, "← " + describe(event),
                    "ok" if event.outcome == "ok" else "error")

    def _file_op(self, event: FileOp) -> None:
        level = "warning" if event.outside_cwd else ("ok" if event.outcome == "ok" else "error")
        self._panel("files", event, describe(event), level)

    def _stderr(self, event: StderrLine) -> None:
        self._panel("stderr", event, describe(event), "dim")

    def _rate(self, event: RateLimitInfo) -> None:
        self.rate_windows[event.limit_type or "limit"] = RateState(
            event.status, event.limit_type, event.utilization, event.resets_at, event.ts)
        if event.status == "allowed":
            return
        self._panel("aborts", event, describe(event),
                    "error" if event.status == "rejected" else "warning")

    def _failed(self, event: FlowFailed) -> None:
        fix = f"  → {LOGIN_ADVICE}" if event.error_type == "authentication_error" else ""
        self._panel("aborts", event, describe(event) + fix, "error")

    def _parked(self, event: Parked) -> None:
        self._panel("tools", event, "‖ " + describe(event), "warning")

    def _resumed(self, event: Resumed) -> None:
        self._panel("tools", event, "▶ " + describe(event), "ok")

    def _note(self, event: Note) -> None:
        self._panel("log", event, describe(event),
                    "warning" if event.level in ("warning", "error") else "info")

    def _log(self, event: ProxyLog) -> None:
        level = event.level.lower()
        self._panel("log", event, describe(event),
                    "error" if level in ("error", "critical") else
                    "warning" if level == "warning" else "dim")

    def _settings(self, event: SettingsApplied) -> None:
        self._panel("log", event, describe(event), "error" if event.error else "ok")


def _simple(panel: str, level: str) -> Callable[[ConsoleModel, Event], None]:
    """A handler that only adds the event's line to a panel."""
    return lambda model, event: model._panel(panel, event, describe(event), level)


# Keyed by the exact event class; each handler takes that class. A dict type cannot tie a value's
# argument to its key, so the handlers' event argument is typed loosely here.
_HANDLERS: dict[type[Event], Callable[[ConsoleModel, Any], None]] = {
    TextDelta: lambda m, e: m._text(e, TEXT),
    ThinkingDelta: lambda m, e: m._text(e, THINKING),
    FlowStarted: ConsoleModel._started,
    FlowFinished: ConsoleModel._finished,
    ToolCall: ConsoleModel._tool_call,
    ToolResult: ConsoleModel._tool_result,
    FileOp: ConsoleModel._file_op,
    StderrLine: ConsoleModel._stderr,
    RateLimitInfo: ConsoleModel._rate,
    ApiRetry: _simple("aborts", "warning"),
    TimedOut: _simple("aborts", "error"),
    Cancelled: _simple("aborts", "warning"),
    FlowFailed: ConsoleModel._failed,
    FlowQueued: _simple("log", "warning"),
    SessionInfo: _simple("log", "dim"),
    Parked: ConsoleModel._parked,
    Resumed: ConsoleModel._resumed,
    Note: ConsoleModel._note,
    ProxyLog: ConsoleModel._log,
    SettingsApplied: ConsoleModel._settings,
}
