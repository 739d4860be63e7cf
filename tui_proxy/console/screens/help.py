"""Help (?): every key with what it does, and what each panel shows."""

from __future__ import annotations

from rich.console import Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui_proxy.console.screens.shot import SHOT

PANEL_HELP = (
    ("1 Stream", "text of the selected flow as it streams (a: all flows); thinking dimmed"),
    ("2 Files", "every file Claude touched: tool, bytes, duration, outcome, absolute path; "
                "▲ when outside the working directory"),
    ("3 Tools", "tool calls and results; parked client tool calls and their resumption"),
    ("4 Aborts", "rate limits with reset times, retries, timeouts (which limit), cancels, "
                 "errors with their fix"),
    ("5 Stderr", "the CLI's stderr, tagged with the flow"),
    ("6 Sessions", "conversation → SDK session → state → transcript; warm processes; parked"),
    ("7 Log", "the proxy's own log: requests, sessions, notes, settings reloads"),
    ("8 Doctor", "the checks of `claude-proxy-tui doctor`, run at start"),
)


def _key(binding: Binding) -> str:
    names = {"slash": "/", "question_mark": "?", "escape": "Esc", "enter": "Enter"}
    return ", ".join(names.get(k, k) for k in binding.key.split(","))


def help_body(bindings: list[Binding]) -> Group:
    keys = Table(show_edge=False, box=None, pad_edge=False)
    keys.add_column("key", style="bold cyan", no_wrap=True)
    keys.add_column("does")
    for binding in bindings:
        keys.add_row(_key(binding), binding.tooltip or binding.description)
    keys.add_row("tab", "move between the flows table and the panels")
    keys.add_row("ctrl+p", "command palette: the same actions by name")
    panels = Table(show_edge=False, box=None, pad_edge=False)
    panels.add_column("panel", style="bold", no_wrap=True)
    panels.add_column("shows")
    for row in PANEL_HELP:
        panels.add_row(*row)
    return Group(Rule("claude-proxy-tui: keys"), keys, Rule("panels"), panels,
                 Text("\nEsc, q or ? closes this help.", style="dim"))


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 95%; height: 90%;
                                  border: thick $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help-close"), SHOT]

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__()
        self.bindings_list = [b for b in bindings if isinstance(b, Binding)]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(help_body(self.bindings_list), id="help-body")

    def action_close(self) -> None:
        self.dismiss(None)
