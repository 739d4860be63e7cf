"""How the CLI child is started: an environment that cannot loop back to the proxy, and a
death signal so no CLI outlives the proxy, even after ``kill -9``.

The SDK builds the child's environment from ``os.environ`` plus ``options.env`` and offers
no hook for either concern, so the command is prefixed instead:

* Linux: ``setpriv --pdeathsig KILL --`` (util-linux), which sets PR_SET_PDEATHSIG and execs:
  the CLI keeps its pid and dies with the proxy. Without setpriv, ``launcher.py`` does the
  same with prctl. Elsewhere ``launcher.py`` runs the CLI as its child, forwards signals and
  kills it when the proxy goes away (a watchdog).
* ``env -u NAME …`` drops ``ANTHROPIC_BASE_URL``, ``ANTHROPIC_API_KEY`` and
  ``ANTHROPIC_AUTH_TOKEN`` inherited from the proxy's own shell: a shell pointed at the proxy
  would make the CLI call the proxy, which calls the CLI… To give the CLI such a variable on
  purpose, set ``CLAUDE_PROXY_CLI_ENV_<NAME>`` (e.g. ``CLAUDE_PROXY_CLI_ENV_ANTHROPIC_BASE_URL``).
  Every ``CLAUDE_PROXY_*`` variable goes too: they are the proxy's settings (its
  ``CLAUDE_PROXY_API_KEY`` among them) and the CLI has no use for them; a
  ``CLAUDE_PROXY_CLI_ENV_<NAME>`` reaches the CLI as ``<NAME>`` only.
"""

from __future__ import annotations

import os
import shutil
import sys
from functools import cache
from pathlib import Path
from collections.abc import Mapping

from tui_proxy.config.locations import CLI_ENV_PREFIX

LOOPING_VARS = ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
EXPLICIT_PREFIX = CLI_ENV_PREFIX  # locations reads CLAUDE_PROXY_CLI_ENV_CLAUDE_CONFIG_DIR too
SETTINGS_PREFIX = "CLAUDE_PROXY_"
LAUNCHER = Path(__file__).with_name("launcher.py")


def explicit_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``CLAUDE_PROXY_CLI_ENV_X=v`` → ``{"X": "v"}``: what the user gives the CLI on purpose."""
    environ = os.environ if environ is None else environ
    return {k[len(EXPLICIT_PREFIX):]: v for k, v in environ.items()
            if k.startswith(EXPLICIT_PREFIX) and len(k) > len(EXPLICIT_PREFIX)}


def dropped_vars(environ: Mapping[str, str] | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    explicit = explicit_env(environ)
    looping = [name for name in LOOPING_VARS if name in environ and name not in explicit]
    settings = sorted(name for name in environ
                      if name.startswith(SETTINGS_PREFIX) and name not in explicit)
    return looping + settings


@cache
def _setpriv() -> str | None:
    return shutil.which("setpriv") if sys.platform.startswith("linux") else None


def command_prefix(cli_path: str | None,
                   environ: Mapping[str, str] | None = None) -> list[str]:
    """What goes before the CLI's own command line."""
    if not cli_path or not os.access(cli_path, os.X_OK):
        return []  # let the SDK report a missing CLI as it does
    prefix: list[str]
    setpriv = _setpriv()
    if setpriv:
        prefix = [setpriv, "--pdeathsig", "KILL", "--"]
    else:
        prefix = [sys.executable, "-I", "-S", str(LAUNCHER), str(os.getpid()), "--"]
    drop = dropped_vars(environ)
    if drop:
        env = shutil.which("env") or "/usr/bin/env"
        prefix += [env] + [arg for name in drop for arg in ("-u", name)]
    return prefix
