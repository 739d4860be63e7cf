"""Which mode a flow runs in: a decision of the settings and the request alone."""

from __future__ import annotations

from tui_proxy.config.settings import Settings
from tui_proxy.wire.request import MessagesRequest


def effective_mode(settings: Settings, request: MessagesRequest) -> str:
    """agent, passthrough (the default when the request carries tools) or chat."""
    if settings.mode == "agent":
        return "agent"
    if settings.mode in ("auto", "passthrough") and request.tools:
        return "passthrough"
    return "chat"
