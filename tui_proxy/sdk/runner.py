"""The SDK adapter behind the engine's ``Runner`` protocol (``tui_proxy.core.runner``): the CLI
it drives, the key a live process is reusable under, one flow's run (``FlowDriver``) and a
pre-started spare."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from tui_proxy.config.settings import Settings
from tui_proxy.core.bus import EventBus
from tui_proxy.core.engine import Engine
from tui_proxy.core.events import Event
from tui_proxy.core.flow import Flow
from tui_proxy.core.pool import WarmPool
from tui_proxy.core.runner import CliInfo, LiveProcess, Sink
from tui_proxy.sdk.cli_locate import locate_cli
from tui_proxy.sdk.driver import FlowDriver, new_live_run
from tui_proxy.sdk.live_run import LiveRun, own_live_run
from tui_proxy.sdk.workdir import run_cwd
from tui_proxy.wire.request import MessagesRequest
from tui_proxy.wire.tools import offered_tools


def pool_key(settings: Settings, request: MessagesRequest, mode: str,
             cli_path: str | None) -> str:
    cwd = run_cwd(settings.cwd, request.system_text, mode)
    spawn_time = [mode, request.system_text, offered_tools(request), request.thinking or {},
                  cwd, settings.permission_mode, cli_path,
                  # effort, output format, task budget, betas, CLI built-ins, tool choice
                  request.spawn_options]
    raw = json.dumps(spawn_time, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class SdkRunner:
    def locate(self, settings: Settings) -> CliInfo:
        return locate_cli(settings.cli_path, settings.sources.get("cli_path", "setting"))

    def pool_key(self, settings: Settings, request: MessagesRequest, mode: str,
                 cli_path: str | None) -> str:
        return pool_key(settings, request, mode, cli_path)

    def flow_run(self, flow: Flow, request: MessagesRequest, settings: Settings,
                 cli_path: str | None, publish: Callable[[Event], None], sink: Sink,
                 resume: str | None, *, adopt: LiveProcess | None, adopted_from: int | None,
                 pool: WarmPool | None, pool_key: str) -> FlowDriver:
        return FlowDriver(flow, request, settings, cli_path, flow.mode, publish, sink, resume,
                          adopt=own_live_run(adopt), adopted_from=adopted_from,
                          pool=pool, pool_key=pool_key)

    async def start_spare(self, settings: Settings, request: MessagesRequest, mode: str,
                          cli_path: str | None, flow_id: int,
                          publish: Callable[[Event], None]) -> LiveRun:
        live = new_live_run(settings, request, mode, cli_path, None, flow_id, publish)
        await live.connect()
        return live


def sdk_engine(settings: Settings, bus: EventBus | None = None) -> Engine:
    """An engine whose flows run through the Claude Agent SDK (what the host builds)."""
    return Engine(settings, bus, runner=SdkRunner())
