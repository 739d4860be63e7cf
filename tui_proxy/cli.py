"""``claude-proxy-tui``: the console by default, ``--headless`` for a log on stdout, and the
everyday subcommands (``init-config``, ``config``, ``doctor``, ``install-service``, ``log``,
``replay``), dispatched on the first argument so the run flags stay exactly as they were."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from tui_proxy import __version__
from tui_proxy.config.settings import FLAG_FIELDS, Field, SettingsError, load_settings

SETTING_FLAGS = tuple(f.name for f in FLAG_FIELDS)
SUBCOMMAND_HELP = {
    "init-config": "write a commented settings file (every setting, commented out)",
    "config": "print the effective settings and where each value came from",
    "doctor": "check the CLI, login, settings, cwd, port and environment; exit 0/1/2",
    "install-service": "install (or --uninstall, --print) a systemd user unit / launchd agent",
    "log": "read the request journal: table, filters, per-flow timeline, totals",
    "replay": "re-send a journalled request to the running proxy",
    "login": "log in the Claude Code CLI this proxy drives (its own `auth login`), then check",
    "logout": "log out the CLI this proxy drives",
    "status": "is the CLI this proxy drives logged in, as it will see it? exit 0/1/2",
    "claude": "run the CLI this proxy drives with ARGS (no PATH entry needed)",
}


def flag_help(f: Field) -> str:
    """A flag's help: the setting's own text (the settings file shows the same), with its
    default when the text does not already say it."""
    default = f.default
    if "default" in f.help or default is None or isinstance(default, bool):
        return f.help
    return f"{f.help} (default {default})"


def _flag_type(f: Field) -> Callable[[str], object]:
    """The setting's own parser, so a bad value is argparse's usage error (exit 2)."""
    def parse(raw: str) -> object:
        try:
            return f.parse(raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = f.name  # argparse names it in "invalid <name> value"
    return parse


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting declared with ``flag=True`` in ``settings.FIELDS``, then
    ``--config``."""
    for f in FLAG_FIELDS:
        if f.switch:
            parser.add_argument(f.flag_name, dest=f.name, action="store_true", default=None,
                                help=flag_help(f))
        elif f.choices:
            parser.add_argument(f.flag_name, dest=f.name, choices=f.choices, metavar=f.metavar,
                                help=flag_help(f))
        else:
            parser.add_argument(f.flag_name, dest=f.name, type=_flag_type(f), metavar=f.metavar,
                                help=flag_help(f))
    parser.add_argument("--config", help="settings file (TOML)")


def build_parser() -> argparse.ArgumentParser:
    epilog = "subcommands (claude-proxy-tui COMMAND --help):\n" + "\n".join(
        f"  {name:<16} {text}" for name, text in SUBCOMMAND_HELP.items())
    parser = argparse.ArgumentParser(
        prog="claude-proxy-tui",
        description="Anthropic Messages API proxy on the Claude Agent SDK, with a live console.",
        epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--headless", action="store_true",
                        help="no console: one log line per request event on stdout")
    _add_setting_flags(parser)
    return parser


def _flags(args: argparse.Namespace) -> dict:
    return {key: getattr(args, key, None) for key in SETTING_FLAGS}


def _load(args: argparse.Namespace):
    """Effective settings for a subcommand, or None after printing the error."""
    try:
        return load_settings(flags=_flags(args), config_file=args.config)
    except SettingsError as exc:
        print(f"claude-proxy-tui: {exc}", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    return run_proxy(args)


def run_proxy(args: argparse.Namespace) -> int:
    """The proxy itself: console, or ``--headless``."""
    flags = _flags(args)
    try:
        settings = load_settings(flags=flags, config_file=args.config)
    except SettingsError as exc:
        print(f"claude-proxy-tui: {exc}", file=sys.stderr)
        return 2
    if args.headless:
        from tui_proxy.headless import run_headless

        try:
            return asyncio.run(run_headless(settings))
        except KeyboardInterrupt:
            return 130
    from tui_proxy.console.app import run_console

    return run_console(settings, config_file=args.config, flags=flags)


# ---------------------------------------------------------------- subcommands

def _subparser(name: str, **kwargs) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=f"claude-proxy-tui {name}",
                                   description=SUBCOMMAND_HELP[name], **kwargs)


