"""``claude-proxy-tui log``: the journal as a table, a per-flow timeline, totals, or JSON."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from tui_proxy.journal.reader import (
    Flow, Journal, find_flow, journal_dir, load_journal, parse_since, select, totals,
)
from tui_proxy.config.settings import SettingsError, load_settings
from tui_proxy.core.describe import describe_entry, short

STATE_STYLE = {"done": "green", "error": "red", "cancelled": "yellow", "timed_out": "red",
               "lost": "magenta"}


def _when(ts: float) -> str:
    moment = datetime.fromtimestamp(ts)
    if moment.date() == datetime.now().date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _secs(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.1f}s"


def _tokens(usage: dict[str, Any]) -> str:
    if not usage:
        return "–"
    return f"{usage.get('input_tokens', 0)}/{usage.get('output_tokens', 0)}"


def _cost(value: float | None) -> str:
    return "–" if value is None else f"${value:.4f}"


def print_table(flows: list[Flow], shown: list[Flow], console: Any) -> None:
    from rich.console import JustifyMethod
    from rich.table import Table
    from rich.text import Text

    runs = {f.proxy_run for f in flows}
    table = Table(show_edge=False, pad_edge=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("time", "left"), ("flow", "right"), ("model", "left"), ("mode", "left"),
        ("state", "left"), ("status", "right"), ("took", "right"), ("ttft", "right"),
        ("in/out", "right"), ("cost", "right"), ("error", "left"))
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold" if name == "error" else "ellipsis",
                         no_wrap=name != "error")
    for f in shown:
        end = f.end or {}
        ident = str(f.flow_id) if len(runs) == 1 else f"{f.proxy_run[:6]}:{f.flow_id}"
        message = short(end.get("message"), 60)
        error = "" if f.ok else f"{f.error_class or ''}: {message}".strip(": ")
        table.add_row(
            _when(f.ts), ident, Text(str(f.model or "–")), str((f.start or {}).get("mode") or "–"),
            Text(f.state, style=STATE_STYLE.get(f.state, "")),
            str(end.get("status") or "–"), _secs(f.duration_s), _secs(f.ttft_s),
            _tokens(f.usage), _cost(f.cost_usd), Text(error))
    console.print(table)


def print_totals(flows: list[Flow], console: Any, bad_lines: int = 0) -> None:
    t = totals(flows)
    errors = ", ".join(f"{k} {v}" for k, v in t["errors"].items()) or "none"
    tok = t["tokens"]
    cache = tok["cache_read_input_tokens"] + tok["cache_creation_input_tokens"]
    lines = [
        f"requests {t['requests']} ({t['ok']} ok)   errors: {errors}",
        f"tokens in {tok['input_tokens']} out {tok['output_tokens']}"
        + (f" cache {cache}" if cache else "")
        + f"   cost ${t['cost_usd']:.4f}"
        + f"   time to first token p50 {_secs(t['ttft_p50_s'])} p95 {_secs(t['ttft_p95_s'])}",
    ]
    if bad_lines:
        lines.append(f"({bad_lines} unreadable journal lines skipped)")
    for line in lines:
        console.print(line, highlight=False)


def print_timeline(flow: Flow, console: Any) -> None:
    from rich.text import Text

    start, end = flow.start or {}, flow.end or {}
    console.print(Text(f"flow {flow.flow_id}  run {flow.proxy_run}  {_when(flow.ts)}",
                       style="bold"))
    rows = [
        ("request", f"{start.get('method', 'POST')} {start.get('path', '?')} from "
                    f"{start.get('client', '?')}  request-id {flow.summary()['request_id']}"),
        ("model", f"{flow.model}  mode {start.get('mode')}  stream {start.get('stream')}"),
        ("summary", json.dumps(start.get("summary") or {})),
        ("state", f"{flow.state}  status {end.get('status', '–')}"
                  + (f"  {flow.error_class}" if not flow.ok else "")),
    ]
    if end.get("message"):
        rows.append(("message", str(end["message"])))
    rows += [
        ("session", str(end.get("session_id") or "–")),
        ("timing", f"took {_secs(flow.duration_s)}, first token {_secs(flow.ttft_s)}"),
        ("usage", f"{json.dumps(end.get('usage')) if end.get('usage') else '–'}  "
                  f"cost {_cost(flow.cost_usd)}"),
    ]
    if end.get("options"):
        rows.append(("options", json.dumps(end["options"])))
    if start.get("body_truncated"):
        rows.append(("body", "not journalled (over 1 MiB): cannot be replayed"))
    for label, value in rows:
        console.print(Text(f"  {label:<8} ") + Text(value))
    events = end.get("events") or []
    if events:
        console.print(Text("  timeline", style="bold"))
        for event in events:
            t = event.get("t")
            stamp = f"+{t:8.3f}s" if isinstance(t, (int, float)) else " " * 10
            console.print(Text(f"  {stamp}  ") + Text(str(event.get("kind", "?")), style="cyan")
                          + Text("  " + describe_entry(event, flow.ts)))
    if flow.end is None:
        console.print(Text("  no end record: the proxy stopped mid-flow (lost), or it is still "
                           "running", style="magenta"))


TABLE_LIMIT = 50  # rows the table shows without --limit; --json shows every flow


def main(args: argparse.Namespace) -> int:
    """``log``; a reader that goes away (``log --json | head -1``) ends it quietly."""
    try:
        code = _main(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        # What a CLI tool killed by SIGPIPE does: no traceback, status 128 + SIGPIPE. Point
        # stdout at /dev/null so the interpreter's own flush at exit cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 128 + signal.SIGPIPE


def _plain_console() -> Any:
    """Plain text: no emoji codes (":ID:" would print as an emoji), no markup in ids or paths;
    a closed pipe raises BrokenPipeError (rich would exit 1 itself) for main() to answer."""
    from rich.console import Console

    class PlainConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return PlainConsole(emoji=False, markup=False)


def _main(args: argparse.Namespace) -> int:
    override = getattr(args, "journal_dir", None)
    settings = None
    if not override:
        try:
            settings = load_settings(config_file=args.config)
        except SettingsError as exc:
            print(f"claude-proxy-tui: {exc}", file=sys.stderr)
            return 2
    directory = journal_dir(settings, override)
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"claude-proxy-tui log: {exc}", file=sys.stderr)
        return 2
    journal = load_journal(directory, since)
    console = _plain_console()
    if not journal.files:
        print(f"claude-proxy-tui log: no journal in {directory}"
              + (" (journal_max_mb = 0 turns it off)" if settings and not settings.journal_max_mb
                 else ""), file=sys.stderr)
        return 1

    if args.flow:
        return _show_flow(args, journal, directory, console)

    chosen = select(journal.flows, failed=args.failed, slow=args.slow)
    limit = args.limit if args.limit is not None else None if args.json else TABLE_LIMIT
    shown = chosen[-limit:] if limit and limit > 0 else chosen
    if args.json:
        for flow in shown:
            print(json.dumps(flow.summary()))
        return 0
    if chosen:
        print_table(journal.flows, shown, console)
        if len(shown) < len(chosen):
            console.print(f"(latest {len(shown)} of {len(chosen)} shown; --limit N for more)",
                          highlight=False)
    else:
        console.print("no matching flows", highlight=False)
    print_totals(chosen, console, journal.bad_lines)
    return 0


def _show_flow(args: argparse.Namespace, journal: Journal, directory: Path, console: Any) -> int:
    """`log --flow ID`: one flow's timeline (the latest proxy run's, unless RUN:ID)."""
    try:
        matches = find_flow(journal.flows, args.flow)
    except ValueError as exc:
        print(f"claude-proxy-tui log: {exc}", file=sys.stderr)
        return 2
    if not matches:
        print(f"claude-proxy-tui log: no flow {args.flow} in {directory}", file=sys.stderr)
        return 1
    flow = matches[-1]
    if args.json:
        print(json.dumps({"proxy_run": flow.proxy_run, "flow_id": flow.flow_id,
                          "start": flow.start, "end": flow.end}))
        return 0
    if len(matches) > 1:
        console.print(f"({len(matches)} proxy runs have flow {flow.flow_id}; showing the "
                      f"latest — pick one with RUN:ID: "
                      + ", ".join(f"{m.proxy_run[:8]}:{m.flow_id}" for m in matches) + ")",
                      highlight=False)
    print_timeline(flow, console)
    return 0
