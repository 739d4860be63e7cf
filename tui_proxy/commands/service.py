"""``claude-proxy-tui install-service [--uninstall] [--print]``: start the proxy at login.

Linux: a systemd *user* unit (``~/.config/systemd/user/claude-proxy-tui.service``,
``systemctl --user daemon-reload && systemctl --user enable --now``, ``Restart=on-failure``).
macOS: a launchd agent (``~/Library/LaunchAgents/local.claude-proxy-tui.plist``,
``launchctl load -w``, ``KeepAlive`` on failure).

The service runs ``claude-proxy-tui --headless`` by absolute path (service managers have a
minimal PATH, a known trap), with ``--config`` the effective settings file, the flags given
here, and the settings that came from environment variables written as environment entries.
The unit file can then hold a secret (``CLAUDE_PROXY_API_KEY``): it is written mode 0600.
"""

from __future__ import annotations

import os
import platform
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping

from tui_proxy.config import locations
from tui_proxy.config.settings import FIELD_BY_NAME, FLAG_FIELDS, Settings

NAME = "claude-proxy-tui"
LABEL = "local.claude-proxy-tui"

Runner = Callable[..., subprocess.CompletedProcess]


def program() -> list[str]:
    """The absolute command that starts the proxy."""
    # The script of the interpreter running now first: an unactivated venv, or a pyenv version
    # whose shim on PATH would pick another install. Not resolved: a venv's script stays in it.
    found = shutil.which(NAME, path=os.path.dirname(sys.executable)) or shutil.which(NAME)
    if found:
        return [os.path.abspath(found)]
    return [sys.executable, "-m", "tui_proxy"]


def command(settings: Settings, flags: Mapping[str, Any] | None = None) -> list[str]:
    argv = program() + ["--headless"]
    if settings.config_file:
        argv += ["--config", str(Path(settings.config_file).expanduser().resolve())]
    given = flags or {}
    for f in FLAG_FIELDS:  # the run command's flags, as settings.FIELDS declares them
        if given.get(f.name) is None:
            continue
        value = getattr(settings, f.name)  # the flag's value, parsed (cwd resolved)
        if f.switch:
            if value:
                argv.append(f.flag_name)
            continue
        if f.path:
            value = os.path.abspath(os.path.expanduser(str(value)))  # the unit's cwd differs
        argv += [f.flag_name, str(value)]
    return argv


