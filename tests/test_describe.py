"""The one event renderer (tui_proxy/core/describe.py): every event type has a line, and a
journal timeline entry renders as the event it was written from."""

import dataclasses
import inspect

from tui_proxy.core import events
from tui_proxy.core.describe import RENDERERS, describe, describe_entry, rebuild, short
from tui_proxy.core.events import EVENT_TYPES, Event

T0 = 1_700_000_000.0

# One instance of every event type, with the fields a real flow would give it.
SAMPLES: dict[type, Event] = {
    events.FlowStarted: events.FlowStarted(1, "POST", "/v1/messages", "claude-sonnet-5-5",
                                           "opencode/1.4.2", True, "chat",
                                           {"messages": 3, "tools": ["a", "b"]}, ts=T0),
    events.FlowQueued: events.FlowQueued(1, 2, ts=T0),
    events.SdkSpawned: events.SdkSpawned(1, "/usr/bin/claude", 4242, {"model": "x"}, 31.4,
                                         ts=T0),
    events.SessionInfo: events.SessionInfo(1, "sess-1", "claude-sonnet-5-5", True, ts=T0),
    events.TextDelta: events.TextDelta(1, "hel", ts=T0),
    events.ThinkingDelta: events.ThinkingDelta(1, "hmm", ts=T0),
    events.ToolCall: events.ToolCall(1, "toolu_1", "Write", '{"file_path": "a.py"}',
                                     path="/p/a.py", outside_cwd=True, ts=T0),
    events.ToolResult: events.ToolResult(1, "toolu_1", "Write", "ok", "wrote 3 bytes", 12.0,
                                         ts=T0),
    events.FileOp: events.FileOp(1, "Write", "/p/a.py", 3, "ok", 12.0, False, ts=T0),
    events.StderrLine: events.StderrLine(1, "Error:\n  boom", ts=T0),
    events.RateLimitInfo: events.RateLimitInfo(1, "rejected", "five_hour", 1.0, T0 + 3600,
                                               ts=T0),
    events.ApiRetry: events.ApiRetry(1, 1, 10, 500.0, 529, "overloaded", ts=T0),
    events.TimedOut: events.TimedOut(1, "inactivity", 900.0, 900.2, ts=T0),
    events.Cancelled: events.Cancelled(1, "client_disconnect", ts=T0),
    events.FlowFailed: events.FlowFailed(1, "rate_limit_error", 429, "Rate limited",
                                         "rate_limit", ts=T0),
    events.FlowFinished: events.FlowFinished(1, "done", "end_turn", 10, 5, 0.0123, 1.5, 0.25,
                                             "sess-1", ts=T0),
    events.Parked: events.Parked(1, ("toolu_1", "toolu_2"), ("edit", "bash"), 1800.0, ts=T0),
    events.Resumed: events.Resumed(2, 1, ("toolu_1",), ts=T0),
    events.Note: events.Note(1, "warning", "ignored top_k", ts=T0),
    events.ProxyLog: events.ProxyLog(None, "INFO", "aiohttp", "listening", ts=T0),
    events.SettingsApplied: events.SettingsApplied(None, ("mode",), ts=T0),
}


def test_every_event_type_is_registered_and_has_a_rendering():
    declared = {cls for _, cls in inspect.getmembers(events, inspect.isclass)
                if issubclass(cls, Event) and cls is not Event
                and cls.__module__ == events.__name__}
    assert declared == set(EVENT_TYPES.values()), "an event class missing from EVENT_TYPES"
    missing = declared - set(RENDERERS)
    names = sorted(c.__name__ for c in missing)
    assert not missing, f"no rendering in core/describe.py for {names}"
    assert declared == set(SAMPLES), "add a sample of the new event type to this test"
    for cls, event in SAMPLES.items():
        text = describe(event)
        assert text and "\n" not in text, cls.__name__


