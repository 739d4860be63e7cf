"""Copy and export a flow: its response text, its request as a curl command, the whole flow
as JSON. Request bodies are kept for the most recent flows only (by reference, as parsed),
and redacted as the journal redacts them."""

from __future__ import annotations

import json
import shlex
import time
from collections import OrderedDict
from typing import Any

from tui_proxy.core.describe import describe
from tui_proxy.core.events import TextDelta, ThinkingDelta
from tui_proxy.core.flow import Flow
from tui_proxy.core.redact import redact

KEEP_BODIES = 20  # request bodies held for copy as curl; older flows: use `replay`


class RecentBodies:
    """The request bodies of the last KEEP_BODIES flows (an engine body hook)."""

    def __init__(self, keep: int = KEEP_BODIES) -> None:
        self._bodies: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._keep = keep

    def __call__(self, flow: Flow, body: dict[str, Any]) -> None:
        self._bodies[flow.id] = body
        while len(self._bodies) > self._keep:
            self._bodies.popitem(last=False)

    def get(self, flow_id: int) -> dict[str, Any] | None:
        return self._bodies.get(flow_id)


def response_text(lines: list[Any]) -> str:
    return "\n".join(line.text for line in lines if getattr(line, "kind", "text") == "text")


def curl_command(base_url: str, flow: Flow, body: dict[str, Any], keyed: bool) -> str:
    """The request again, as a shell command (the key read from the environment)."""
    data = json.dumps(redact(body), ensure_ascii=False)
    parts = ["curl", "-sN", base_url.rstrip("/") + flow.path,
             "-H", "content-type: application/json", "-H", "anthropic-version: 2023-06-01"]
    command = " ".join(shlex.quote(p) for p in parts)
    if keyed:
        command += ' -H "x-api-key: $CLAUDE_PROXY_API_KEY"'
    return command + " --data-binary @- <<'JSON'\n" + data + "\nJSON"


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(epoch))


def flow_record(flow: Flow, lines: list[Any], body: dict[str, Any] | None) -> dict[str, Any]:
    """Everything the console knows of a flow, as plain JSON."""
    return {
        "id": flow.id, "request_id": flow.request_id, "method": flow.method, "path": flow.path,
        "client": flow.client, "model": flow.model, "mode": flow.mode, "stream": flow.stream,
        "state": flow.state.value, "started": _iso(flow.created),
        "elapsed_s": round(flow.elapsed_s, 3),
        "ttft_s": round(flow.ttft_s, 3) if flow.ttft_s is not None else None,
        "input_tokens": flow.input_tokens, "output_tokens": flow.output_tokens,
        "cost_usd": flow.cost_usd, "stop_reason": flow.stop_reason, "error": flow.error,
        "cancel_reason": flow.cancel_reason, "session_id": flow.session_id,
        "resumed": flow.resumed, "summary": flow.summary, "options": flow.options_summary,
        "waiting_on": flow.waiting_on,
        "timeline": [{"t": round(e.ts - flow.created, 3), "kind": e.kind,
                      "text": describe(e)} for e in flow.timeline
                     if not isinstance(e, (TextDelta, ThinkingDelta))],  # the text is below
        "stderr": list(flow.stderr),
        "response_text": response_text(lines),
        "request": redact(body) if body is not None else None,
    }
