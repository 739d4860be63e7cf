"""Every place on disk the proxy reads or writes, worked out here and nowhere else.

Two families:

* **The proxy's own** files, in the platform's directories (``platformdirs``: on Linux the
  XDG base directories, ``$XDG_CONFIG_HOME`` / ``$XDG_STATE_HOME`` when set, else
  ``~/.config`` / ``~/.local/state``; on macOS ``~/Library/Application Support``): the
  settings file, the journal, console screenshots, the private passthrough working directory.
* **The Claude Code CLI's** files, found the way the CLI finds them: its config home is
  ``$CLAUDE_CONFIG_DIR`` when set and not empty, else ``~/.claude`` (NFC-normalised; the
  bundled CLI 2.1.332 reads ``process.env.CLAUDE_CONFIG_DIR || join(homedir(), ".claude")``,
  and the SDK's ``_internal/sessions.py`` does the same). The variable the CLI sees is the
  one the proxy hands it: ``CLAUDE_PROXY_CLI_ENV_CLAUDE_CONFIG_DIR`` (see ``sdk/child.py``)
  or an ``env`` the caller passes for one spawn win over the proxy's own
  ``CLAUDE_CONFIG_DIR``. Transcripts live in ``<config home>/projects/<sanitised cwd>/
  <session>.jsonl``, where the cwd is the CLI's real path and the sanitising is the SDK's
  ``_sanitize_path`` (every non-alphanumeric as ``-``, long paths cut and hashed).

This module is the lowest layer: it imports nothing from ``tui_proxy``.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from collections.abc import Mapping

APP = "claude-proxy-tui"
# A variable given to the CLI on purpose: CLAUDE_PROXY_CLI_ENV_<NAME> reaches it as <NAME>.
CLI_ENV_PREFIX = "CLAUDE_PROXY_CLI_ENV_"
CLI_CONFIG_ENV = "CLAUDE_CONFIG_DIR"

_SANITIZE = re.compile(r"[^a-zA-Z0-9]")
_MAX_SANITIZED = 200


# ------------------------------------------------------------------ general

def home() -> Path:
    """The user's home directory."""
    return Path.home()


def expand(path: str | os.PathLike[str]) -> Path:
    """A path the user wrote (a setting, a flag): ``~`` expanded."""
    return Path(path).expanduser()


def private_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents 0700 (what goes in them is private: a
    transcript, the journal, the settings file with its key); folders that exist already keep
    their mode."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)


# ------------------------------------------------------------------ the proxy's own

def config_file() -> Path:
    """The default settings file (``$XDG_CONFIG_HOME`` or ``~/.config`` on Linux)."""
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP)) / "config.toml"


def state_dir() -> Path:
    """The proxy's state folder (``$XDG_STATE_HOME`` or ``~/.local/state`` on Linux)."""
    from platformdirs import user_state_dir

    return Path(user_state_dir(APP))


def journal_dir(configured: str | None = None) -> Path:
    """The journal folder: the ``journal_dir`` setting (or a flag) if given, else
    ``<state>/journal``."""
    return expand(configured) if configured else state_dir() / "journal"


def screenshot_dir() -> Path:
    return state_dir() / "screenshots"


def passthrough_cwd() -> Path:
    """The empty private folder a passthrough CLI runs in when the client's own is not here."""
    return state_dir() / "passthrough-cwd"


# ------------------------------------------------------------------ the Claude Code CLI's

def cli_config_value(env: Mapping[str, str] | None = None,
                     environ: Mapping[str, str] | None = None) -> str | None:
    """``CLAUDE_CONFIG_DIR`` as the CLI child will see it: ``env`` (given to one spawn, like
    ``options.env``) over ``CLAUDE_PROXY_CLI_ENV_CLAUDE_CONFIG_DIR`` over the proxy's own."""
    environ = os.environ if environ is None else environ
    for source, name in ((env or {}, CLI_CONFIG_ENV), (environ, CLI_ENV_PREFIX + CLI_CONFIG_ENV),
                         (environ, CLI_CONFIG_ENV)):
        if name in source:
            return source[name]
    return None


def cli_config_dir(env: Mapping[str, str] | None = None,
                   environ: Mapping[str, str] | None = None, *, cwd: str | None = None) -> Path:
    """The CLI's config home: its ``CLAUDE_CONFIG_DIR`` if not empty, else ``~/.claude``.
    The CLI does not expand ``~``; a relative value is relative to the CLI's ``cwd``."""
    value = cli_config_value(env, environ)
    base = value if value else str(home() / ".claude")
    if cwd is not None and not os.path.isabs(base):
        base = os.path.join(cwd, base)
    return Path(unicodedata.normalize("NFC", base))


def sanitized_project(cwd: str) -> str:
    """The CLI's folder name for a project in ``cwd`` (its real path)."""
    real = unicodedata.normalize("NFC", os.path.realpath(cwd))
    try:  # the SDK carries a port of the CLI's own (long paths get a hash suffix)
        from claude_agent_sdk._internal.sessions import _sanitize_path
    except ImportError:
        return _SANITIZE.sub("-", real)[:_MAX_SANITIZED]
    return _sanitize_path(real)


def cli_project_dir(cwd: str, env: Mapping[str, str] | None = None,
                    environ: Mapping[str, str] | None = None) -> Path:
    """Where the CLI running in ``cwd`` keeps the transcripts of its sessions."""
    return cli_config_dir(env, environ, cwd=cwd) / "projects" / sanitized_project(cwd)


def cli_transcript(cwd: str, session_id: str, env: Mapping[str, str] | None = None,
                   environ: Mapping[str, str] | None = None) -> Path:
    return cli_project_dir(cwd, env, environ) / f"{session_id}.jsonl"


def cli_install_candidates() -> tuple[Path, ...]:
    """Where a Claude Code CLI is often installed when it is not on ``PATH``."""
    h = home()
    return (h / ".npm-global/bin/claude", Path("/usr/local/bin/claude"),
            h / ".local/bin/claude", h / "node_modules/.bin/claude",
            h / ".yarn/bin/claude", h / ".claude/local/claude")


# ------------------------------------------------------------------ service files

def systemd_user_dir(environ: Mapping[str, str] | None = None) -> Path:
    """systemd's user units folder (``$XDG_CONFIG_HOME/systemd/user``, systemd's own rule)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(home() / ".config")
    return Path(base) / "systemd" / "user"


def launch_agents_dir() -> Path:
    return home() / "Library" / "LaunchAgents"


def mac_logs_dir() -> Path:
    return home() / "Library" / "Logs"
