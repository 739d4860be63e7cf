"""Help (?): every key with what it does, and what each panel shows."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
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


STATE_LEGEND = (
    ("queued", "waiting for a free slot (max_concurrent)"),
    ("starting", "its CLI is starting or being resumed"),
    ("streaming", "tokens are arriving"),
    ("stalled", "running, but nothing arrived for 10 s (reason says how long)"),
    ("parked×N", "ended with N client tool calls; its CLI waits for the results"),
    ("done", "answered (reason: the stop reason)"),
    ("error", "failed (reason: the error class; Aborts has the message and the fix)"),
    ("cancelled", "by the client, the operator (c) or shutdown (reason says which)"),
    ("timed out", "a time limit ended it (reason: which limit)"),
)


def _key(binding: Binding, keymap: dict[str, str]) -> str:
    names = {"slash": "/", "question_mark": "?", "escape": "Esc", "enter": "Enter"}
    keys = keymap.get(binding.id or "", binding.key)
    return ", ".join(names.get(k, k) for k in keys.split(","))


def help_body(bindings: list[Binding], keymap: dict[str, str] | None = None) -> Group:
    keymap = keymap or {}
    keys = Table(show_edge=False, box=None, pad_edge=False)
    keys.add_column("key", style="bold cyan", no_wrap=True)
    keys.add_column("does")
    keys.add_column("id (keymap)", style="dim", no_wrap=True)
    for binding in bindings:
        keys.add_row(_key(binding, keymap), binding.tooltip or binding.description,
                     binding.id or "")
    keys.add_row("j, k, g, G", "flows table: down, up, first, last (also arrows, Home/End)",
                 "flows-down …")
    keys.add_row("o / header click", "sort the flows by the next column / by that column "
                 "(again: reverse)", "sort-flows")
    keys.add_row("tab", "move between the flows table and the panels")
    keys.add_row("ctrl+p", "command palette: the same actions by name")
    panels = Table(show_edge=False, box=None, pad_edge=False)
    panels.add_column("panel", style="bold", no_wrap=True)
    panels.add_column("shows")
    for row in PANEL_HELP:
        panels.add_row(*row)
    states = Table(show_edge=False, box=None, pad_edge=False)
    states.add_column("state", style="bold", no_wrap=True)
    states.add_column("means")
    for row in STATE_LEGEND:
        states.add_row(*row)
    return Group(Rule("claude-proxy-tui: keys"), keys,
                 Text("Your own keys: the keymap setting, by id (e.g. cancel-flow = \"x\").",
                      style="dim"),
                 Rule("flow states"), states, Rule("panels"), panels,
                 Text("\nEsc, q or ? closes this help.", style="dim"))


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 95%; height: 90%;
                                  border: thick $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help-close"), SHOT]

    def __init__(self, bindings: Iterable[BindingType],
                 keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.bindings_list = [b for b in bindings if isinstance(b, Binding)]
        self.keymap = keymap or {}

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(help_body(self.bindings_list, self.keymap), id="help-body")

    def action_close(self) -> None:
        self.dismiss(None)
