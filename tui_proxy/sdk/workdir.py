"""Where a flow's CLI runs, so the model is told one working directory, not two.

The CLI adds an environment block ("Primary working directory: <its cwd>", whether that is
a git repository, …) to every conversation; no switch removes it without also dropping the
subscription login (``--bare``). In agent mode that directory is the proxy's ``cwd``, where
Claude really works. In passthrough the client runs the tools in its own project, which its
system prompt names (OpenCode: "Working directory: …", Claude Code: "Primary working
directory: …"): the CLI runs there when that directory exists on this machine, so both say
the same. Otherwise it runs in an empty private directory, never in the proxy's own ``cwd``
(whose path and git state belong to whoever started the proxy, often ``$HOME``).
"""

from __future__ import annotations

import os
import re

from tui_proxy.config import locations

_NAMED = re.compile(r"^[ \t>*-]*(?:Primary working directory|Working directory)[ \t]*:[ \t]*"
                    r"(/[^\n]*?)[ \t]*$", re.MULTILINE)


def client_workdir(system_text: str) -> str | None:
    """The first working directory the client's system prompt names that exists here."""
    for match in _NAMED.finditer(system_text):
        path = match.group(1).strip().strip("`'\"")
        if os.path.isabs(path) and os.path.isdir(path):
            return os.path.realpath(path)
    return None


def neutral_workdir() -> str:
    """An empty directory of the proxy's own, private to its user."""
    path = locations.passthrough_cwd()
    locations.private_dirs(path)
    return str(path)


def run_cwd(proxy_cwd: str, system_text: str, mode: str) -> str:
    if mode != "passthrough":
        return proxy_cwd
    return client_workdir(system_text) or neutral_workdir()
