"""Typed events: the engine's voice. Every subscriber (headless log, journal, console,
tests) sees the same objects. Events are small, immutable and cheap to create: one is
published per streamed token, so nothing here may do I/O.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Event:
    kind: ClassVar[str] = "event"
    flow_id: int | None
    ts: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["kind"] = self.kind
        return data


@dataclass(frozen=True, slots=True)
class FlowStarted(Event):
    kind: ClassVar[str] = "flow_started"
    method: str
    path: str
    model: str
    client: str
    stream: bool
    mode: str
    summary: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FlowQueued(Event):
    kind: ClassVar[str] = "queued"
    position: int


@dataclass(frozen=True, slots=True)
class SdkSpawned(Event):
    kind: ClassVar[str] = "sdk_spawned"
    cli_path: str
    pid: int | None
    options: dict[str, Any]
    spawn_ms: float


@dataclass(frozen=True, slots=True)
class SessionInfo(Event):
    kind: ClassVar[str] = "session"
    session_id: str
    model: str
    resumed: bool
    tools: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TextDelta(Event):
    kind: ClassVar[str] = "text"
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta(Event):
    kind: ClassVar[str] = "thinking"
    text: str


@dataclass(frozen=True, slots=True)
class ToolCall(Event):
    kind: ClassVar[str] = "tool_call"
    tool_use_id: str
    name: str
    input_summary: str
    path: str | None = None
    outside_cwd: bool = False


@dataclass(frozen=True, slots=True)
class ToolResult(Event):
    kind: ClassVar[str] = "tool_result"
    tool_use_id: str
    name: str
    outcome: str  # "ok" | "error" | "denied"
    summary: str
    duration_ms: float | None = None


@dataclass(frozen=True, slots=True)
class FileOp(Event):
    kind: ClassVar[str] = "file_op"
    tool: str
    path: str
    bytes: int | None
    outcome: str
    duration_ms: float | None
    outside_cwd: bool


@dataclass(frozen=True, slots=True)
class StderrLine(Event):
    kind: ClassVar[str] = "stderr"
    line: str


@dataclass(frozen=True, slots=True)
class RateLimitInfo(Event):
    kind: ClassVar[str] = "rate_limit"
    status: str  # allowed | allowed_warning | rejected
    limit_type: str | None
    utilization: float | None
    resets_at: float | None


@dataclass(frozen=True, slots=True)
class ApiRetry(Event):
    kind: ClassVar[str] = "api_retry"
    attempt: int | None
    max_retries: int | None
    delay_ms: float | None
    error_status: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class TimedOut(Event):
    kind: ClassVar[str] = "timeout"
    limit: str  # "total" | "inactivity" | "startup" (the CLI never answered initialize)
    limit_s: float
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class Cancelled(Event):
    kind: ClassVar[str] = "cancelled"
    reason: str  # operator | client_disconnect | shutdown


@dataclass(frozen=True, slots=True)
class FlowFailed(Event):
    kind: ClassVar[str] = "error"
    error_type: str
    status: int
    message: str
    error_class: str  # what went wrong, e.g. rate_limit, auth, crash, billing


@dataclass(frozen=True, slots=True)
class FlowFinished(Event):
    kind: ClassVar[str] = "finished"
    state: str
    stop_reason: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    duration_s: float
    ttft_s: float | None
    session_id: str | None


@dataclass(frozen=True, slots=True)
class Parked(Event):
    """The flow's response ended with client tool calls; its CLI waits for their results."""

    kind: ClassVar[str] = "parked"
    tool_use_ids: tuple[str, ...]
    tool_names: tuple[str, ...]
    timeout_s: float


@dataclass(frozen=True, slots=True)
class Resumed(Event):
    """This flow carries the tool results of a parked flow and continues its CLI turn."""

    kind: ClassVar[str] = "resumed"
    parked_flow_id: int
    tool_use_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Note(Event):
    """Something worth a log line that is not one of the above (ignored params, fallbacks)."""

    kind: ClassVar[str] = "note"
    level: str
    message: str


@dataclass(frozen=True, slots=True)
class ProxyLog(Event):
    """Log records from the proxy and its libraries (flow_id None unless known)."""

    kind: ClassVar[str] = "log"
    level: str
    logger: str
    message: str


@dataclass(frozen=True, slots=True)
class SettingsApplied(Event):
    kind: ClassVar[str] = "settings"
    changed: tuple[str, ...]
    error: str | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        FlowStarted, FlowQueued, SdkSpawned, SessionInfo, TextDelta, ThinkingDelta, ToolCall,
        ToolResult, FileOp, StderrLine, RateLimitInfo, ApiRetry, TimedOut, Cancelled,
        FlowFailed, FlowFinished, Parked, Resumed, Note, ProxyLog, SettingsApplied,
    )
}
