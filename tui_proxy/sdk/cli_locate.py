"""Which ``claude`` executable runs, where it was found, and its version.

Resolved once and shown in /health and the console: a wrong or stub ``claude`` picked
from PATH is a common support problem with similar proxies.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
from pathlib import Path

from tui_proxy.config import locations
from tui_proxy.core.runner import CliInfo  # noqa: F401  (part of this module's answer)


def _bundled() -> Path | None:
    try:
        import claude_agent_sdk
    except ImportError:  # pragma: no cover - the SDK is a hard dependency
        return None
    name = "claude.exe" if platform.system() == "Windows" else "claude"
    path = Path(claude_agent_sdk.__file__).parent / "_bundled" / name
    return path if path.is_file() else None


def locate_cli(configured: str | None, configured_source: str = "setting") -> CliInfo:
    """Mirror the SDK's own lookup order, but say which step found the CLI."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            return CliInfo(str(path), configured_source, error=f"not found: {path}")
        if not os.access(path, os.X_OK):
            return CliInfo(str(path), configured_source, error=f"not executable: {path}")
        return CliInfo(str(path.resolve()), configured_source)
    bundled = _bundled()
    if bundled:
        return CliInfo(str(bundled), "bundled with claude-agent-sdk")
    found = shutil.which("claude")
    if found:
        return CliInfo(found, "PATH")
    for candidate in locations.cli_install_candidates():
        if candidate.is_file():
            return CliInfo(str(candidate), f"known location {candidate.parent}")
    return CliInfo(None, "not found", error="Claude Code CLI not found: install it or set "
                                            "CLAUDE_PROXY_CLI_PATH / --cli-path")


async def probe_version(info: CliInfo, timeout: float = 10.0) -> CliInfo:
    """Run ``claude --version`` (offline, no login needed) and return the info with it."""
    if not info.path or info.error:
        return info
    try:
        proc = await asyncio.create_subprocess_exec(
            info.path, "--version", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        return CliInfo(info.path, info.source, error=f"cannot run: {exc}")
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return CliInfo(info.path, info.source, error=f"--version did not answer in {timeout:g} s")
    text = (out or err).decode(errors="replace").strip().splitlines()
    version = text[0] if text else None
    if proc.returncode != 0:
        return CliInfo(info.path, info.source, version,
                       error=f"--version exited {proc.returncode}")
    return CliInfo(info.path, info.source, version)
