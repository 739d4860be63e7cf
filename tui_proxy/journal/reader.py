"""Read the request journal: files → records → flows, filters and totals.

Format (the shared contract with the writer): ``journal-YYYY-MM-DD.jsonl`` per local day
(overflow ``journal-YYYY-MM-DD.N.jsonl``), one JSON object per line, ``"v": 1``, a ``start``
record when a flow opens and an ``end`` record when it ends, keyed by ``(proxy_run,
flow_id)``. A start without an end is a *lost* flow (the proxy died mid-flow — or it is still
running). Unreadable lines are counted and skipped, never fatal: a crash may cut the last line.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Iterator

from tui_proxy.config import locations
from tui_proxy.config.settings import Settings

FILE_RE = re.compile(r"^journal-(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.jsonl$")
RELATIVE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def journal_dir(settings: Settings | None = None, override: str | None = None) -> Path:
    return locations.journal_dir(override or (settings.journal_dir if settings else None))


def journal_files(directory: Path, since: float | None = None) -> list[Path]:
    """Journal files oldest first; with ``since``, days entirely before it are skipped."""
    found = []
    if not directory.is_dir():
        return []
    first_day = (datetime.fromtimestamp(since).date() - timedelta(days=1)) if since else None
    for path in directory.iterdir():
        match = FILE_RE.match(path.name)
        if not match:
            continue
        try:
            day = date.fromisoformat(match.group(1))
        except ValueError:
            continue
        if first_day and day < first_day:
            continue
        found.append((day, int(match.group(2) or 0), path))
    return [path for _day, _n, path in sorted(found)]


def parse_since(text: str, now: float | None = None) -> float:
    """``30m`` / ``2h`` / ``1d`` / ``1w`` ago, or an ISO date / date-time (local time)."""
    now = time.time() if now is None else now
    match = RELATIVE_RE.match(text)
    if match:
        return now - float(match.group(1)) * UNIT_S[match.group(2).lower()]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since: expected an ISO date/time (2025-01-31, 2025-01-31T14:00) "
                         f"or a relative time (30m, 2h, 1d), got {text!r}") from None
    return moment.timestamp()  # naive → local time, aware → its own offset


@dataclass
class Flow:
    proxy_run: str
    flow_id: int
    start: dict[str, Any] | None = None
    end: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        return f"{self.proxy_run}:{self.flow_id}"

    @property
    def ts(self) -> float:
        rec = self.start or self.end or {}
        return float(rec.get("ts") or 0.0)

    def _get(self, name: str) -> Any:
        for rec in (self.end, self.start):
            if rec and rec.get(name) is not None:
                return rec[name]
        return None

    @property
    def state(self) -> str:
        return (self.end or {}).get("state") or "lost"

    @property
    def ok(self) -> bool:
        return self.state == "done"

    @property
    def error_class(self) -> str | None:
        if self.end is None:
            return "lost"
        if self.ok:
            return None
        return self.end.get("error_class") or self.end.get("state")

    @property
    def model(self) -> str | None:
        return self._get("model")

    @property
    def duration_s(self) -> float | None:
        value = (self.end or {}).get("duration_s")
        return float(value) if value is not None else None

    @property
    def ttft_s(self) -> float | None:
        value = (self.end or {}).get("ttft_s")
        return float(value) if value is not None else None

    @property
    def usage(self) -> dict[str, Any]:
        return (self.end or {}).get("usage") or {}

    @property
    def cost_usd(self) -> float | None:
        value = (self.end or {}).get("cost_usd")
        return float(value) if value is not None else None

    def summary(self) -> dict[str, Any]:
        """One flow as a flat JSON-able dict (no body, no events)."""
        start, end = self.start or {}, self.end or {}
        return {
            "proxy_run": self.proxy_run, "flow_id": self.flow_id, "ts": self.ts,
            "request_id": self._get("request_id"), "model": self.model,
            "mode": start.get("mode"), "stream": start.get("stream"),
            "client": start.get("client"), "path": start.get("path"),
            "state": self.state, "status": end.get("status"),
            "error_class": self.error_class, "error_type": end.get("error_type"),
            "message": end.get("message"), "session_id": end.get("session_id"),
            "duration_s": self.duration_s, "ttft_s": self.ttft_s,
            "usage": end.get("usage"), "cost_usd": self.cost_usd,
            "body_truncated": bool(start.get("body_truncated")),
        }


@dataclass
class Journal:
    flows: list[Flow] = field(default_factory=list)
    bad_lines: int = 0
    files: list[Path] = field(default_factory=list)


def iter_records(paths: Iterable[Path], counter: list[int] | None = None) -> Iterator[dict]:
    for path in paths:
        try:
            handle = path.open(encoding="utf-8", errors="replace")
        except OSError:
            continue
        with handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                if not isinstance(record, dict) or record.get("v") != 1 \
                        or record.get("record") not in ("start", "end") \
                        or "flow_id" not in record:
                    if counter is not None:
                        counter[0] += 1
                    continue
                yield record


def load_journal(directory: Path, since: float | None = None) -> Journal:
    files = journal_files(directory, since)
    bad = [0]
    flows: dict[tuple[str, int], Flow] = {}
    for record in iter_records(files, bad):
        run = str(record.get("proxy_run") or "?")
        try:
            flow_id = int(record["flow_id"])
        except (TypeError, ValueError):
            bad[0] += 1
            continue
        flow = flows.setdefault((run, flow_id), Flow(run, flow_id))
        setattr(flow, record["record"], record)
    out = sorted(flows.values(), key=lambda f: (f.ts, f.flow_id))
    if since is not None:
        out = [f for f in out if f.ts >= since]
    return Journal(out, bad[0], files)


def select(flows: list[Flow], failed: bool = False, slow: float | None = None) -> list[Flow]:
    out = flows
    if failed:
        out = [f for f in out if not f.ok]
    if slow is not None:
        out = [f for f in out if f.duration_s is not None and f.duration_s >= slow]
    return out


def find_flow(flows: list[Flow], ident: str) -> list[Flow]:
    """``ID`` (every run that has it, newest last) or ``RUN:ID`` (RUN may be a prefix)."""
    run, _, number = ident.rpartition(":")
    try:
        flow_id = int(number)
    except ValueError:
        raise ValueError(f"flow id must be a number or RUN:NUMBER, got {ident!r}") from None
    return [f for f in flows if f.flow_id == flow_id and (not run or f.proxy_run.startswith(run))]


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (p50 of [1,2,3,4] is 2)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def totals(flows: list[Flow]) -> dict[str, Any]:
    errors: dict[str, int] = {}
    tokens = {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0,
              "cache_creation_input_tokens": 0}
    cost = 0.0
    ttfts = []
    for flow in flows:
        if flow.error_class:
            errors[flow.error_class] = errors.get(flow.error_class, 0) + 1
        for name in tokens:
            value = flow.usage.get(name)
            if isinstance(value, (int, float)):
                tokens[name] += int(value)
        cost += flow.cost_usd or 0.0
        if flow.ttft_s is not None:
            ttfts.append(flow.ttft_s)
    return {
        "requests": len(flows),
        "ok": sum(f.ok for f in flows),
        "errors": dict(sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))),
        "tokens": tokens,
        "cost_usd": round(cost, 6),
        "ttft_p50_s": percentile(ttfts, 50),
        "ttft_p95_s": percentile(ttfts, 95),
    }
