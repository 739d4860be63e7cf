"""Event → one line of text: the single renderer behind the headless log, the console's
panels, the flow detail timeline and ``log --flow``'s timeline.

``describe`` gives the facts of an event; callers add their own prefix (a flow number, a
clock, "tool " or "→ "), colour and redaction. ``describe_entry`` renders a journal timeline
entry (the dict form ``journal.writer.timeline`` stores) through the same function, by
rebuilding the event it came from. Pure Python: no Textual, no Rich, no I/O.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any
from collections.abc import Callable

from tui_proxy.core.events import (
    EVENT_TYPES, ApiRetry, Cancelled, Event, FileOp, FlowFailed, FlowFinished, FlowQueued,
    FlowStarted, Note, Parked, ProxyLog, RateLimitInfo, Resumed, SdkSpawned, SessionInfo,
    SettingsApplied, StderrLine, TextDelta, ThinkingDelta, TimedOut, ToolCall, ToolResult,
)

OUTSIDE = "  ▲ OUTSIDE WORKING DIRECTORY"


def short(text: Any, limit: int = 160, *, squash: bool = True) -> str:
    """``text`` as a string of at most ``limit`` characters, cut with "…"; ``None`` is "".
    With ``squash`` (the default) runs of whitespace, newlines included, become one space so
    the result stays on one line; ``squash=False`` keeps the text as it is (the journal)."""
    out = "" if text is None else str(text)
    if squash:
        out = " ".join(out.split())
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _started(e: FlowStarted) -> str:
    summary = e.summary or {}
    tools = summary.get("tools") or []
    return (f"started {e.method} {e.path} model={e.model} "
            f"stream={'yes' if e.stream else 'no'} mode={e.mode} "
            f"messages={summary.get('messages')}"
            + (f" tools={len(tools)}" if tools else "")
            + f" client={short(e.client, 40)}")


def _spawned(e: SdkSpawned) -> str:
    return f"CLI started pid={e.pid} in {e.spawn_ms:.0f} ms ({e.cli_path})"


def _session(e: SessionInfo) -> str:
    return f"session {e.session_id}" + (" (resumed)" if e.resumed else "")


def _tool_call(e: ToolCall) -> str:
    where = f" path={e.path}" if e.path else ""
    return f"{e.name} {e.input_summary}{where}" + (OUTSIDE if e.outside_cwd else "")


def _tool_result(e: ToolResult) -> str:
    took = f" in {e.duration_ms:.0f} ms" if e.duration_ms is not None else ""
    return f"{e.name} {e.outcome}{took}: {short(e.summary, 100)}"


def _file_op(e: FileOp) -> str:
    # Fixed-width columns: the Files panel lines up; a headless line reads the same way.
    size = f"{e.bytes:>8} B" if e.bytes is not None else "       – "
    took = f"{e.duration_ms:>6.0f} ms" if e.duration_ms is not None else "     – "
    return (f"{e.tool:<6} {size} {took} {e.outcome:<6} {e.path}"
            + (OUTSIDE if e.outside_cwd else ""))


def _rate(e: RateLimitInfo) -> str:
    used = f" {e.utilization:.0%} used" if e.utilization is not None else ""
    resets = time.strftime(" resets %H:%M", time.localtime(e.resets_at)) if e.resets_at else ""
    what = {"rejected": "RATE LIMITED", "allowed_warning": "usage warning"}.get(
        e.status, f"rate limit {e.status}")
    return f"{what} ({e.limit_type or 'limit'}){used}{resets}"


def _retry(e: ApiRetry) -> str:
    return (f"API retry {e.attempt}/{e.max_retries} after {e.error_status} {e.error or ''} "
            f"(waiting {e.delay_ms or 0:.0f} ms)")


def _timeout(e: TimedOut) -> str:
    return f"TIMED OUT: {e.limit} limit {e.limit_s:g} s after {e.elapsed_s:.1f} s"


def _failed(e: FlowFailed) -> str:
    return f"ERROR {e.status} {e.error_type} [{e.error_class}]: {short(e.message, 200)}"


def _finished(e: FlowFinished) -> str:
    ttft = f" ttft={e.ttft_s:.2f}s" if e.ttft_s is not None else ""
    cost = f" cost=${e.cost_usd:.4f}" if e.cost_usd else ""
    return (f"finished {e.state} in {e.duration_s:.2f}s{ttft} "
            f"tokens in={e.input_tokens} out={e.output_tokens}{cost} stop={e.stop_reason}")


def _parked(e: Parked) -> str:
    return (f"parked, waiting for the client's result of {', '.join(e.tool_names)} "
            f"(up to {e.timeout_s:g} s)")


def _resumed(e: Resumed) -> str:
    return f"resumed parked flow #{e.parked_flow_id} with {len(e.tool_use_ids)} tool result(s)"


def _settings(e: SettingsApplied) -> str:
    if e.error:
        return f"settings NOT reloaded: {e.error}"
    return "settings reloaded: " + (", ".join(e.changed) or "nothing changed")


RENDERERS: dict[type[Event], Callable[[Any], str]] = {
    FlowStarted: _started,
    FlowQueued: lambda e: f"queued at position {e.position}",
    SdkSpawned: _spawned,
    SessionInfo: _session,
    TextDelta: lambda e: f"text {e.text!r}",
    ThinkingDelta: lambda e: f"thinking {e.text!r}",
    ToolCall: _tool_call,
    ToolResult: _tool_result,
    FileOp: _file_op,
    StderrLine: lambda e: short(e.line, 200),
    RateLimitInfo: _rate,
    ApiRetry: _retry,
    TimedOut: _timeout,
    Cancelled: lambda e: f"cancelled ({e.reason.replace('_', ' ')})",
    FlowFailed: _failed,
    FlowFinished: _finished,
    Parked: _parked,
    Resumed: _resumed,
    Note: lambda e: e.message,
    ProxyLog: lambda e: f"{e.logger}: {short(e.message, 300)}",
    SettingsApplied: _settings,
}


def fields_text(fields: dict[str, Any], width: int = 80) -> str:
    """``key=value`` pairs: what an event (or journal entry) with no renderer shows."""
    parts = []
    for key, value in fields.items():
        if value in (None, "", (), [], {}):
            continue
        if isinstance(value, (dict, list, tuple)):
            value = json.dumps(value, ensure_ascii=False, default=str)
        parts.append(f"{key}={short(value, width)}")
    return " ".join(parts)


def describe(event: Event) -> str:
    """The one-line text of ``event`` (no flow number, clock or colour)."""
    render = RENDERERS.get(type(event))
    if render is None:
        fields = {k: v for k, v in event.to_dict().items() if k not in ("flow_id", "ts", "kind")}
        return f"{event.kind} {fields_text(fields)}".rstrip()
    return render(event)


def _empty(annotation: Any) -> Any:
    """What the journal left out for a field of this type (it drops empty values)."""
    text = str(annotation)
    if "None" in text:
        return None
    for prefix, value in (("str", ""), ("tuple", ()), ("dict", {}), ("list", [])):
        if text.startswith(prefix):
            return value
    raise KeyError(text)


def rebuild(entry: dict[str, Any], created: float = 0.0) -> Event | None:
    """The event a journal timeline entry was written from, or None when it cannot be (an
    unknown kind, a folded run of deltas, an entry from another version)."""
    cls = EVENT_TYPES.get(str(entry.get("kind")))
    if cls is None or cls in (TextDelta, ThinkingDelta):
        return None
    values: dict[str, Any] = {}
    try:
        for f in dataclasses.fields(cls):
            if f.name in ("flow_id", "ts"):
                continue
            if f.name in entry:
                value = entry[f.name]
                values[f.name] = tuple(value) if isinstance(value, list) \
                    and str(f.type).startswith("tuple") else value
            elif f.default is not dataclasses.MISSING:
                values[f.name] = f.default
            else:
                values[f.name] = _empty(f.type)
        t = entry.get("t")
        return cls(None, ts=created + (t if isinstance(t, (int, float)) else 0.0), **values)
    except (KeyError, TypeError, ValueError):
        return None


def describe_entry(entry: dict[str, Any], created: float = 0.0) -> str:
    """The one-line text of a journal timeline entry, through ``describe`` when the event
    can be rebuilt; a folded run of deltas reads as the flow detail screen shows it."""
    kind = entry.get("kind")
    if kind in (TextDelta.kind, ThinkingDelta.kind) and "deltas" in entry:
        return f"{entry.get('deltas')} deltas, {entry.get('chars')} chars"
    event = rebuild(entry, created)
    if event is not None:
        try:
            return describe(event)
        except (TypeError, ValueError, AttributeError, KeyError):
            pass  # a field of the wrong type (hand-edited journal): show the raw fields
    return fields_text({k: v for k, v in entry.items() if k not in ("t", "kind")})
