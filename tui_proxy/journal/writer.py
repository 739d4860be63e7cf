"""The JSONL journal: every flow, recorded when it starts and when it ends.

One file per local day (``journal-YYYY-MM-DD.jsonl``, overflow ``…-YYYY-MM-DD.N.jsonl``)
under ``journal_dir`` or the platform's state directory; the total is capped at
``journal_max_mb`` by deleting the oldest files (0 turns the journal off). The format is the
contract ``claude-proxy-tui log`` and ``replay`` read (see README, "Journal").

Nothing here runs in the request path: the journal is a bus subscriber plus a hook that
receives a flow's request body; a task turns events into records and a worker thread
writes them, flushing after every flow's end so a crash loses at most the flows in flight
(their start records are already on disk).

A journal that cannot be written (a read-only or missing folder, a full disk) costs bounded
memory: the backlog keeps at most ``BACKLOG_RECORDS`` records and ``BACKLOG_BYTES`` bytes,
dropping the oldest beyond with a count (``JournalLoss``: the status bar, ``/health`` and
``/metrics`` show it, and a note says when the journal fails and when it recovers); writing is
retried every ``RETRY_S``. A write cut short (ENOSPC) is undone by truncating the file back, so
no partial line is left for the reader (if even that fails, the next write starts a new line
and ``claude-proxy-tui log`` counts the cut one as unreadable).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_proxy.config import locations
from tui_proxy.core.describe import short
from tui_proxy.core.events import Event, FlowFinished, Note, TextDelta, ThinkingDelta
from tui_proxy.wire import jsonsafe
from tui_proxy.core.redact import SECRET_KEY, redact, remember_environment, remember_secret

if TYPE_CHECKING:
    from tui_proxy.core.engine import Engine
    from tui_proxy.core.flow import Flow

BODY_CAP = 1024 * 1024       # bodies above this are journalled as truncated (no replay)
EVENTS_CAP = 500             # timeline entries per end record
FILE_CAP_SHARE = 8           # a day file rolls over at max_mb / this
BACKLOG_RECORDS = 5000        # records kept in memory while the journal cannot be written
BACKLOG_BYTES = 16 * 1024 * 1024
RETRY_S = 2.0                # how often an unwritable journal is tried again
STATE_OF = {"done": "done", "error": "error", "cancelled": "cancelled",
            "timed out": "timed_out", "timed_out": "timed_out"}


def journal_dir(settings: Any) -> Path:
    return locations.journal_dir(settings.journal_dir)


def _clip(value: Any, limit: int = 300) -> Any:
    """A timeline field kept small: strings cut (whitespace kept), at most 50 items."""
    if isinstance(value, str):
        return short(value, limit, squash=False)
    if isinstance(value, (list, tuple)):
        return [_clip(v, limit) for v in value][:50]
    if isinstance(value, dict):
        return {k: _clip(v, limit) for k, v in list(value.items())[:50]}
    return value


def size_floor(value: Any, cap: int) -> int:
    """A lower bound on the length of ``value`` as JSON text (each string's characters and
    quotes, each integer's digits, a character for any other value), without recursion;
    stops once past ``cap``. A secret-named key's value counts nothing (redaction makes it
    ``"[redacted]"``); other strings count before redaction, so a body whose secrets alone
    take it over the cap is recorded as truncated too (said so, never silently)."""
    total, stack = 0, [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, str):
            total += 2 + len(item)
        elif isinstance(item, bool) or item is None:
            total += 4
        elif isinstance(item, int):
            total += max(1, int(item.bit_length() * 0.30102))
        elif isinstance(item, dict):
            total += 2
            for key, child in item.items():
                total += len(key) + 3 if isinstance(key, str) else 3
                if not (isinstance(key, str) and SECRET_KEY.search(key)):
                    stack.append(child)
        elif isinstance(item, (list, tuple)):
            total += 2
            stack.extend(item)
        else:
            total += 1
    return total


def timeline(flow: Flow) -> list[dict[str, Any]]:
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
        entry = {k: _clip(v) for k, v in event.to_dict().items()
                 if k not in ("flow_id", "ts", "kind") and v not in (None, "", (), [], {})}
        out.append({"t": t, "kind": event.kind, **entry})
    if len(out) > EVENTS_CAP:
        out = out[: EVENTS_CAP // 2] + [{"kind": "omitted", "count": len(out) - EVENTS_CAP}] + \
            out[-EVENTS_CAP // 2:]
    return redact(out)


@dataclass
class JournalLoss:
    """What the journal of one engine lost, for its life (a rebind starts a new Journal)."""

    errors: int = 0            # write attempts that failed
    dropped: int = 0           # records never written (backlog over its bounds, bad lines)
    failing: str | None = None  # why the last attempt failed, while it is failing
    backlog: int = 0           # records waiting in memory
    backlog_bytes: int = 0


_LOSS: weakref.WeakKeyDictionary[Any, JournalLoss] = weakref.WeakKeyDictionary()


def loss_of(engine: Any) -> JournalLoss:
    loss = _LOSS.get(engine)
    if loss is None:
        loss = _LOSS[engine] = JournalLoss()
    return loss


def loss_text(loss: JournalLoss) -> str | None:
    """A few words for the status bar, or None while nothing is lost."""
    if loss.failing is None and not loss.dropped:
        return None
    lost = f"{loss.dropped} lost" if loss.dropped else ""
    if loss.failing is not None:
        return f"journal FAILING ({loss.backlog} waiting{', ' + lost if lost else ''})"
    return f"journal {lost}"


class Journal:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.run_id = secrets.token_hex(6)
        self.dir = journal_dir(engine.settings)
        self.max_bytes = engine.settings.journal_max_mb * 1024 * 1024
        self.sub = engine.bus.subscribe(maxlen=500_000, name="journal")
        remember_secret(engine.settings.api_key)  # the proxy's own key, whatever it looks like
        remember_environment()
        self._lines: deque[tuple[str, bool]] = deque()  # (json line, flush after it)
        self._lock = threading.Lock()  # the backlog: the loop appends, the writer takes
        self._bytes = 0
        self.max_records = BACKLOG_RECORDS
        self.max_backlog_bytes = BACKLOG_BYTES
        self.retry_s = RETRY_S
        self._retry_at = 0.0  # monotonic; no attempt before it
        self._torn = False    # the file may end in a cut line: start the next write with \n
        self._task: asyncio.Task[None] | None = None
        self._file: Any = None
        self._file_path: Path | None = None
        self.written = 0
        self.loss = loss_of(engine)
        self._syswrite = os.write        # the writer's system calls (tests fill the disk)
        self._systruncate = os.ftruncate

    @property
    def errors(self) -> int:
        return self.loss.errors

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
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await asyncio.to_thread(self._write_pending)
        await asyncio.to_thread(self._close)
        self.engine.bus.unsubscribe(self.sub)
        if self.flow_opened in self.engine.body_hooks:
            self.engine.body_hooks.remove(self.flow_opened)
        self._task = None

    # -- records ------------------------------------------------------------------------

    def flow_opened(self, flow: Flow, body: dict[str, Any]) -> None:
        """The engine calls this as a flow opens: the start record, with the request body."""
        record: dict[str, Any] = {
            "record": "start", "v": 1, "proxy_run": self.run_id, "flow_id": flow.id,
            "ts": flow.created, "request_id": flow.request_id, "method": flow.method,
            "path": flow.path, "client": flow.client, "model": flow.model,
            "stream": flow.stream, "mode": flow.mode, "summary": flow.summary}
        record = redact(record)  # model, User-Agent, tool names in the summary: any can hold one
        # A body surely over the cap is not redacted and written out only to be dropped: on
        # the loop, a 32 MiB one cost a second (its size floor is one cheap walk).
        text = "" if size_floor(body, BODY_CAP) > BODY_CAP else \
            jsonsafe.dumps(redact(body), default=str)
        if not text or len(text) > BODY_CAP:
            record["body_truncated"] = True
            line = jsonsafe.dumps(record, default=str)
        else:
            line = jsonsafe.dumps(record, default=str)[:-1] + \
                ', "body": ' + text + "}"
        self._queue(line, False)

    def _queue(self, line: str, flush: bool) -> None:
        with self._lock:
            self._lines.append((line, flush))
            self._bytes += len(line)
            self._trim()

    def _trim(self) -> None:
        """Over a bound, the oldest records go, counted (the lock is held)."""
        while len(self._lines) > 1 and (len(self._lines) > self.max_records
                                        or self._bytes > self.max_backlog_bytes):
            line, _ = self._lines.popleft()
            self._bytes -= len(line)
            self.loss.dropped += 1
        self.loss.backlog = len(self._lines)
        self.loss.backlog_bytes = self._bytes

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
                    self._queue(line, True)

    async def _run(self) -> None:
        while True:
            await self.sub.wait(1.0)
            self._collect(self.sub.drain())
            if self._lines and time.monotonic() >= self._retry_at:
                failing = self.loss.failing
                await asyncio.to_thread(self._write_pending)
                self._tell(failing)

    def _tell(self, was: str | None) -> None:
        """A note when the journal starts failing and when it writes again."""
        now = self.loss.failing
        if was is None and now is not None:
            self.engine.bus.publish(Note(None, "error", (
                f"journal: cannot write to {self.dir}: {now}; keeping up to "
                f"{self.max_records} records / {self.max_backlog_bytes // (1024 * 1024)} MiB in "
                f"memory (the oldest beyond are dropped, counted), retrying every "
                f"{self.retry_s:g} s")))
        elif was is not None and now is None:
            self.engine.bus.publish(Note(None, "info", (
                f"journal: writing to {self.dir} again "
                f"({self.loss.dropped} records lost so far)")))

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
            locations.private_dirs(self.dir)  # folders it creates are 0700
            # Request bodies are private: 0600. Unbuffered: a write is one syscall we can undo.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._file = open(fd, "ab", buffering=0)  # noqa: SIM115 - kept open across writes
            self._file_path = path
            try:
                os.chmod(path, 0o600)
                self._enforce_cap()
            except OSError:
                pass
        return self._file

    def _take(self, limit: int = 1024 * 1024) -> list[tuple[str, bool]]:
        """The next lines to write, up to ``limit`` bytes or a flow's end."""
        batch: list[tuple[str, bool]] = []
        size = 0
        with self._lock:
            while self._lines and (not batch or size < limit):
                line, flush = self._lines.popleft()
                self._bytes -= len(line)
                batch.append((line, flush))
                size += len(line)
                if flush:
                    break
            self.loss.backlog = len(self._lines)
            self.loss.backlog_bytes = self._bytes
        return batch

    def _give_back(self, batch: list[tuple[str, bool]]) -> None:
        with self._lock:
            for line, flush in reversed(batch):
                self._lines.appendleft((line, flush))
                self._bytes += len(line)
            self._trim()

    def _write_all(self, handle: Any, data: bytes) -> None:
        """Write ``data`` whole, or leave the file as it was (a full disk cuts no line)."""
        fd = handle.fileno()
        start = os.fstat(fd).st_size
        view = memoryview(data)
        try:
            while view:
                view = view[self._syswrite(fd, view):]
        except OSError:
            try:
                if os.fstat(fd).st_size == start + len(data) - len(view):  # nobody else wrote
                    self._systruncate(fd, start)
                else:
                    self._torn = True
            except OSError:
                self._torn = True
            raise

    def _write_pending(self) -> None:
        try:
            handle = self._open()
            while True:
                batch = self._take()
                if not batch:
                    break
                chunks = []
                for line, _ in batch:
                    try:
                        chunks.append((line + "\n").encode("utf-8"))
                    except ValueError:  # never again stop the journal for good on one line
                        self.loss.errors += 1
                        self.loss.dropped += 1
                data = b"".join(chunks)
                if self._torn:
                    data = b"\n" + data
                try:
                    self._write_all(handle, data)
                except OSError:
                    self._give_back(batch)
                    raise
                self._torn = False
                self.written += len(chunks)
        except OSError as exc:  # a full disk must not take the proxy down: retry later
            self.loss.errors += 1
            self.loss.failing = exc.strerror or str(exc)
            self._retry_at = time.monotonic() + self.retry_s
            self._close()
            return
        self.loss.failing = None
        self._retry_at = 0.0

    def _close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _enforce_cap(self) -> None:
        files = sorted(self.dir.glob("journal-*.jsonl"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for path in files:
            if total <= self.max_bytes or path == self._file_path:
                continue
            total -= path.stat().st_size
            path.unlink(missing_ok=True)
