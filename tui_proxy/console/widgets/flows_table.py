"""The flows table: one row per request, updated by row key so the selection never jumps."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from rich.text import Text
from textual.widgets import DataTable

from tui_proxy.core.flow import Flow, FlowState

COLUMNS = (("id", "#", 5), ("client", "client", 16), ("model", "model", 18),
           ("state", "state", 10), ("elapsed", "elapsed", 8), ("ttft", "ttft", 6),
           ("out", "out tok", 7), ("rate", "tok/s", 6), ("session", "session", 9))
MAX_ROWS = 500
NARROW = 100  # below this many columns the client and session columns give way
STATE_STYLE = {
    FlowState.QUEUED: "yellow", FlowState.STARTING: "cyan", FlowState.STREAMING: "bold green",
    FlowState.TOOL: "bold cyan", FlowState.PARKED: "bold magenta", FlowState.DONE: "dim",
    FlowState.ERROR: "bold red", FlowState.CANCELLED: "yellow", FlowState.TIMED_OUT: "bold red",
}


def _secs(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 100:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _client(agent: str) -> str:
    """``claude-cli/2.1 (external)`` → ``claude-cli/2.1``; long agents cut."""
    head = (agent or "?").split(" ")[0]
    return head[:16]


def _live_rate(flow: Flow, tokens: int) -> float | None:
    """While streaming the usage is not known yet: count the deltas seen."""
    if not tokens or flow.first_token_mono is None:
        return None
    end = flow.finished_mono if flow.finished_mono is not None else time.monotonic()
    span = end - flow.first_token_mono
    return tokens / span if span > 0.2 else None


def row_cells(flow: Flow, live_tokens: int = 0) -> tuple[Text | str, ...]:
    out = flow.output_tokens or live_tokens
    rate = flow.tokens_per_s if flow.output_tokens else _live_rate(flow, live_tokens)
    state = flow.state
    label = state.value
    if state == FlowState.PARKED and flow.waiting_on:
        label = f"parked×{len(flow.waiting_on)}"
    return (
        str(flow.id), _client(flow.client), flow.model[:18],
        Text(label, style=STATE_STYLE.get(state, "")), _secs(flow.elapsed_s),
        _secs(flow.ttft_s) if flow.ttft_s is not None else "–",
        str(out) if out else "–", f"{rate:.0f}" if rate else "–",
        (flow.session_id or "")[:8] or "–",
    )


def matches(flow: Flow, needle: str) -> bool:
    if not needle:
        return True
    hay = " ".join((str(flow.id), flow.client, flow.model, flow.state.value,
                    flow.session_id or "", flow.mode)).lower()
    return all(part in hay for part in needle.lower().split())


class FlowsTable(DataTable):
    """Rows keyed by flow id; cells rewritten only when their text changed."""

    DEFAULT_CSS = "FlowsTable { height: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._cells: dict[int, tuple] = {}
        self.filter_text = ""
        self.shown = list(range(len(COLUMNS)))  # indexes of COLUMNS on screen

    def on_mount(self) -> None:
        if self.app.size.width < NARROW:
            self.shown = [i for i, (key, _, _) in enumerate(COLUMNS)
                          if key not in ("client", "session")]
        for i in self.shown:
            key, label, width = COLUMNS[i]
            self.add_column(label, key=key, width=width)

    @property
    def selected_flow_id(self) -> int | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return int(key.value) if key.value is not None else None

    def sync(self, flows: Iterable[Flow], live_tokens: Callable[[int], int]) -> bool:
        """Bring rows in line with ``flows``; returns True when a row was added."""
        wanted = sorted((f for f in flows if matches(f, self.filter_text)),
                        key=lambda f: f.id)[-MAX_ROWS:]
        wanted_ids = {f.id for f in wanted}
        for flow_id in [i for i in self._cells if i not in wanted_ids]:
            self.remove_row(str(flow_id))
            del self._cells[flow_id]
        added = False
        for flow in wanted:
            full = row_cells(flow, live_tokens(flow.id))
            cells = tuple(full[i] for i in self.shown)
            old = self._cells.get(flow.id)
            if old is None:
                self.add_row(*cells, key=str(flow.id))
                added = True
            elif old != cells:
                keys = [COLUMNS[i][0] for i in self.shown]
                for key, new, before in zip(keys, cells, old):
                    if new != before:
                        self.update_cell(str(flow.id), key, new)
            self._cells[flow.id] = cells
        return added

    def follow_latest(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)

    def reset_rows(self) -> None:
        """After a filter change: rebuild (the only time rows are cleared)."""
        self.clear()
        self._cells.clear()
