"""A side panel of event lines (file operations, tools, aborts, stderr, log): bounded,
written in batches per tick, coloured by level, each line tagged with its flow."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

from rich.text import Text
from textual.events import Resize
from textual.widgets import RichLog

from tui_proxy.console.model import PanelEntry

LEVEL_STYLE = {"info": "", "ok": "green", "warning": "bold yellow", "error": "bold red",
               "dim": "dim"}
MAX_LINES = 2000


def render_entry(entry: PanelEntry, clock_format: Callable[[float], str]) -> Text:
    text = Text(clock_format(entry.ts) + " ", style="dim")
    text.append(f"#{entry.flow_id:<4} " if entry.flow_id is not None else "      ",
                style="bold blue")
    text.append(entry.text, style=LEVEL_STYLE.get(entry.level, ""))
    return text


def local_clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


class EventPanel(RichLog):
    DEFAULT_CSS = "EventPanel { height: 1fr; overflow-x: hidden; }"

    def __init__(self, panel: str, clock_format: Callable[[float], str] = local_clock,
                 **kwargs) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=True, markup=False, min_width=20, **kwargs)
        self.panel = panel
        self.clock_format = clock_format
        self.count = 0
        # Entries that arrive while the panel is hidden: a RichLog that has been shown once
        # wraps what it is given at min_width while its width is 0 (every line cut at 20
        # columns), so they wait here and are written when it is on screen again.
        self._hidden: deque[PanelEntry] = deque(maxlen=MAX_LINES)

    def add(self, entries: Iterable[PanelEntry]) -> None:
        if self._size_known and self.scrollable_content_region.width == 0:
            self._hidden.extend(entries)
            return
        self._write(entries)

    def _write(self, entries: Iterable[PanelEntry]) -> None:
        for entry in entries:
            self.write(render_entry(entry, self.clock_format))
            self.count += 1

    def on_resize(self, event: Resize) -> None:
        if self._hidden and self.scrollable_content_region.width > 0:
            held, self._hidden = list(self._hidden), deque(maxlen=MAX_LINES)
            self._write(held)