def environment(settings: Settings, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings that came from the environment, plus PATH for the CLI (node, git, …)."""
    env = os.environ if env is None else env
    out = {}
    for source in settings.sources.values():
        if source.startswith("env:"):
            var = source[4:]
            if var in env:
                out[var] = env[var]
    if env.get("PATH"):
        out["PATH"] = env["PATH"]
    if env.get("CLAUDE_CONFIG_DIR"):
        out["CLAUDE_CONFIG_DIR"] = env["CLAUDE_CONFIG_DIR"]
    return out


# ------------------------------------------------------------------ systemd

def _systemd_quote(word: str) -> str:
    """One ExecStart / Environment word: ``%`` and ``$`` doubled, quoted when needed."""
    word = word.replace("%", "%%").replace("$", "$$")
    if word and not any(c in word for c in " \t\"'\\;"):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_unit_path(env: Mapping[str, str] | None = None) -> Path:
    return locations.systemd_user_dir(env) / f"{NAME}.service"


def systemd_unit(settings: Settings, flags: Mapping[str, Any] | None = None,
                 env: Mapping[str, str] | None = None) -> str:
    lines = [
        "[Unit]",
        "Description=claude-proxy-tui: Anthropic Messages API proxy on the Claude Agent SDK",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(_systemd_quote(w) for w in command(settings, flags)),
        # a path setting: not word-split, so never quoted; only specifiers escaped
        "WorkingDirectory=" + settings.cwd.replace("%", "%%"),
    ]
    for name, value in environment(settings, env).items():
        lines.append("Environment=" + _systemd_quote(f"{name}={value}"))
    lines += [
        "Restart=on-failure",
        "RestartSec=5",
        # SIGTERM lets the proxy drain in-flight flows (drain_s) before the hard stop.
        f"TimeoutStopSec={max(10, settings.drain_s + 10)}",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ launchd

def launchd_plist_path() -> Path:
    return locations.launch_agents_dir() / f"{LABEL}.plist"


def launchd_plist(settings: Settings, flags: Mapping[str, Any] | None = None,
                  env: Mapping[str, str] | None = None) -> str:
    logs = locations.mac_logs_dir()
    data = {
        "Label": LABEL,
        "ProgramArguments": command(settings, flags),
        "WorkingDirectory": settings.cwd,
        "EnvironmentVariables": environment(settings, env),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart when it fails, not after a clean stop
        "ThrottleInterval": 5,
        "ExitTimeOut": max(10, settings.drain_s + 10),
        "StandardOutPath": str(logs / f"{NAME}.log"),
        "StandardErrorPath": str(logs / f"{NAME}.log"),
    }
    return plistlib.dumps(data).decode("utf-8")


# ------------------------------------------------------------------ install / uninstall

def _run(runner: Runner, argv: list[str]) -> tuple[bool, str]:
    try:
        proc = runner(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{' '.join(argv)}: {exc}"
    if proc.returncode != 0:
        return False, f"{' '.join(argv)} exited {proc.returncode}: " \
                      f"{(proc.stderr or proc.stdout or '').strip()}"
    return True, ""


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def main(settings: Settings, config: str | None = None, flags: Mapping[str, Any] | None = None,
         uninstall: bool = False, print_only: bool = False, system: str | None = None,
         runner: Runner = subprocess.run, which: Callable[[str], str | None] = shutil.which,
         out: Callable[[str], None] = print) -> int:
    del config  # the effective file is settings.config_file
    system = system or platform.system()
    if system == "Linux":
        path, text = systemd_unit_path(), systemd_unit(settings, flags)
        tool = "systemctl"
    elif system == "Darwin":
        path, text = launchd_plist_path(), launchd_plist(settings, flags)
        tool = "launchctl"
    else:
        _err(f"claude-proxy-tui install-service: {system} is not supported (systemd user units "
             "on Linux, launchd agents on macOS)")
        return 2
    if print_only:
        out(f"# {path}")
        out(text)
        return 0
    if not uninstall and not settings.config_file:
        _err("note: no settings file, so the service runs with the defaults, the flags given "
             "here and the CLAUDE_PROXY_* environment (`claude-proxy-tui init-config` creates "
             "one)")
    if which(tool) is None:
        _err(f"claude-proxy-tui install-service: `{tool}` not found — this system has no "
             f"{'systemd user session' if tool == 'systemctl' else 'launchd'}, so nothing was "
             f"{'removed' if uninstall else 'installed'}. `claude-proxy-tui install-service "
             "--print` prints the file to use with your own service manager.")
        return 1
    if uninstall:
        return _uninstall(system, path, runner, out)
    return _install(settings, system, path, text, runner, out)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _install(settings: Settings, system: str, path: Path, text: str, runner: Runner,
             out: Callable[[str], None]) -> int:
    if system == "Linux":
        ok, why = _run(runner, ["systemctl", "--user", "show-environment"])
        if not ok:
            _err(f"claude-proxy-tui install-service: no systemd user session to install into "
                 f"({why}); nothing was installed. Log in to a normal session (or run "
                 "`loginctl enable-linger $USER`), or use --print and your own service manager.")
            return 1
        steps = [["systemctl", "--user", "daemon-reload"],
                 ["systemctl", "--user", "enable", "--now", f"{NAME}.service"]]
    else:
        steps = [["launchctl", "unload", str(path)], ["launchctl", "load", "-w", str(path)]]
    _write_private(path, text)
    out(f"wrote {path}")
    for i, step in enumerate(steps):
        ok, why = _run(runner, step)
        if not ok and not (system == "Darwin" and i == 0):  # unloading a new agent may fail
            _err(f"claude-proxy-tui install-service: {why}")
            return 1
    if system == "Linux":
        out(f"enabled and started {NAME}.service (systemctl --user status {NAME}; "
            f"journalctl --user -u {NAME} -f)")
    else:
        out(f"loaded {LABEL} (logs: ~/Library/Logs/{NAME}.log)")
    if any(FIELD_BY_NAME["api_key"].env == k for k in environment(settings)):
        out(f"note: {path} holds CLAUDE_PROXY_API_KEY (file mode 0600)")
    return 0


def _uninstall(system: str, path: Path, runner: Runner, out: Callable[[str], None]) -> int:
    if system == "Linux":
        ok, why = _run(runner, ["systemctl", "--user", "disable", "--now", f"{NAME}.service"])
    else:
        ok, why = _run(runner, ["launchctl", "unload", "-w", str(path)])
    existed = path.exists()
    path.unlink(missing_ok=True)
    if system == "Linux":
        _run(runner, ["systemctl", "--user", "daemon-reload"])
    if not ok and existed:
        _err(f"warning: {why}")
    out(f"removed {path}" if existed else f"no service installed ({path} absent)")
    return 0
