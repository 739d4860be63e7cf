"""Token stream of the selected flow (or of all flows): whole lines, thinking dimmed.

Lines arrive from the model already cut; the line still being typed shows below the log
and is rewritten once per tick, never once per token.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RichLog, Static

from tui_proxy.console.model import THINKING, StreamLine

MAX_LINES = 3000


def render_line(line: StreamLine, all_flows: bool) -> Text:
    text = Text()
    if all_flows:
        text.append(f"#{line.flow_id:<4} ", style="bold blue")
    if line.kind == THINKING:
        text.append(line.text, style="dim italic")
    else:
        text.append(line.text)
    return text


class StreamPanel(Vertical):
    DEFAULT_CSS = """
    StreamPanel { height: 1fr; }
    StreamPanel > RichLog { height: auto; overflow-x: hidden; overflow-y: auto; }
    StreamPanel > #typing { height: 1; color: $text-muted; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.flow_id: int | None = None
        self.all_flows = False
        self._typing = ""
        self._drawn: set[int] = set()  # lines a redraw already showed (not to append twice)

    def compose(self) -> ComposeResult:
        yield RichLog(max_lines=MAX_LINES, wrap=True, markup=False, min_width=20, id="stream-log")
        yield Static("", id="typing")

    def on_resize(self) -> None:
        # The log grows with its lines and the typing line follows right below; once the
        # panel is full the log scrolls and the typing line stays at the bottom.
        self.log_widget.styles.max_height = max(1, self.size.height - 1)

    @property
    def log_widget(self) -> RichLog:
        return self.query_one("#stream-log", RichLog)

    def title(self) -> str:
        if self.all_flows:
            return "all flows"
        return f"flow #{self.flow_id}" if self.flow_id is not None else "no flow selected"

    def show(self, flow_id: int | None, history: Iterable[StreamLine]) -> None:
        """Switch to a flow: redraw its kept lines once."""
        self.flow_id = flow_id
        log = self.log_widget
        log.clear()
        self._drawn = set()
        for line in history:
            log.write(render_line(line, self.all_flows))
            self._drawn.add(id(line))

    def append(self, lines: list[StreamLine]) -> None:
        log = self.log_widget
        for line in lines:
            if id(line) in self._drawn:
                continue
            if self.all_flows or line.flow_id == self.flow_id:
                log.write(render_line(line, self.all_flows))
        self._drawn = set()

    def set_typing(self, line: StreamLine | None) -> None:
        text = "" if line is None else f"{line.text}▌"
        if text != self._typing:
            self._typing = text
            self.query_one("#typing", Static).update(
                Text(text, style="dim italic" if line and line.kind == THINKING else ""),
                layout=False)

    def clear(self) -> None:
        self.log_widget.clear()
