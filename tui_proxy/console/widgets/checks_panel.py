"""The doctor's checks (PASS / WARN / FAIL with the fix), run once at start."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui_proxy.host.doctor import FAIL, PASS, WARN, Check

STYLE = {PASS: "bold green", WARN: "bold yellow", FAIL: "bold red"}


def checks_table(checks: list[Check]) -> Table:
    table = Table(show_edge=False, pad_edge=False, expand=True, box=None)
    table.add_column("", no_wrap=True, width=4)
    table.add_column("check", style="bold", no_wrap=True)
    table.add_column("detail / fix", overflow="fold", ratio=1)
    for check in checks:
        body = Text(check.detail)
        if check.fix:
            body.append("\n→ " + check.fix, style="cyan")
        table.add_row(Text(check.status, style=STYLE.get(check.status, "")), check.name, body)
    return table


class ChecksPanel(VerticalScroll):
    DEFAULT_CSS = "ChecksPanel { height: 1fr; } ChecksPanel > Static { width: 1fr; }"

    def compose(self):
        yield Static(Text("running checks…", style="dim"), id="checks-body")

    def show(self, checks: list[Check]) -> None:
        self.query_one("#checks-body", Static).update(checks_table(checks))

    def show_error(self, message: str) -> None:
        self.query_one("#checks-body", Static).update(Text(message, style="bold red"))
