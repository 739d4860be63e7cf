"""``claude-proxy-tui doctor``: checks that explain themselves, each PASS / WARN / FAIL with a fix.

Core code (no Textual): the console shows the same ``Check`` list in a panel at start.
The exit status is the worst result: 0 all pass, 1 a warning, 2 a failure.

Real CLI or stub: the Claude Code CLI ships as a native executable (the one bundled in the
``claude-agent-sdk`` wheel, the native installer's) or as a Node bundle (npm's ``cli.js`` with
a ``node`` shebang), sometimes behind a small shell wrapper (``~/.claude/local/claude``).
Anything else — a Python/Ruby/… script, like the fake CLI the tests use — answers the protocol
but is not Claude: WARN, since it may be deliberate. ``--version`` alone cannot tell (stubs
copy the real output), so the check reads the file's first bytes.

Logged in: the CLI's own ``claude auth status --json`` (local, no API call, no cost) when the
CLI has it; otherwise the credentials it reads (``$CLAUDE_CONFIG_DIR`` or ``~/.claude``
``/.credentials.json``, the macOS keychain item, ``ANTHROPIC_API_KEY`` /
``CLAUDE_CODE_OAUTH_TOKEN``). The detail says which was used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import platform
import re
import shutil
import socket
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from collections.abc import Mapping
from urllib.parse import urlsplit

from tui_proxy.config import locations
from tui_proxy.sdk.login import LOGIN_ADVICE, PROXY_LOGIN, cli_environment, ignored_credentials
from tui_proxy.sdk.cli_locate import CliInfo, locate_cli, probe_version
from tui_proxy.config.settings import Settings, SettingsError, default_config_path, load_settings

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
RANK = {PASS: 0, WARN: 1, FAIL: 2}
VERSION_RE = re.compile(r"\b\d+\.\d+\.\d+\b.*\(Claude Code\)")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # PASS | WARN | FAIL
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def worst(checks: list[Check]) -> int:
    return max((RANK[c.status] for c in checks), default=0)


# ------------------------------------------------------------------ settings

def check_settings(flags: Mapping[str, Any] | None, config_file: str | None,
                   env: Mapping[str, str]) -> tuple[Check, Settings]:
    path = Path(config_file).expanduser() if config_file else default_config_path()
    try:
        settings = load_settings(flags=flags, env=env, config_file=config_file)
    except SettingsError as exc:
        fallback = Settings(cwd=os.getcwd())
        return Check("settings", FAIL, str(exc),
                     "fix the key named above (`claude-proxy-tui init-config --print` lists every "
                     "setting with its type and default); the other checks use the defaults"), \
            fallback
    counts: dict[str, int] = {}
    for source in settings.sources.values():
        kind = source.split(":", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
    where = f"{path}" if path.exists() else f"no settings file ({path})"
    parts = [f"{counts[k]} from {k}" for k in ("file", "env", "flag") if counts.get(k)]
    return Check("settings", PASS, f"valid; {where}; " + (", ".join(parts) or "all defaults")), \
        settings


# ------------------------------------------------------------------ CLI

def cli_kind(path: str) -> tuple[str, bool]:
    """(description, is the real CLI's packaging) from the file's first bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
    except OSError as exc:
        return f"unreadable ({exc.strerror})", False
    if head.startswith(b"\x7fELF"):
        return "native executable (ELF)", True
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        return "native executable (Mach-O)", True
    if head.startswith(b"MZ"):
        return "native executable (PE)", True
    if head.startswith(b"#!"):
        shebang = head[2:].split(b"\n", 1)[0].decode(errors="replace").strip()
        words = shebang.split()
        interp = Path(words[0]).name if words else "?"
        if interp == "env" and len(words) > 1:
            interp = Path(words[-1]).name
        if interp in ("node", "bun", "deno") or "node" in interp:
            return f"Node bundle ({interp} script)", True
        if interp in ("sh", "bash", "zsh", "dash"):
            return f"shell wrapper ({interp} script)", True
        return f"{interp} script", False
    return "not an executable format the real CLI ships as", False


async def check_cli(settings: Settings, timeout: float) -> tuple[Check, CliInfo]:
    source = settings.sources.get("cli_path", "default")
    info = locate_cli(settings.cli_path, f"setting ({source})")
    if info.error or not info.path:
        return Check("claude CLI", FAIL, info.error or "not found",
                     "install Claude Code (`npm install -g @anthropic-ai/claude-code` or the "
                     "native installer), or set cli_path / CLAUDE_PROXY_CLI_PATH / "
                     "--cli-path"), info
    path = info.path  # probe_version keeps it
    info = await probe_version(info, timeout)
    where = f"{info.path} (from {info.source})"
    if info.error:
        return Check("claude CLI", FAIL, f"{where}: {info.error}",
                     "run it by hand with --version to see why; reinstall, or point cli_path at "
                     "a working claude"), info
    kind, packaged = cli_kind(path)
    version = info.version or "?"
    looks_real = bool(VERSION_RE.search(version))
    detail = f"{where}, {kind}, version {version}"
    if packaged and looks_real:
        return Check("claude CLI", PASS, detail), info
    why = (f"a {kind}, not how Claude Code ships (native executable or Node bundle)"
           if not packaged else f"its --version does not say Claude Code ({version!r})")
    return Check("claude CLI", WARN, f"{detail}: looks like a stub — {why}",
                 "unset cli_path / CLAUDE_PROXY_CLI_PATH to use the CLI bundled with "
                 "claude-agent-sdk, unless this stub is deliberate"), info


# ------------------------------------------------------------------ login

def _config_dir(env: Mapping[str, str]) -> Path:
    return locations.cli_config_dir(environ=env)  # env: what the CLI runs with


async def _auth_status(path: str, env: Mapping[str, str], timeout: float) -> dict | str:
    """``claude auth status --json``: the parsed answer, or why there is none."""
    try:
        proc = await asyncio.create_subprocess_exec(
            path, "auth", "status", "--json", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(env))
    except OSError as exc:
        return f"cannot run it: {exc.strerror}"
    try:
        out, _err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return f"no answer in {timeout:g} s"
    try:
        data = json.loads(out.decode(errors="replace"))
    except ValueError:
        return "this CLI has no `auth status --json`"
    if not isinstance(data, dict) or "loggedIn" not in data:
        return "unexpected `auth status` answer"
    return data


def _credential_files(env: Mapping[str, str]) -> str | None:
    """Where a login the CLI would use is found, without reading any secret."""
    for name in ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"):
        if env.get(name):
            return f"${name} is set"
    creds = _config_dir(env) / ".credentials.json"
    if creds.is_file() and creds.stat().st_size > 0:
        return f"credentials file {creds}"
    if platform.system() == "Darwin" and shutil.which("security"):
        import subprocess

        try:
            found = subprocess.run(
                ["security", "find-generic-password", "-s", "Claude Code-credentials"],
                capture_output=True, timeout=5).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            found = False
        if found:
            return "macOS keychain item 'Claude Code-credentials'"
    return None


async def check_login(info: CliInfo, env: Mapping[str, str], timeout: float) -> Check:
    """Logged in as the proxy's CLI will see it: its environment, not the proxy's."""
    env = cli_environment(env)
    fix = LOGIN_ADVICE
    status: dict | str = "no CLI to ask"
    if info.path and not info.error:
        status = await _auth_status(info.path, env, timeout)
    if isinstance(status, dict):
        method = status.get("authMethod") or "?"
        if status.get("loggedIn"):
            extra = ""
            if status.get("loginExpiresAt"):
                extra = f", expires {status['loginExpiresAt']}"
            return Check("logged in", PASS,
                         f"`claude auth status`: logged in via {method}{extra}")
        return Check("logged in", FAIL, f"`claude auth status`: not logged in (auth method "
                                        f"{method}, config {status.get('configDirectory')})", fix)
    found = _credential_files(env)
    if found:
        return Check("logged in", PASS, f"{found} ({status}; checked the credentials instead)")
    return Check("logged in", WARN,
                 f"no credentials found in {_config_dir(env)}/.credentials.json, the keychain or "
                 f"the environment ({status})", fix)


# ------------------------------------------------------------------ cwd, port, env, policy

def check_cwd(settings: Settings) -> Check:
    cwd = Path(settings.cwd)
    if not cwd.is_dir():
        return Check("working directory", FAIL, f"{cwd} does not exist",
                     "create it or set cwd / CLAUDE_PROXY_CWD / --cwd")
    try:
        with tempfile.NamedTemporaryFile(dir=cwd, prefix=".claude-proxy-doctor-"):
            pass
    except OSError as exc:
        status = FAIL if settings.mode == "agent" else WARN
        return Check("working directory", status,
                     f"{cwd} is not writable ({exc.strerror}); agent-mode file tools will fail",
                     "pick a directory you own with --cwd, or fix its permissions")
    return Check("working directory", PASS, f"{cwd} exists and is writable")


def _our_proxy_at(host: str, port: int) -> str | None:
    import urllib.request

    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1"
    try:
        with urllib.request.urlopen(f"http://{shown}:{port}/health", timeout=1.0) as resp:
            data = json.loads(resp.read())
    except Exception:  # noqa: BLE001 - anything else is "not ours"
        return None
    if isinstance(data, dict) and "cli" in data and "version" in data:
        return str(data.get("version"))
    return None


def check_port(settings: Settings) -> Check:
    host, port = settings.host, settings.port
    if port == 0:
        return Check("port", PASS, "port 0: a free port is picked at start")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            if os.name != "nt":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        version = _our_proxy_at(host, port)
        if version:
            return Check("port", WARN, f"{host}:{port} is taken by a running claude-proxy-tui "
                                       f"{version}", "stop it first, or use --port")
        return Check("port", FAIL, f"cannot listen on {host}:{port}: {exc.strerror}",
                     "free the port (`ss -ltnp` shows who holds it) or use --port / "
                     "CLAUDE_PROXY_PORT")
    return Check("port", PASS, f"{host}:{port} is free")


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _same_listener(url_host: str, url_port: int, host: str, port: int) -> bool:
    if url_port != port:
        return False
    if host in ("0.0.0.0", "::"):
        return _is_loopback(url_host) or url_host.strip("[]") in _local_addresses()
    return url_host.strip("[]") == host or (_is_loopback(url_host) and _is_loopback(host))


def _local_addresses() -> set[str]:
    try:
        # sockaddr[0] is the address string for every family getaddrinfo returns here.
        return {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)}
    except OSError:
        return set()


