"""Flow detail (Enter): the request, the SDK options, the event timeline with timings,
stderr, the response, usage and cost."""

from __future__ import annotations

import json
import time
from typing import Any
from collections.abc import Callable, Iterable

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tui_proxy.console.screens.shot import SHOT
from tui_proxy.core.describe import describe as describe_event
from tui_proxy.core.events import TextDelta, ThinkingDelta
from tui_proxy.core.flow import Flow
from tui_proxy.console.model import THINKING, StreamLine

TIMELINE_CAP = 400


def _kv(rows: Iterable[tuple[str, Any]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and key.endswith("_at") and value > 1e9:
            value = _clock(float(value))  # an epoch instant, as people read it
        elif isinstance(value, (dict, list, tuple)):
            value = json.dumps(value, ensure_ascii=False, default=str)
        table.add_row(key, "–" if value in (None, "") else str(value))
    return table


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def error_text(error: dict[str, Any] | None) -> str | None:
    """A flow's error as one readable line: status, type, class and message."""
    if not error:
        return None
    where = f" [{error['class']}]" if error.get("class") else ""
    return (f"{error.get('status', '')} {error.get('type', 'error')}{where}: "
            f"{error.get('message', '')}").strip()


def timeline_rows(flow: Flow) -> list[tuple[str, str, str]]:
    """(t since start, kind, what), with runs of text/thinking deltas folded into one row."""
    rows: list[tuple[str, str, str]] = []
    start = flow.created
    run_kind, run_count, run_chars, run_t = None, 0, 0, 0.0

    def close_run() -> None:
        if run_kind:
            rows.append((f"+{run_t:7.3f}s", run_kind, f"{run_count} deltas, {run_chars} chars"))

    for event in flow.timeline:
        t = event.ts - start
        if isinstance(event, (TextDelta, ThinkingDelta)):
            if event.kind != run_kind:
                close_run()
                run_kind, run_count, run_chars, run_t = event.kind, 0, 0, t
            run_count += 1
            run_chars += len(event.text)
            continue
        close_run()
        run_kind = None
        rows.append((f"+{t:7.3f}s", event.kind, describe_event(event)))
    close_run()
    return rows[-TIMELINE_CAP:]


def describe(flow: Flow, lines: list[StreamLine]) -> RenderableType:
    summary = flow.summary or {}
    request = _kv([("model", flow.model), ("client", flow.client), ("mode", flow.mode),
                   ("stream", flow.stream), ("request id", flow.request_id),
                   ("messages", summary.get("messages")), ("blocks", summary.get("blocks")),
                   ("system prompt", f"{summary.get('system_chars', 0)} chars"),
                   ("tools", ", ".join(summary.get("tools") or []) or "none"),
                   ("max_tokens", summary.get("max_tokens")),
                   ("thinking", summary.get("thinking")),
                   ("ignored params", ", ".join(summary.get("ignored") or []) or "none")])
    outcome = _kv([("started", _clock(flow.created)),
                   ("state", flow.state.value), ("stop reason", flow.stop_reason),
                   ("session", flow.session_id), ("resumed", flow.resumed),
                   ("elapsed", f"{flow.elapsed_s:.2f} s"),
                   ("time to first token", f"{flow.ttft_s:.3f} s" if flow.ttft_s else None),
                   ("input tokens", flow.input_tokens), ("output tokens", flow.output_tokens),
                   ("cost", f"${flow.cost_usd:.4f}" if flow.cost_usd else None),
                   ("cancelled by", flow.cancel_reason),
                   ("error", error_text(flow.error))])
    options = _kv(sorted((flow.options_summary or {}).items()))
    timeline = Table(show_edge=False, box=None, pad_edge=False, expand=True)
    timeline.add_column("t", style="dim", no_wrap=True)
    timeline.add_column("event", style="bold", no_wrap=True)
    timeline.add_column("detail", overflow="fold", ratio=1)
    for row in timeline_rows(flow):
        timeline.add_row(*row)
    stderr = Text("\n".join(flow.stderr) or "(none)", style="dim")
    response = Text()
    for line in lines:
        response.append(line.text + "\n", style="dim italic" if line.kind == THINKING else "")
    if not response.plain:
        response = Text("(no text streamed)", style="dim")
    return Group(Rule(f"flow #{flow.id}: {flow.method} {flow.path}"), request,
                 Rule("outcome"), outcome, Rule("SDK options"), options,
                 Rule("timeline"), timeline, Rule("CLI stderr"), stderr,
                 Rule("response"), response)


class FlowDetail(ModalScreen[None]):
    """One flow, kept current while it runs; scrolled with the keys a pager has."""

    DEFAULT_CSS = """
    FlowDetail { align: center middle; }
    FlowDetail > VerticalScroll { width: 95%; height: 95%; border: thick $accent;
                                  background: $surface; padding: 0 1; }
    """
    AUTO_FOCUS = "#detail-scroll"
    BINDINGS = [Binding("escape,q,enter", "close", "Close", id="detail-close"), SHOT,
                Binding("j", "scroll('down')", "Down", show=False, id="detail-down"),
                Binding("k", "scroll('up')", "Up", show=False, id="detail-up"),
                Binding("space", "scroll('page_down')", "Page down", show=False,
                        id="detail-page-down"),
                Binding("g", "scroll('home')", "Top", show=False, id="detail-top"),
                Binding("G", "scroll('end')", "Bottom", show=False, id="detail-bottom"),
                # The app's copy keys, meaning this flow (a modal blocks the app's bindings).
                Binding("y", "app.copy_text", "Copy text", id="detail-copy-text"),
                Binding("Y", "app.copy_curl", "Copy curl", id="detail-copy-curl"),
                Binding("x", "app.export_flow", "Export", id="detail-export-flow")]
    REFRESH_S = 0.5

    def __init__(self, flow: Flow, lines: Callable[[], list[StreamLine]]) -> None:
        super().__init__()
        self.flow = flow
        self.lines = lines

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-scroll"):
            yield Static(describe(self.flow, self.lines()), id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        if not self.flow.state.terminal:
            self._timer = self.set_interval(self.REFRESH_S, self._refresh_body)

    def _refresh_body(self) -> None:
        """A running flow's detail moves with it: elapsed, timeline, text; once more at its
        end, then the timer stops."""
        self.query_one("#detail-body", Static).update(describe(self.flow, self.lines()))
        if self.flow.state.terminal:
            self._timer.stop()

    def action_scroll(self, where: str) -> None:
        view = self.query_one("#detail-scroll", VerticalScroll)
        {"down": view.scroll_down, "up": view.scroll_up, "page_down": view.scroll_page_down,
         "home": view.scroll_home, "end": view.scroll_end}[where](animate=False)

    def action_close(self) -> None:
        self.dismiss(None)
