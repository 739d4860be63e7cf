"""``claude-proxy-tui``: the console by default, ``--headless`` for a log on stdout."""

from __future__ import annotations

import argparse
import asyncio
import sys

from . import __version__
from .settings import MODES, PERMISSION_MODES, SettingsError, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claude-proxy-tui",
        description="Anthropic Messages API proxy on the Claude Agent SDK, with a live console.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--headless", action="store_true",
                        help="no console: one log line per request event on stdout")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 3456; 0 picks a free port)")
    parser.add_argument("--cwd", help="working directory of Claude's runs")
    parser.add_argument("--cli-path", dest="cli_path", help="the claude executable to drive")
    parser.add_argument("--config", help="settings file (TOML)")
    parser.add_argument("--mode", choices=MODES, help="chat (default) or agent")
    parser.add_argument("--permission-mode", dest="permission_mode", choices=PERMISSION_MODES,
                        help="permission mode of agent runs")
    parser.add_argument("--debug", action="store_true", default=None,
                        help="verbose logging, per-token lines in headless mode")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    flags = {key: getattr(args, key) for key in
             ("host", "port", "cwd", "cli_path", "mode", "permission_mode", "debug")}
    try:
        settings = load_settings(flags=flags, config_file=args.config)
    except SettingsError as exc:
        print(f"claude-proxy-tui: {exc}", file=sys.stderr)
        return 2
    if args.headless:
        from .headless import run_headless

        try:
            return asyncio.run(run_headless(settings))
        except KeyboardInterrupt:
            return 130
    from .console.app import run_console

    return run_console(settings, config_file=args.config, flags=flags)
