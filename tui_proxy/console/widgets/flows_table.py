"""The flows table: one row per request, updated by row key so the selection never jumps."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable

from tui_proxy.core.flow import Flow, FlowState

COLUMNS = (("id", "#", 5), ("client", "client", 18), ("model", "model", 18),
           ("state", "state", 10), ("elapsed", "elapsed", 8), ("ttft", "ttft", 6),
           ("out", "out tok", 7), ("rate", "tok/s", 6), ("session", "session", 9),
           ("reason", "reason", 26))
CLIENT_WIDTH = 18
STALL_S = 10.0  # a running flow with no event for this long reads "stalled", not "streaming"
RUNNING = frozenset({FlowState.STARTING, FlowState.STREAMING, FlowState.TOOL})
MAX_ROWS = 500
NARROW = 100  # below this many columns the client, session, ttft and tok/s columns give way
NARROW_DROPS = frozenset({"client", "session", "ttft", "rate"})
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
    """``claude-cli/2.1.332 (external)`` → ``claude-cli/2.1.332``; a longer agent is cut with
    an ellipsis, so a cut version never reads as another version."""
    head = (agent or "?").split(" ")[0]
    return head if len(head) <= CLIENT_WIDTH else head[:CLIENT_WIDTH - 1] + "…"


def quiet_for(flow: Flow, now: float) -> float | None:
    """Seconds since a running flow's last event (None when it is not running)."""
    if flow.state not in RUNNING:
        return None
    last = flow.timeline[-1].ts if flow.timeline else flow.created
    return now - last


def reason(flow: Flow, now: float) -> str:
    """Why a flow is where it is: the error class, who cancelled, the stop reason, what a
    parked flow waits for, how long a stalled one has been quiet."""
    quiet = quiet_for(flow, now)
    if quiet is not None and quiet >= STALL_S:
        return f"no output for {_secs(quiet)}"
    if flow.state == FlowState.PARKED:
        names = ", ".join(u["name"] for u in flow.waiting_on)
        return f"waits for {names or 'tool results'}"
    if flow.state == FlowState.CANCELLED:
        return flow.cancel_reason or "cancelled"
    if flow.error:
        return str(flow.error.get("class") or flow.error.get("type") or "error")
    return flow.stop_reason or ""


def _live_rate(flow: Flow, tokens: int) -> float | None:
    """While streaming the usage is not known yet: count the deltas seen."""
    if not tokens or flow.first_token_mono is None:
        return None
    end = flow.finished_mono if flow.finished_mono is not None else time.monotonic()
    span = end - flow.first_token_mono
    return tokens / span if span > 0.2 else None


def row_cells(flow: Flow, live_tokens: int = 0,
              now: float | None = None) -> tuple[Text | str, ...]:
    now = time.time() if now is None else now
    out = flow.output_tokens or live_tokens
    rate = flow.tokens_per_s if flow.output_tokens else _live_rate(flow, live_tokens)
    state = flow.state
    label, style = state.value, STATE_STYLE.get(state, "")
    if state == FlowState.PARKED and flow.waiting_on:
        label = f"parked×{len(flow.waiting_on)}"
    quiet = quiet_for(flow, now)
    if quiet is not None and quiet >= STALL_S:
        label, style = "stalled", "bold yellow"
    why = reason(flow, now)
    return (
        str(flow.id), _client(flow.client), flow.model[:18],
        Text(label, style=style), _secs(flow.elapsed_s),
        _secs(flow.ttft_s) if flow.ttft_s is not None else "–",
        str(out) if out else "–", f"{rate:.0f}" if rate else "–",
        (flow.session_id or "")[:8] or "–",
        Text(why, style="red" if flow.error else "yellow" if label == "stalled" else "dim"),
    )


def failed(flow: Flow) -> bool:
    """What the errors-only filter keeps: errors, time-outs, and cancels with an error."""
    return flow.state in (FlowState.ERROR, FlowState.TIMED_OUT) or bool(flow.error)


def _num(value: float | None) -> float:
    return -1.0 if value is None else value


SORT_VALUES: dict[str, Callable[[Flow], Any]] = {
    "id": lambda f: f.id, "client": lambda f: f.client.lower(), "model": lambda f: f.model,
    "state": lambda f: f.state.value, "elapsed": lambda f: f.elapsed_s,
    "ttft": lambda f: _num(f.ttft_s), "out": lambda f: f.output_tokens,
    "rate": lambda f: _num(f.tokens_per_s), "session": lambda f: f.session_id or "",
    "reason": lambda f: reason(f, time.time()),
}


def columns_for(width: int) -> list[int]:
    """Indexes of COLUMNS shown at a terminal width."""
    return [i for i, (key, _, _) in enumerate(COLUMNS)
            if width >= NARROW or key not in NARROW_DROPS]


def matches(flow: Flow, needle: str, now: float | None = None) -> bool:
    if not needle:
        return True
    hay = " ".join((str(flow.id), flow.client, flow.model, flow.state.value,
                    flow.session_id or "", flow.mode,
                    reason(flow, time.time() if now is None else now))).lower()
    return all(part in hay for part in needle.lower().split())


