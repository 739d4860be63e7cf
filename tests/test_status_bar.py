"""The status bar highlights bypassPermissions only where it applies: agent mode."""

import pytest

from tui_proxy.console.widgets.status_bar import StatusFacts, render_status
from tui_proxy.config.settings import MODES


def facts(mode: str, permission_mode: str = "bypassPermissions") -> StatusFacts:
    return StatusFacts(url="http://127.0.0.1:3456", mode=mode, permission_mode=permission_mode,
                       cwd="/w", cli="/x/claude 2.1", login="yes", in_flight=0, queued=0,
                       per_minute=0, parked=0, warm=0, mcp_timeout_s=1860, rate=None, now=0.0,
                       follow=True, stream_all=False, filter_text="", screenshots="/s")


def style_of(text, word: str) -> str:
    start = text.plain.index(word)
    return " ".join(str(span.style) for span in text.spans
                    if span.start <= start < span.end)


@pytest.mark.parametrize("mode", MODES)
def test_bypass_permissions_is_highlighted_only_in_agent_mode(mode):
    style = style_of(render_status(facts(mode)), "bypassPermissions")
    if mode == "agent":
        assert "on yellow" in style, style
    else:  # Claude's built-in tools are off: the permission mode does not apply
        assert "on yellow" not in style and "dim" in style, style


def test_other_permission_modes_are_never_highlighted():
    style = style_of(render_status(facts("agent", "acceptEdits")), "acceptEdits")
    assert "on yellow" not in style