def test_the_lines_say_the_facts():
    line = {cls: describe(e) for cls, e in SAMPLES.items()}
    assert line[events.FlowStarted] == ("started POST /v1/messages model=claude-sonnet-5-5 "
                                        "stream=yes mode=chat messages=3 tools=2 "
                                        "client=opencode/1.4.2")
    assert line[events.SdkSpawned] == "CLI started pid=4242 in 31 ms (/usr/bin/claude)"
    assert line[events.SessionInfo] == "session sess-1 (resumed)"
    assert line[events.ToolCall] == ('Write {"file_path": "a.py"} path=/p/a.py'
                                     "  ▲ OUTSIDE WORKING DIRECTORY")
    assert line[events.ToolResult] == "Write ok in 12 ms: wrote 3 bytes"
    assert line[events.FileOp] == "Write         3 B     12 ms ok     /p/a.py"
    assert line[events.StderrLine] == "Error: boom"
    assert line[events.RateLimitInfo].startswith("RATE LIMITED (five_hour) 100% used resets ")
    assert line[events.ApiRetry] == "API retry 1/10 after 529 overloaded (waiting 500 ms)"
    assert line[events.TimedOut] == "TIMED OUT: inactivity limit 900 s after 900.2 s"
    assert line[events.Cancelled] == "cancelled (client disconnect)"
    assert line[events.FlowFailed] == "ERROR 429 rate_limit_error [rate_limit]: Rate limited"
    assert line[events.FlowFinished] == ("finished done in 1.50s ttft=0.25s tokens in=10 out=5 "
                                         "cost=$0.0123 stop=end_turn")
    assert line[events.Parked] == ("parked, waiting for the client's result of edit, bash "
                                   "(up to 1800 s)")
    assert line[events.Resumed] == "resumed parked flow #1 with 1 tool result(s)"
    assert line[events.SettingsApplied] == "settings reloaded: mode"
    assert describe(events.SettingsApplied(None, (), "bad toml")) == \
        "settings NOT reloaded: bad toml"


def test_short_cuts_and_squashes():
    assert short("a  b\n c") == "a b c"
    assert short("x" * 10, 5) == "xxxx…" and len(short("y" * 500)) == 160
    assert short(None) == "" and short(42) == "42"
    assert short("a\n b", 10, squash=False) == "a\n b"


def _journalled(event: Event) -> dict:
    """What journal.writer.timeline stores for an event: empty fields dropped, tuples as
    lists (JSON)."""
    from tui_proxy.journal.writer import timeline

    class FakeFlow:
        created = T0 - 1
        timeline = [event]

    return timeline(FakeFlow())[0]  # type: ignore[arg-type]


def test_journal_entries_render_as_the_events_they_came_from():
    for cls, event in SAMPLES.items():
        if cls in (events.TextDelta, events.ThinkingDelta):
            continue
        entry = _journalled(event)
        assert rebuild(entry) is not None, cls.__name__
        assert describe_entry(entry, T0 - 1) == describe(event), cls.__name__
    # Empty fields the journal dropped come back empty, not as "None".
    bare = events.ToolCall(1, "toolu_1", "Read", "", ts=T0)
    assert describe_entry(_journalled(bare)) == describe(bare) == "Read "


def test_journal_entries_it_cannot_rebuild_show_their_fields():
    assert describe_entry({"t": 1.0, "kind": "text", "deltas": 5, "chars": 20}) == \
        "5 deltas, 20 chars"
    assert describe_entry({"kind": "omitted", "count": 12}) == "count=12"
    assert describe_entry({"t": 0.1, "kind": "TextDelta", "count": 5}) == "count=5"
    # a hand-edited entry with a field of the wrong type: no traceback, the raw fields
    assert describe_entry({"t": 0, "kind": "cancelled", "reason": 7}) == "reason=7"
    assert describe_entry({"t": 0, "kind": "queued"}) == ""


def test_an_event_without_a_renderer_falls_back_to_its_fields():
    @dataclasses.dataclass(frozen=True, slots=True)
    class Novel(Event):
        kind = "novel"
        what: str

    assert describe(Novel(1, "thing", ts=T0)) == "novel what=thing"


def test_log_flow_timeline_and_flow_detail_use_the_same_lines():
    from rich.console import Console

    from tui_proxy.commands.logcmd import print_timeline
    from tui_proxy.console.screens.detail import timeline_rows
    from tui_proxy.journal.reader import Flow as JournalFlow

    picked = [SAMPLES[events.ToolCall], SAMPLES[events.TimedOut], SAMPLES[events.FlowFinished]]
    flow = JournalFlow("run1", 1, start={"ts": T0, "mode": "chat"},
                       end={"ts": T0 + 2, "state": "done",
                            "events": [_journalled(e) for e in picked]})
    console = Console(width=300, record=True, emoji=False, markup=False, highlight=False)
    print_timeline(flow, console)
    out = console.export_text()
    for event in picked:
        assert describe(event) in out

    class LiveFlow:
        created = T0 - 1
        timeline = picked

    assert [row[2] for row in timeline_rows(LiveFlow())] == [describe(e) for e in picked]
