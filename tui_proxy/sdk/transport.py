"""The SDK's subprocess transport, plus a way to end the CLI at once.

The SDK's own close waits 5 s for the CLI to exit after stdin closes, then 5 s after
SIGTERM. A cancelled or timed-out flow cannot wait that long: ``terminate_now`` sends
SIGTERM straight away and SIGKILL shortly after, so the close that follows is immediate.
"""

from __future__ import annotations

import asyncio
import signal
from contextlib import suppress

from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport

from tui_proxy.sdk.child import command_prefix

KILL_GRACE_S = 0.25


class FastCloseTransport(SubprocessCLITransport):
    def _build_command(self) -> list[str]:
        # Dies with the proxy, and cannot inherit a loop back to it (see child.py).
        return command_prefix(self._cli_path) + super()._build_command()

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None else None

    def is_alive(self) -> bool:
        process = self._process
        return process is not None and process.returncode is None

    async def terminate_now(self) -> None:
        """SIGTERM, then SIGKILL after a short grace; returns once the child is gone."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), KILL_GRACE_S)
            return
        except TimeoutError:
            pass
        with suppress(ProcessLookupError):
            process.kill()
        with suppress(Exception):
            await asyncio.wait_for(process.wait(), 2.0)
