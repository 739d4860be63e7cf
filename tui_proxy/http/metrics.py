"""``GET /metrics``: the proxy's counters in Prometheus' text format, for people who run it
as a service beside Grafana.

One more subscriber of the engine's bus, of a special kind: it counts each event as it is
published (the subscription's ``accept`` hook) and keeps none, so it costs a few integer
additions per flow and can never fall behind or drop. Gauges (in flight, queued, parked, warm,
dropped bus events, journal write errors and dropped records) are read from the engine when scraped.
"""

from __future__ import annotations

import bisect
from collections import Counter
from typing import TYPE_CHECKING
from collections.abc import Callable

from tui_proxy.core.events import Event, FlowFailed, FlowFinished, RateLimitInfo

if TYPE_CHECKING:
    from tui_proxy.core.engine import Engine

TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str) -> list[str]:
        out, running = [], 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            out.append(f'{name}_bucket{{le="{le}"}} {running}')
        return out + [f"{name}_sum {self.total:.6f}", f"{name}_count {self.n}"]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


class Metrics:
    def __init__(self, engine: Engine, journal_errors: Callable[[], int] = lambda: 0) -> None:
        self.engine = engine
        self.journal_errors = journal_errors
        self.flows: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.tokens: Counter[str] = Counter()
        self.rate_limit: dict[str, float] = {}
        self.ttft = Histogram(TTFT_BUCKETS)
        self.duration = Histogram(DURATION_BUCKETS)
        self._sub = engine.bus.subscribe(maxlen=1, name="metrics", accept=self._count)

    def _count(self, event: Event) -> bool:
        if isinstance(event, FlowFinished):
            self.flows[event.state] += 1
            self.tokens["input"] += event.input_tokens or 0
            self.tokens["output"] += event.output_tokens or 0
            if event.ttft_s is not None:
                self.ttft.observe(event.ttft_s)
            self.duration.observe(event.duration_s)
        elif isinstance(event, FlowFailed):
            self.errors[event.error_class or event.error_type] += 1
        elif isinstance(event, RateLimitInfo) and event.utilization is not None:
            self.rate_limit[event.limit_type or "unknown"] = float(event.utilization)
        return False  # counted; nothing is queued

    def close(self) -> None:
        self.engine.bus.unsubscribe(self._sub)

    def journal_dropped(self) -> int:
        """Journal records never written (an unwritable journal's backlog over its bounds)."""
        from tui_proxy.journal.writer import loss_of
        return loss_of(self.engine).dropped

    def dropped(self) -> dict[str, int]:
        return {sub.name or "?": sub.dropped for sub in self.engine.bus.subscriptions}

    def render(self) -> str:
        engine = self.engine
        lines: list[str] = []

        def family(name: str, kind: str, text: str, samples: list[str]) -> None:
            lines.extend([f"# HELP {name} {text}", f"# TYPE {name} {kind}", *samples])

        family("claude_proxy_flows_total", "counter", "Flows ended, by terminal state.",
               [f'claude_proxy_flows_total{{state="{_label(k)}"}} {v}'
                for k, v in sorted(self.flows.items())])
        family("claude_proxy_errors_total", "counter", "Flows that failed, by error class.",
               [f'claude_proxy_errors_total{{class="{_label(k)}"}} {v}'
                for k, v in sorted(self.errors.items())])
        family("claude_proxy_tokens_total", "counter", "Tokens of ended flows.",
               [f'claude_proxy_tokens_total{{direction="{k}"}} {self.tokens[k]}'
                for k in ("input", "output")])
        family("claude_proxy_ttft_seconds", "histogram", "Time to first token.",
               self.ttft.lines("claude_proxy_ttft_seconds"))
        family("claude_proxy_duration_seconds", "histogram", "Flow duration.",
               self.duration.lines("claude_proxy_duration_seconds"))
        for name, text, value in (
                ("in_flight", "Flows running now.", engine.in_flight),
                ("queued", "Flows waiting for a slot.", engine.queued),
                ("parked", "Runs waiting for client tool results.", len(engine.parked)),
                ("warm", "Warm CLI processes (spare included).", len(engine.pool.entries()))):
            family(f"claude_proxy_{name}", "gauge", text, [f"claude_proxy_{name} {value}"])
        family("claude_proxy_rate_limit_utilization", "gauge",
               "Latest plan utilisation reported by the CLI, per window.",
               [f'claude_proxy_rate_limit_utilization{{window="{_label(k)}"}} {v:g}'
                for k, v in sorted(self.rate_limit.items())])
        family("claude_proxy_bus_dropped_events_total", "counter",
               "Events a slow subscriber lost (the console, the journal, the log).",
               [f'claude_proxy_bus_dropped_events_total{{subscriber="{_label(k)}"}} {v}'
                for k, v in sorted(self.dropped().items())])
        family("claude_proxy_journal_write_errors_total", "counter",
               "Journal lines that could not be written.",
               [f"claude_proxy_journal_write_errors_total {self.journal_errors()}"])
        from tui_proxy.journal.writer import loss_of
        loss = loss_of(engine)
        family("claude_proxy_journal_dropped_records_total", "counter",
               "Journal records dropped unwritten (the journal could not be written and its "
               "backlog was full).",
               [f"claude_proxy_journal_dropped_records_total {loss.dropped}"])
        family("claude_proxy_journal_backlog_records", "gauge",
               "Journal records waiting in memory to be written.",
               [f"claude_proxy_journal_backlog_records {loss.backlog}"])
        return "\n".join(lines) + "\n"