def cmd_init_config(argv: list[str]) -> int:
    from tui_proxy.config.settings_file import ConfigExists, render_config, write_config
    from tui_proxy.config.settings import default_config_path

    parser = _subparser("init-config")
    parser.add_argument("--config", help=f"file to write (default {default_config_path()})")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.add_argument("--print", dest="print_only", action="store_true",
                        help="print the file instead of writing it")
    args = parser.parse_args(argv)
    if args.print_only:
        sys.stdout.write(render_config())
        return 0
    try:
        path = write_config(args.config, force=args.force)
    except ConfigExists as exc:
        print(f"claude-proxy-tui: {exc} already exists; not overwritten (use --force to replace "
              "it, or `claude-proxy-tui config` to see what it sets)", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"claude-proxy-tui: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"wrote {path} (every setting commented out; uncomment a line to change it)")
    return 0


def cmd_config(argv: list[str]) -> int:
    from pathlib import Path

    from tui_proxy.config.settings_file import print_effective
    from tui_proxy.config.settings import default_config_path

    parser = _subparser("config")
    _add_setting_flags(parser)
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")
    args = parser.parse_args(argv)
    settings = _load(args)
    if settings is None:
        return 2
    path = Path(args.config).expanduser() if args.config else default_config_path()
    print_effective(settings, path, as_json=args.json)
    return 0


def cmd_doctor(argv: list[str]) -> int:
    from tui_proxy.host.doctor import main as doctor_main

    parser = _subparser("doctor")
    _add_setting_flags(parser)
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds each CLI probe may take (default 10)")
    args = parser.parse_args(argv)
    return doctor_main(_flags(args), args.config, as_json=args.json, timeout=args.timeout)


def cmd_install_service(argv: list[str]) -> int:
    from tui_proxy.commands.service import main as service_main

    parser = _subparser("install-service")
    _add_setting_flags(parser)
    parser.add_argument("--uninstall", action="store_true", help="stop and remove the service")
    parser.add_argument("--print", dest="print_only", action="store_true",
                        help="only print the unit / plist, change nothing")
    args = parser.parse_args(argv)
    settings = _load(args)
    if settings is None:
        return 2
    return service_main(settings, config=args.config, flags=_flags(args),
                        uninstall=args.uninstall, print_only=args.print_only)


def cmd_log(argv: list[str]) -> int:
    from tui_proxy.commands.logcmd import main as log_main

    parser = _subparser("log")
    parser.add_argument("--config", help="settings file (TOML), for journal_dir")
    parser.add_argument("--journal-dir", dest="journal_dir", help="read this journal folder")
    parser.add_argument("--failed", action="store_true", help="only flows that did not finish well")
    parser.add_argument("--slow", type=float, metavar="SECONDS",
                        help="only flows that took at least SECONDS")
    parser.add_argument("--flow", metavar="ID",
                        help="one flow's timeline (ID, or RUN:ID to pick a proxy run)")
    parser.add_argument("--since", metavar="WHEN",
                        help="ISO date/time (2025-01-31, 2025-01-31T14:00) "
                             "or relative (30m, 2h, 1d)")
    parser.add_argument("--limit", type=int, default=None,
                        help="show the latest N flows (default: 50 in the table, all with --json; "
                        "0: all; totals cover all)")
    parser.add_argument("--json", action="store_true", help="one JSON object per flow")
    args = parser.parse_args(argv)
    return log_main(args)


def cmd_replay(argv: list[str]) -> int:
    from tui_proxy.commands.replay import main as replay_main

    parser = _subparser("replay")
    parser.add_argument("flow", metavar="FLOW_ID", help="flow id (or RUN:ID) from `log`")
    parser.add_argument("--config", help="settings file (TOML)")
    parser.add_argument("--journal-dir", dest="journal_dir", help="read this journal folder")
    parser.add_argument("--host", help="proxy address (default: from the settings)")
    parser.add_argument("--port", type=int, help="proxy port (default: from the settings)")
    parser.add_argument("--url", help="proxy base URL, instead of host and port")
    args = parser.parse_args(argv)
    return replay_main(args)


def _auth_command(action: str) -> Callable[[list[str]], int]:
    def command(argv: list[str]) -> int:
        from tui_proxy.commands.login import auth_main

        parser = _subparser(action)
        parser.add_argument("--config", help="settings file (TOML), for cli_path")
        parser.add_argument("--cli-path", dest="cli_path", help="the claude executable")
        args = parser.parse_args(argv)
        settings = _load(args)
        return 2 if settings is None else auth_main(action, settings)
    return command


def cmd_claude(argv: list[str]) -> int:
    """Everything after ``claude`` goes to the CLI untouched (settings from env and file)."""
    from tui_proxy.commands.login import proxy_cli, run_cli

    try:
        settings = load_settings(flags={})
    except SettingsError as exc:
        print(f"claude-proxy-tui: {exc}", file=sys.stderr)
        return 2
    path, error = proxy_cli(settings)
    if error or not path:
        print(f"claude-proxy-tui: no Claude Code CLI to run: {error}", file=sys.stderr)
        return 2
    return run_cli(path, argv)


SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {
    "init-config": cmd_init_config,
    "config": cmd_config,
    "doctor": cmd_doctor,
    "install-service": cmd_install_service,
    "log": cmd_log,
    "replay": cmd_replay,
    "login": _auth_command("login"),
    "logout": _auth_command("logout"),
    "status": _auth_command("status"),
    "claude": cmd_claude,
}
