"""``claude-proxy-tui login``, ``logout``, ``status`` and ``claude ARGS``: the CLI the proxy
drives, run in this terminal with the environment the proxy gives it (see ``sdk.login``)."""

from __future__ import annotations

import asyncio
import os
import sys

from tui_proxy.sdk.login import auth_commands, cli_environment

def proxy_cli(settings) -> tuple[str | None, str | None]:
    """(path, error) of the CLI the proxy with these settings drives."""
    from tui_proxy.sdk.cli_locate import locate_cli

    info = locate_cli(settings.cli_path, settings.sources.get("cli_path", "setting"))
    return info.path, info.error


def run_cli(cli_path: str, args: list[str]) -> int:
    """Run the proxy's CLI in this terminal, with the environment the proxy gives it."""
    import subprocess

    try:
        return subprocess.call([cli_path, *args], env=cli_environment())
    except OSError as exc:
        print(f"claude-proxy-tui: cannot run {cli_path}: {exc.strerror}", file=sys.stderr)
        return 127
    except KeyboardInterrupt:
        return 130


def print_login_state(settings, timeout: float = 10.0) -> int:
    """doctor's login check for these settings; exit 0 logged in, 1 unsure, 2 not."""
    from tui_proxy.host.doctor import FAIL, WARN, check_login, print_checks
    from tui_proxy.sdk.cli_locate import locate_cli, probe_version

    async def check():
        info = await probe_version(locate_cli(settings.cli_path,
                                              settings.sources.get("cli_path", "setting")))
        return await check_login(info, os.environ, timeout)

    result = asyncio.run(check())
    print_checks([result])
    return {FAIL: 2, WARN: 1}.get(result.status, 0)


def auth_main(action: str, settings, timeout: float = 15.0) -> int:
    """``login`` / ``logout``: the CLI's own command, interactive; then the login state.
    ``status``: the login state only."""
    path, error = proxy_cli(settings)
    if error or not path:
        print(f"claude-proxy-tui: no Claude Code CLI to run: {error}", file=sys.stderr)
        return 2
    if action != "status":
        commands = asyncio.run(auth_commands(path, timeout=timeout))
        if commands is None:
            print(f"claude-proxy-tui: {path} lists no login command in `auth --help` or "
                  "`--help`; is it Claude Code?", file=sys.stderr)
            return 2
        words = list(getattr(commands, action))
        print(f"running {path} {' '.join(words)} (the CLI this proxy drives, with its "
              "environment)", flush=True)
        code = run_cli(path, words)
        if code != 0:
            print(f"claude-proxy-tui: `{' '.join(words)}` exited {code}", file=sys.stderr)
        state = print_login_state(settings)
        return state if action == "login" else code
    return print_login_state(settings)
