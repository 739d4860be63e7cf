"""The CLI's login as the proxy runs it: the environment its CLI sees, the login commands its
own help lists, and the one piece of advice every hint gives.

The proxy drives one ``claude`` (usually the one bundled in the SDK wheel, which is on no
PATH) with an environment of its own making: the proxy's, minus the variables that could
loop back to a proxy (``ANTHROPIC_BASE_URL``, ``ANTHROPIC_API_KEY``, ``ANTHROPIC_AUTH_TOKEN``),
minus the proxy's own ``CLAUDE_PROXY_*`` settings, plus what ``CLAUDE_PROXY_CLI_ENV_*`` gives it
on purpose. Logging in through any other ``claude`` or environment can log in somebody else's
config directory, so every hint says ``claude-proxy-tui login``, which runs *that* CLI with
*that* environment, for the login command the CLI itself lists in its help (``auth login`` on
2.1.3xx; ``login`` is no command).
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from collections.abc import Mapping

from tui_proxy.sdk.child import dropped_vars, explicit_env

PROXY_LOGIN = "claude-proxy-tui login"
LOGIN_ADVICE = f"run `{PROXY_LOGIN}` (as the user who runs the proxy)"


def cli_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the proxy's CLI runs with (what ``sdk.child`` and the options give)."""
    env = dict(os.environ if environ is None else environ)
    given = explicit_env(env)
    for name in dropped_vars(env):
        env.pop(name, None)
    env.update(given)
    return env


def ignored_credentials(environ: Mapping[str, str] | None = None) -> list[str]:
    """Credential variables set in the proxy's environment that its CLI never sees."""
    return [name for name in dropped_vars(environ)
            if name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")]


@dataclass(frozen=True)
class AuthCommands:
    login: tuple[str, ...]
    logout: tuple[str, ...]
    status: tuple[str, ...]
    source: str  # which help listed them


def _lists(help_text: str, command: str) -> bool:
    """A commander-style help lists ``command`` as a line of its Commands section."""
    section = help_text.split("Commands:", 1)[1] if "Commands:" in help_text else ""
    return re.search(rf"^\s+{re.escape(command)}(\|\S+)?(\s|$)", section, re.MULTILINE) \
        is not None


async def _help(cli_path: str, args: list[str], env: Mapping[str, str], timeout: float) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(
            cli_path, *args, "--help", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=dict(env))
    except OSError:
        return ""
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return ""
    return out.decode(errors="replace")


async def auth_commands(cli_path: str, env: Mapping[str, str] | None = None,
                        timeout: float = 15.0) -> AuthCommands | None:
    """The CLI's own login, logout and status commands, as its help lists them."""
    env = cli_environment() if env is None else env
    auth = await _help(cli_path, ["auth"], env, timeout)
    if _lists(auth, "login"):
        return AuthCommands(("auth", "login"), ("auth", "logout"), ("auth", "status"),
                            "claude auth --help")
    top = await _help(cli_path, [], env, timeout)
    if _lists(top, "login"):  # older CLIs had a top-level login
        return AuthCommands(("login",), ("logout",), ("auth", "status"), "claude --help")
    return None
