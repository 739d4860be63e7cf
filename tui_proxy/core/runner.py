"""What the engine needs from whatever runs Claude: a small protocol, so the core never imports
the SDK adapter (``tui_proxy.sdk.runner.SdkRunner`` implements it; the host hands it in).

The engine decides *whether* and *where* a flow runs (slots, parked turns, conversations, warm
processes); a runner knows *how*: which CLI, what key a live process is reusable under, how to
run one flow and how to pre-start a spare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from collections.abc import Awaitable, Callable

if TYPE_CHECKING:
    from tui_proxy.config.settings import Settings
    from tui_proxy.core.events import Event
    from tui_proxy.core.flow import Flow
    from tui_proxy.core.pool import WarmPool
    from tui_proxy.wire.request import MessagesRequest

DONE, PARKED = "done", "parked"  # how a run ends when it does not raise


@dataclass(frozen=True)
class CliInfo:
    path: str | None
    source: str          # "setting (flag/env/file)", "bundled with claude-agent-sdk", "PATH", …
    version: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"path": self.path, "source": self.source, "version": self.version,
                "error": self.error}


class Sink(Protocol):
    """Where a flow's client events go (an SSE stream, one JSON message, a recorder)."""

    session_id: str | None

    async def send(self, events: list[dict[str, Any]]) -> None: ...


class ToolBridgeLike(Protocol):
    signature: dict[str, str]  # tool name -> what Claude was told about it


class LiveProcess(Protocol):
    """A CLI process that outlives one HTTP response (warm, spare or parked)."""

    closed: bool
    session_id: str | None
    waiting_on: list[dict[str, Any]]
    transport: Any  # has is_alive()

    @property  # read-only here, so a runner's own bridge type satisfies it
    def bridge(self) -> ToolBridgeLike | None: ...

    async def close(self) -> None: ...


class FlowRun(Protocol):
    """One flow's run, as the engine reads it afterwards."""

    retain: bool                   # the process may stay warm for the next turn
    diverged: bool                 # a stop rule cut the turn: never continue the session
    new_conversation_spawned: bool

    @property  # read-only here, so a runner's own process type satisfies it
    def live(self) -> LiveProcess | None: ...

    async def run(self) -> str: ...          # DONE or PARKED; raises ProxyError / ClientGone
    def reply_message(self) -> dict[str, Any] | None: ...  # None: the turn gave no message


class Runner(Protocol):
    def locate(self, settings: Settings) -> CliInfo: ...

    def pool_key(self, settings: Settings, request: MessagesRequest, mode: str,
                 cli_path: str | None) -> str: ...

    def flow_run(self, flow: Flow, request: MessagesRequest, settings: Settings,
                 cli_path: str | None, publish: Callable[[Event], None], sink: Sink,
                 resume: str | None, *, adopt: LiveProcess | None, adopted_from: int | None,
                 pool: WarmPool | None, pool_key: str) -> FlowRun: ...

    def start_spare(self, settings: Settings, request: MessagesRequest, mode: str,
                    cli_path: str | None, flow_id: int,
                    publish: Callable[[Event], None]) -> Awaitable[LiveProcess]: ...