class FlowsTable(DataTable):
    """Rows keyed by flow id; cells rewritten only when their text changed."""

    DEFAULT_CSS = "FlowsTable { height: 1fr; }"
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="flows-down"),
        Binding("k", "cursor_up", "Up", show=False, id="flows-up"),
        Binding("g", "scroll_top", "First", show=False, id="flows-first"),
        Binding("G", "scroll_bottom", "Last", show=False, id="flows-last"),
        Binding("o", "cycle_sort", "Sort", show=False, id="sort-flows",
                tooltip="Sort by the next column (again on a header click: reverse)"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._cells: dict[int, tuple] = {}
        self._flows: dict[int, Flow] = {}
        self.filter_text = ""
        self.errors_only = False
        self.sort_key = "id"  # a COLUMNS key
        self.sort_reverse = False
        self.shown = list(range(len(COLUMNS)))  # indexes of COLUMNS on screen
        self._restore: int | None = None  # the flow to select again after a rebuild
        self._user_moved = False

    # The person moved the cursor (keys, click), as opposed to follow moving it for them:
    # only the former may turn follow off, or a burst of new rows would.
    def action_cursor_up(self) -> None:
        self._user_moved = True
        super().action_cursor_up()

    def action_page_up(self) -> None:
        self._user_moved = True
        super().action_page_up()

    def action_scroll_top(self) -> None:
        self._user_moved = True
        super().action_scroll_top()

    def action_scroll_home(self) -> None:
        self._user_moved = True
        super().action_scroll_home()

    async def _on_click(self, event: events.Click) -> None:  # async, as DataTable's is
        # Textual calls every class's own _on_click along the MRO: DataTable's runs after.
        self._user_moved = True

    def take_user_moved(self) -> bool:
        moved, self._user_moved = self._user_moved, False
        return moved

    def on_mount(self) -> None:
        self._set_columns(self.app.size.width)

    def on_resize(self, event: events.Resize) -> None:
        if self.row_count and columns_for(self.app.size.width) == self.shown:
            self.move_cursor(row=self.cursor_row)  # keeps the selected row in view
        if columns_for(self.app.size.width) != self.shown:
            # Columns follow the terminal: rebuilt, rows re-added on the next sync, and the
            # selected flow selected again.
            self._restore = self.selected_flow_id
            self.clear(columns=True)
            self._cells.clear()
            self._flows.clear()
            self._set_columns(self.app.size.width)

    def _set_columns(self, width: int) -> None:
        self.shown = columns_for(width)
        for i in self.shown:
            key, _, col_width = COLUMNS[i]
            self.add_column(self._label(key), key=key, width=col_width)

    def _label(self, key: str) -> Text:
        """A column's header, marked ▲/▼ when the rows are sorted by it."""
        label = next(lab for k, lab, _ in COLUMNS if k == key)
        sorted_here = key == self.sort_key and (key != "id" or self.sort_reverse)
        return Text(label + ((" ▼" if self.sort_reverse else " ▲") if sorted_here else ""))

    @property
    def selected_flow_id(self) -> int | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return int(key.value) if key.value is not None else None

    def sync(self, flows: Iterable[Flow], live_tokens: Callable[[int], int],
             now: float | None = None) -> bool:
        """Bring rows in line with ``flows``; returns True when a row was added."""
        now = time.time() if now is None else now
        wanted = sorted((f for f in flows if matches(f, self.filter_text, now)
                         and (not self.errors_only or failed(f))),
                        key=lambda f: f.id)[-MAX_ROWS:]
        wanted_ids = {f.id for f in wanted}
        for flow_id in [i for i in self._cells if i not in wanted_ids]:
            self.remove_row(str(flow_id))
            del self._cells[flow_id]
            self._flows.pop(flow_id, None)
        added = changed = False
        for flow in wanted:
            full = row_cells(flow, live_tokens(flow.id), now)
            cells = tuple(full[i] for i in self.shown)
            old = self._cells.get(flow.id)
            self._flows[flow.id] = flow
            if old is None:
                self.add_row(*cells, key=str(flow.id))
                added = True
            elif old != cells:
                changed = True
                keys = [COLUMNS[i][0] for i in self.shown]
                for key, new, before in zip(keys, cells, old, strict=True):
                    if new != before:
                        self.update_cell(str(flow.id), key, new)
            self._cells[flow.id] = cells
        if (added or changed) and (self.sort_key != "id" or self.sort_reverse):
            self._sort()
        if self._restore is not None and self._restore in self._cells:
            self.move_cursor(row=self.get_row_index(str(self._restore)))
            self._restore = None
        return added

    @property
    def newest_id(self) -> int | None:
        return max(self._cells) if self._cells else None

    def follow_latest(self) -> None:
        if self.newest_id is not None:
            self.move_cursor(row=self.get_row_index(str(self.newest_id)))

    # -- sorting -----------------------------------------------------------------------

    def action_cycle_sort(self) -> None:
        keys = [COLUMNS[i][0] for i in self.shown]
        nxt = keys[(keys.index(self.sort_key) + 1) % len(keys)] if self.sort_key in keys \
            else "id"
        self.sort_by(nxt, reverse=False)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        self.sort_by(key, reverse=not self.sort_reverse if key == self.sort_key else False)

    def sort_by(self, key: str, reverse: bool) -> None:
        self.sort_key, self.sort_reverse = key, reverse
        for column in self.columns.values():
            column.label = self._label(str(column.key.value))
        self._sort()
        self.refresh()

    def _sort(self) -> None:
        """Rows in the chosen order, the selected flow still selected."""
        selected = self.selected_flow_id
        value = SORT_VALUES.get(self.sort_key, SORT_VALUES["id"])
        self.sort("id", key=lambda cell: value(self._flows[int(cell)]), reverse=self.sort_reverse)
        if selected is not None and selected in self._cells:
            self.move_cursor(row=self.get_row_index(str(selected)), scroll=True)

    def reset_rows(self) -> None:
        """After a filter change: rebuild (the only time rows are cleared)."""
        self.clear()
        self._cells.clear()
        self._flows.clear()
