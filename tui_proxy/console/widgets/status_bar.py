"""The status bar: where the proxy listens and how it runs, load, and the rate-limit state."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from tui_proxy.console.model import RateState


@dataclass
class StatusFacts:
    url: str
    mode: str
    permission_mode: str
    cwd: str
    cli: str
    login: str
    in_flight: int
    queued: int
    per_minute: int
    parked: int
    warm: int
    mcp_timeout_s: float
    rate: RateState | None
    now: float
    follow: bool
    stream_all: bool
    filter_text: str
    screenshots: str
    note: str | None = None
    journal: str | None = None  # journal loss ("journal 12 lost"), None while nothing is lost


def _countdown(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def rate_text(rate: RateState | None, now: float) -> Text:
    if rate is None:
        return Text("rate: no data yet", style="dim")
    used = f" {rate.utilization:.0%}" if rate.utilization is not None else ""
    kind = (rate.limit_type or "limit").replace("_", "-")
    if rate.status == "rejected":
        left = f", resets in {_countdown(rate.resets_at - now)}" if rate.resets_at else ""
        return Text(f" LIMITED {kind}{used}{left} ", style="bold white on red")
    style = "bold yellow" if rate.status == "allowed_warning" else "green"
    label = "warning" if rate.status == "allowed_warning" else "ok"
    return Text(f"rate: {label} {kind}{used}", style=style)


def render_status(f: StatusFacts) -> Text:
    # Each line is cut with an ellipsis, never wrapped: the bar keeps its two rows.
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(" › ", style="bold")  # a glyph Fira Code has: screenshots render it
    line.append(f.url, style="bold cyan")
    line.append(f"  mode {f.mode} ")
    # Only agent mode runs Claude's own tools, so only there does bypassPermissions apply.
    perm_style = "bold black on yellow" if f.permission_mode == "bypassPermissions" \
        and f.mode == "agent" else "dim"
    line.append(f" {f.permission_mode} ", style=perm_style)
    login_style = "bold red" if f.login.startswith("NO") else "dim"
    line.append(f"  login {f.login}", style=login_style)
    line.append(f"  cwd {f.cwd}", style="dim")
    line.append(f"  CLI {f.cli}", style="dim")
    line.append("\n")
    load_style = "bold green" if f.in_flight else ""
    line.append(f" in flight {f.in_flight}", style=load_style)
    line.append(f"  queued {f.queued}", style="bold yellow" if f.queued else "")
    line.append(f"  {f.per_minute}/min  ")
    line.append_text(rate_text(f.rate, f.now))
    line.append(f"  parked {f.parked}", style="bold magenta" if f.parked else "")
    line.append(f"  warm {f.warm}  MCP timeout {f.mcp_timeout_s:g}s")
    line.append(f"  follow {'on' if f.follow else 'off'}", style="dim")
    line.append(f"  stream {'all' if f.stream_all else 'selected'}", style="dim")
    if f.filter_text:
        line.append(f"  filter “{f.filter_text}”", style="bold")
    if f.journal:
        line.append(f"  {f.journal}", style="bold white on red")
    line.append(f"  shots {f.screenshots}", style="dim")
    if f.note:
        line.append(f"  {f.note}", style="italic")
    return line


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 2; background: $panel; color: $text;
                text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self._last: Text | None = None

    def show(self, facts: StatusFacts) -> None:
        text = render_status(facts)
        if self._last is None or text.plain != self._last.plain or text.spans != self._last.spans:
            self._last = text
            self.update(text, layout=False)
