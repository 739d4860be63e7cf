"""Conversations, parked flows and warm processes: client conversation → SDK session →
state → transcript path, refreshed about once a second."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

if TYPE_CHECKING:
    from tui_proxy.core.engine import Engine

STATE_STYLE = {"live": "bold green", "parked": "bold magenta", "idle": "", "evicted": "dim"}
COLUMNS = (("conv", "conv", 5), ("session", "SDK session", 37), ("state", "state", 8),
           ("turns", "turns", 5), ("flow", "last flow", 9), ("transcript", "transcript", 60))
MAX_ROWS = 300


def pool_line(engine: Engine) -> Text:
    pool, parked = engine.pool, engine.parked
    text = Text()
    entries = pool.entries()
    spare = sum(1 for e in entries if e.session_id is None)
    text.append(f"warm processes {len(pool)}/{pool.size}", style="bold")
    text.append(f" (idle limit {pool.idle_s:g} s)  spare {'ready' if spare else 'none'}")
    waits = [f"#{e.flow.id} waits on {', '.join(u['name'] for u in e.flow.waiting_on)}"
             for e in parked.entries()]
    if waits:
        text.append("  parked: " + "; ".join(waits), style="bold magenta")
    return text


class SessionsPanel(Vertical):
    DEFAULT_CSS = """
    SessionsPanel { height: 1fr; }
    SessionsPanel > #pool-line { height: 1; }
    SessionsPanel > DataTable { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._rows: dict[str, tuple] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="pool-line")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="sessions-table")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)

    def sync(self, engine: Engine) -> None:
        self.query_one("#pool-line", Static).update(pool_line(engine), layout=False)
        table = self.query_one(DataTable)
        convs = engine.conversations.snapshot()[-MAX_ROWS:]
        wanted = {c.session_id: c for c in convs}
        for key in [k for k in self._rows if k not in wanted]:
            table.remove_row(key)
            del self._rows[key]
        for conv in convs:
            cells = (str(conv.id), conv.session_id,
                     Text(conv.state, style=STATE_STYLE.get(conv.state, "")), str(conv.turns),
                     f"#{conv.last_flow}" if conv.last_flow else "–", conv.transcript or "–")
            old = self._rows.get(conv.session_id)
            if old is None:
                table.add_row(*cells, key=conv.session_id)
            elif old != cells:
                for (key, _, _), new, before in zip(COLUMNS, cells, old, strict=True):
                    if new != before:
                        table.update_cell(conv.session_id, key, new)
            self._rows[conv.session_id] = cells
