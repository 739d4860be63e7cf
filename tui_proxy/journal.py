"""The JSONL journal: every flow, recorded when it starts and when it ends.

One file per local day (``journal-YYYY-MM-DD.jsonl``, overflow ``…-YYYY-MM-DD.N.jsonl``)
under ``journal_dir`` or the platform's state directory; the total is capped at
``journal_max_mb`` by deleting the oldest files (0 turns the journal off). The format is the
contract ``claude-proxy-tui log`` and ``replay`` read (see README, "Journal").

Nothing here runs in the request path: the journal is a bus subscriber plus a hook that
receives a flow's request body; a task turns events into records and a worker thread
writes them, flushing after every flow's end so a crash loses at most the flows in flight
(their start records are already on disk).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .events import Event, FlowFinished, TextDelta, ThinkingDelta
from .wire import jsonsafe
from .redact import redact, remember_environment, remember_secret

if TYPE_CHECKING:
    from .engine import Engine
    from .flow import Flow

BODY_CAP = 1024 * 1024       # bodies above this are journalled as truncated (no replay)
EVENTS_CAP = 500             # timeline entries per end record
FILE_CAP_SHARE = 8           # a day file rolls over at max_mb / this
STATE_OF = {"done": "done", "error": "error", "cancelled": "cancelled",
            "timed out": "timed_out", "timed_out": "timed_out"}


def journal_dir(settings: Any) -> Path:
    if settings.journal_dir:
        return Path(settings.journal_dir).expanduser()
    from platformdirs import user_state_dir
    return Path(user_state_dir("claude-proxy-tui")) / "journal"


def _short(value: Any, limit: int = 300) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + "…"
    if isinstance(value, (list, tuple)):
        return [_short(v, limit) for v in value][:50]
    if isinstance(value, dict):
        return {k: _short(v, limit) for k, v in list(value.items())[:50]}
    return value


def timeline(flow: "Flow") -> list[dict[str, Any]]:
    """The flow's events, runs of text/thinking deltas folded into one entry each."""
    out: list[dict[str, Any]] = []
    run: dict[str, Any] | None = None
    for event in flow.timeline:
        t = round(event.ts - flow.created, 4)
        if isinstance(event, (TextDelta, ThinkingDelta)):
            if run is None or run["kind"] != event.kind:
                run = {"t": t, "kind": event.kind, "deltas": 0, "chars": 0}
                out.append(run)
            run["deltas"] += 1
            run["chars"] += len(event.text)
            continue
        run = None
        entry = {k: _short(v) for k, v in event.to_dict().items()
                 if k not in ("flow_id", "ts", "kind") and v not in (None, "", (), [], {})}
        out.append({"t": t, "kind": event.kind, **entry})
    if len(out) > EVENTS_CAP:
        out = out[: EVENTS_CAP // 2] + [{"kind": "omitted", "count": len(out) - EVENTS_CAP}] + \
            out[-EVENTS_CAP // 2:]
    return redact(out)


class Journal:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.run_id = secrets.token_hex(6)
        self.dir = journal_dir(engine.settings)
        self.max_bytes = engine.settings.journal_max_mb * 1024 * 1024
        self.sub = engine.bus.subscribe(maxlen=500_000, name="journal")
        remember_secret(engine.settings.api_key)  # the proxy's own key, whatever it looks like
        remember_environment()
        self._lines: deque[tuple[str, bool]] = deque()  # (json line, flush after it)
        self._task: asyncio.Task[None] | None = None
        self._file: Any = None
        self._file_path: Path | None = None
        self.written = 0
        self.errors = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if not self.enabled:
            self.engine.bus.unsubscribe(self.sub)
            return
        self.engine.body_hooks.append(self.flow_opened)
        self._task = asyncio.create_task(self._run(), name="journal")

    async def stop(self) -> None:
        """Write what is queued, then close (after the engine's flows have ended)."""
        if self._task is None:
            return
        self._collect(self.sub.drain())
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        await asyncio.to_thread(self._write_pending)
        await asyncio.to_thread(self._close)
        self.engine.bus.unsubscribe(self.sub)
        if self.flow_opened in self.engine.body_hooks:
            self.engine.body_hooks.remove(self.flow_opened)
        self._task = None

    # -- records ------------------------------------------------------------------------

    def flow_opened(self, flow: "Flow", body: dict[str, Any]) -> None:
        """The engine calls this as a flow opens: the start record, with the request body."""
        record: dict[str, Any] = {
            "record": "start", "v": 1, "proxy_run": self.run_id, "flow_id": flow.id,
            "ts": flow.created, "request_id": flow.request_id, "method": flow.method,
            "path": flow.path, "client": flow.client, "model": flow.model,
            "stream": flow.stream, "mode": flow.mode, "summary": flow.summary}
        record = redact(record)  # model, User-Agent, tool names in the summary: any can hold one
        text = jsonsafe.dumps(redact(body), default=str)
        if len(text) > BODY_CAP:
            record["body_truncated"] = True
            line = jsonsafe.dumps(record, default=str)
        else:
            line = jsonsafe.dumps(record, default=str)[:-1] + \
                ', "body": ' + text + "}"
        self._lines.append((line, False))

    def _end_record(self, event: FlowFinished) -> str | None:
        flow = self.engine.flows.get(event.flow_id) if event.flow_id is not None else None
        if flow is None:
            return None
        error = flow.error or {}
        record = {
            "record": "end", "v": 1, "proxy_run": self.run_id, "flow_id": flow.id,
            "ts": event.ts, "request_id": flow.request_id,
            "state": STATE_OF.get(event.state, event.state),
            "error_class": error.get("class"), "error_type": error.get("type"),
            "status": error.get("status", 200), "message": redact(error.get("message")),
            "cancel_reason": flow.cancel_reason if event.state == "cancelled" else None,
            "model": flow.model, "session_id": flow.session_id,
            "usage": {"input_tokens": event.input_tokens, "output_tokens": event.output_tokens},
            "cost_usd": event.cost_usd, "ttft_s": event.ttft_s,
            "duration_s": round(event.duration_s, 4), "stop_reason": event.stop_reason,
            "options": flow.options_summary, "events": timeline(flow)}
        return jsonsafe.dumps(redact(record), default=str)

    def _collect(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, FlowFinished):
                line = self._end_record(event)
                if line is not None:
                    self._lines.append((line, True))

    async def _run(self) -> None:
        while True:
            await self.sub.wait(1.0)
            self._collect(self.sub.drain())
            if self._lines:
                await asyncio.to_thread(self._write_pending)

    # -- the worker thread --------------------------------------------------------------

    def _path_for(self, ts: float) -> Path:
        day = time.strftime("%Y-%m-%d", time.localtime(ts))
        path = self.dir / f"journal-{day}.jsonl"
        cap = max(64 * 1024, self.max_bytes // FILE_CAP_SHARE)
        n = 0
        while path.exists() and path.stat().st_size >= cap:
            n += 1
            path = self.dir / f"journal-{day}.{n}.jsonl"
        return path

    def _open(self) -> Any:
        path = self._path_for(time.time())
        if path != self._file_path or self._file is None:
            self._close()
            self.dir.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8")
            try:
                os.chmod(path, 0o600)  # request bodies are private
            except OSError:
                pass
            self._file_path = path
            self._enforce_cap()
        return self._file

    def _write_pending(self) -> None:
        try:
            handle = self._open()
            while self._lines:
                line, flush = self._lines.popleft()
                try:
                    handle.write(line + "\n")
                except ValueError:  # never again stop the journal for good on one line
                    self.errors += 1
                    continue
                self.written += 1
                if flush:
                    handle.flush()
            handle.flush()
        except OSError:
            self.errors += 1  # a full disk must not take the proxy down

    def _close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

    def _enforce_cap(self) -> None:
        files = sorted(self.dir.glob("journal-*.jsonl"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for path in files:
            if total <= self.max_bytes or path == self._file_path:
                continue
            total -= path.stat().st_size
            path.unlink(missing_ok=True)