def check_env(settings: Settings, env: Mapping[str, str]) -> list[Check]:
    checks = []
    cli_env = cli_environment(env)
    base = cli_env.get("ANTHROPIC_BASE_URL", "").strip()
    given = "CLAUDE_PROXY_CLI_ENV_ANTHROPIC_BASE_URL"
    if env.get("ANTHROPIC_BASE_URL") and not base:
        checks.append(Check(
            "environment", PASS,
            f"ANTHROPIC_BASE_URL={env['ANTHROPIC_BASE_URL'].strip()} is set in the proxy's "
            "environment and not passed to the CLI (it would loop back to a proxy)"))
    if base:
        parts = urlsplit(base if "://" in base else f"http://{base}")
        try:
            url_port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            url_port = -1
        if parts.hostname and _same_listener(parts.hostname, url_port, settings.host,
                                             settings.port):
            checks.append(Check(
                "environment", FAIL,
                f"{given}={base} points at this proxy: the CLI would send its own API calls "
                "back here, in a loop", f"unset {given}"))
        else:
            checks.append(Check(
                "environment", WARN,
                f"{given}={base}: the CLI will send its API calls there, not to Anthropic",
                f"unset {given} unless that is intended"))
    for name in ignored_credentials(env):
        checks.append(Check(
            "environment", WARN,
            f"{name} is set but ignored: the proxy does not pass it to the CLI (it often points "
            "a shell at a proxy); the CLI uses its own login",
            f"{PROXY_LOGIN}; or, to make the CLI bill that key per token, set "
            f"CLAUDE_PROXY_CLI_ENV_{name}"))
    if cli_environment(env).get("ANTHROPIC_API_KEY"):
        checks.append(Check(
            "environment", WARN,
            "CLAUDE_PROXY_CLI_ENV_ANTHROPIC_API_KEY is set: the CLI bills that API key (per "
            "token) instead of your subscription login",
            "unset it to use the subscription login"))
    for name in ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX"):
        if env.get(name) and env.get(name) not in ("0", "false"):
            checks.append(Check("environment", WARN,
                                f"{name} is set: the CLI talks to that cloud, not Anthropic",
                                f"unset {name} unless that is intended"))
    if not checks:
        checks.append(Check("environment", PASS,
                            "no ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY reaches the CLI"))
    return checks


