"""One CLI process and the turn it is running.

A live run usually lives and dies with its flow. In passthrough mode it can outlive it:
when Claude calls client tools, the flow's response ends and the run is *parked* — its
process, its message iterator and its pending tool calls wait for the client's next
request, which adopts the run and continues the same CLI turn.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import suppress
from typing import Any
from collections.abc import AsyncIterator

from claude_agent_sdk import ClaudeSDKClient, ResultMessage

from tui_proxy.core.runner import LiveProcess
from tui_proxy.sdk.client_tools import ToolBridge
from tui_proxy.sdk.failures import FailureFacts
from tui_proxy.sdk.observe import ToolObserver
from tui_proxy.sdk.options import BuiltOptions
from tui_proxy.sdk.transport import FastCloseTransport

CLOSE_BUDGET_S = 3.0


def _sdk_initialize_s() -> float:
    """How long the SDK itself waits for the CLI's initialize answer (client.py)."""
    try:
        ms = int(os.environ.get("CLAUDE_CODE_STREAM_CLOSE_TIMEOUT", "60000"))
    except ValueError:
        ms = 60000
    return max(ms / 1000.0, 60.0)


# A CLI that has not answered initialize by then never will: the proxy ends it itself a
# moment before the SDK would give up (its give-up is a bare Exception, then 5 s of close).
STARTUP_LIMIT_S = _sdk_initialize_s() - 0.5


class StartupTimeout(Exception):
    """The CLI did not finish starting (answer initialize) within ``STARTUP_LIMIT_S``."""

    def __init__(self, limit_s: float) -> None:
        super().__init__(f"the CLI did not answer initialize within {limit_s:g} s")
        self.limit_s = limit_s


class LiveRun:
    def __init__(self, built: BuiltOptions, bridge: ToolBridge | None,
                 observer: ToolObserver) -> None:
        self.built = built
        self.bridge = bridge
        self.observer = observer  # hooks call it; re-pointed at whichever flow drives the run
        self.model = built.options.model
        self.transport = FastCloseTransport(prompt=_empty(), options=built.options)
        self.client = ClaudeSDKClient(built.options, transport=self.transport)
        self.messages: AsyncIterator[Any] | None = None
        self.facts = FailureFacts()
        self.session_id: str | None = None
        self.result: ResultMessage | None = None
        self.waiting_on: list[dict[str, Any]] = []  # tool_use blocks the client must answer
        self.tool_names: dict[str, str] = {}
        self.stderr_sink: Any = None  # where stderr lines go (the current flow)
        self.closed = False

    @property
    def pid(self) -> int | None:
        return self.transport.pid

    async def connect(self) -> None:
        """Start the CLI and wait for its initialize answer, killably.

        The SDK's ``connect()`` cannot be cut short: cancelled, it closes the process its
        own way (stdin EOF, 5 s, SIGTERM, 5 s), and a CLI that never answers is waited on
        for 60 s. So the SDK's connect runs in its own task; a cancel (a limit, the client
        leaving, the operator) or the start-up bound kills the process first, which makes
        the SDK's wait and its cleanup end at once, then the cancel goes on.
        """
        task = asyncio.ensure_future(self.client.connect())
        try:
            done, _ = await asyncio.wait({task}, timeout=STARTUP_LIMIT_S)
        except asyncio.CancelledError:
            await self._abort_connect(task)
            raise
        if not done:
            await self._abort_connect(task)
            raise StartupTimeout(STARTUP_LIMIT_S)
        task.result()

    async def _abort_connect(self, task: asyncio.Future[None]) -> None:
        """Kill the starting CLI and let the SDK's connect unwind; survives a second cancel."""
        async def abort() -> None:
            await self.transport.terminate_now()
            task.cancel()
            with suppress(BaseException):
                await asyncio.wait_for(task, CLOSE_BUDGET_S)
            if self.transport.is_alive():  # spawned while we were killing
                await self.transport.terminate_now()

        aborting = asyncio.ensure_future(abort())
        try:
            await asyncio.shield(aborting)
        except asyncio.CancelledError:
            with suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(aborting), CLOSE_BUDGET_S + 1)

    async def set_model(self, model: str | None) -> None:
        if model and model != self.model:
            await self.client.set_model(model)
            self.model = model

    async def send(self, blocks: list[dict[str, Any]]) -> None:
        await self.client.query(_one_frame(blocks))
        self.follow()

    def follow(self) -> None:
        """Read the next turn: one just sent, or one the CLI started by itself (a resumed
        interrupted turn). A warm process runs many turns: this state is per turn."""
        self.result = None
        self.facts = FailureFacts()
        self.waiting_on = []
        self.messages = self.client.receive_response()

    async def close(self) -> None:
        """End the CLI process; shielded so a second cancel cannot leave it running."""
        if self.closed:
            return
        self.closed = True

        async def close() -> None:
            if self.result is None:
                await self.transport.terminate_now()  # aborted mid-turn: no 5 s grace
            # Only now unblock parked handlers: an answer given while the CLI still ran
            # would let it continue the turn with an upstream call nobody reads.
            if self.bridge is not None:
                self.bridge.fail_all("The proxy released this tool call.")
            with suppress(Exception):
                await asyncio.wait_for(self.client.disconnect(), CLOSE_BUDGET_S)
            if self.transport.is_alive():
                await self.transport.terminate_now()
            self.built.cleanup()

        task = asyncio.ensure_future(close())
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            with suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(task), CLOSE_BUDGET_S + 1)
            raise


async def _empty() -> AsyncIterator[dict[str, Any]]:
    return
    yield {}  # pragma: no cover - makes this an async generator


async def _one_frame(blocks: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    yield {"type": "user", "message": {"role": "user", "content": blocks},
           "parent_tool_use_id": None}


def own_live_run(live: LiveProcess | None) -> LiveRun | None:
    """A process the core hands back (warm, spare, parked): the sdk runner made it, so it is a
    ``LiveRun``; the core's pool and parking only know the ``LiveProcess`` protocol."""
    if live is not None and not isinstance(live, LiveRun):
        raise TypeError(f"not a process of the sdk runner: {live!r}")
    return live
