"""The loopback-only network namespace that real CLIs and real clients run in, and the check
that nothing they started outlives a scenario. Shared by tests/realcli_scenarios.py,
tests/realclients/ and the tests that start them."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path


def only_loopback() -> bool:
    """True inside a network namespace whose only interface is lo."""
    return [line.split(":")[0].strip() for line in
            Path("/proc/net/dev").read_text().splitlines()[2:]] == ["lo"]


@cache
def namespace_unavailable() -> str | None:
    """Why a loopback-only namespace cannot be made here, or None."""
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (Debian: util-linux, iproute2)"
    probe = subprocess.run(["unshare", "-rn", "sh", "-c", "ip link set lo up"],
                           capture_output=True, text=True, timeout=10)
    if probe.returncode != 0:
        return f"cannot make a loopback-only network namespace: {probe.stderr.strip()}"
    return None


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def leftover_processes() -> list[str]:
    """Every live process descended from this one (CLIs, clients, anything they started)."""
    children, found, todo = _children_map(), [], [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    out = []
    for pid in found:
        try:
            out.append(f"{pid} " + Path(f"/proc/{pid}/cmdline").read_bytes()
                       .replace(b"\0", b" ").decode(errors="replace")[:200])
        except OSError:
            continue
    return out