def check_permissions(settings: Settings) -> Check:
    if settings.mode != "agent":
        return Check("permission mode", PASS,
                     f"mode {settings.mode}: Claude's built-in tools are off, so "
                     f"permission_mode ({settings.permission_mode}) does not apply")
    cwd = Path(settings.cwd)
    broad = cwd in (locations.home(), Path("/")) or len(cwd.parts) <= 2
    if settings.permission_mode in ("bypassPermissions", "dontAsk", "auto"):
        where = f"{cwd} — a very broad directory" if broad else str(cwd)
        return Check("permission mode", WARN,
                     f"agent mode with {settings.permission_mode}: Claude runs commands and edits "
                     f"files without asking, in {where} (and beyond it: paths are not confined)",
                     "use --permission-mode acceptEdits or default, and a project directory as "
                     "--cwd, unless this machine is a sandbox")
    if broad:
        return Check("permission mode", WARN,
                     f"agent mode ({settings.permission_mode}) in {cwd}, a very broad directory",
                     "point --cwd at a project directory")
    return Check("permission mode", PASS, f"agent mode with {settings.permission_mode} in {cwd}")


def check_exposure(settings: Settings) -> Check:
    if _is_loopback(settings.host):
        return Check("network exposure", PASS, f"{settings.host}: this machine only")
    if not settings.api_key:
        return Check("network exposure", FAIL,
                     f"host {settings.host} is reachable from the network and no api_key is set: "
                     "anyone who reaches it spends your Claude plan",
                     "set api_key / CLAUDE_PROXY_API_KEY (clients send it as x-api-key), or "
                     "listen on 127.0.0.1")
    return Check("network exposure", PASS,
                 f"host {settings.host} is reachable from the network; clients need the api_key")


# ------------------------------------------------------------------ all of it

async def run_checks(flags: Mapping[str, Any] | None = None, config_file: str | None = None,
                     env: Mapping[str, str] | None = None, timeout: float = 10.0) -> list[Check]:
    env = dict(os.environ if env is None else env)
    settings_check, settings = check_settings(flags, config_file, env)
    cli_check, info = await check_cli(settings, timeout)
    # Blocking probes (bind, a /health GET) run in a thread: the console awaits this in its loop.
    checks = [settings_check, cli_check, await check_login(info, env, timeout),
              check_cwd(settings), await asyncio.to_thread(check_port, settings)]
    checks += check_env(settings, env)
    checks += [check_permissions(settings), check_exposure(settings)]
    return checks


def print_checks(checks: list[Check], console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    style = {PASS: "bold green", WARN: "bold yellow", FAIL: "bold red"}
    table = Table(show_edge=False, pad_edge=False, show_lines=False)
    table.add_column("", no_wrap=True)
    table.add_column("check", style="bold", no_wrap=True)
    table.add_column("detail / fix", overflow="fold")
    for c in checks:
        body = Text(c.detail)
        if c.fix:
            body.append("\n→ " + c.fix, style="cyan")
        table.add_row(Text(c.status, style=style[c.status]), c.name, body)
    console.print(table)
    summary = {s: sum(c.status == s for c in checks) for s in (PASS, WARN, FAIL)}
    console.print(f"{summary[PASS]} passed, {summary[WARN]} warnings, {summary[FAIL]} failed",
                  highlight=False)


def main(flags: Mapping[str, Any] | None, config_file: str | None, as_json: bool = False,
         timeout: float = 10.0) -> int:
    checks = asyncio.run(run_checks(flags, config_file, timeout=timeout))
    if as_json:
        json.dump({"status": worst(checks), "checks": [c.as_dict() for c in checks]},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_checks(checks)
    return worst(checks)
