"""Write tests/realclients/samples/*.json from recordings of the scenarios.

    unshare -rn sh -c 'ip link set lo up && for s in opencode claude_code anthropic_ts ai_sdk \
        anthropic_py; do REALCLIENTS_RECORD=/tmp/rec \
        python3 tests/realclients/scenarios.py $s; done'
    python3 tests/realclients/make_samples.py /tmp/rec

Each sample is one recorded request (method, path, headers without host/length, body) with
every string longer than 500 characters cut, temp paths and ids made stable, the key redacted.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any
from collections.abc import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import redact_body  # noqa: E402

SAMPLES = Path(__file__).resolve().parent / "samples"
DROP_HEADERS = {"host", "content-length", "connection", "accept-encoding"}


def stable(text: str) -> str:
    text = re.sub(r"/tmp/realclients-[a-z_]+-[A-Za-z0-9_]+", "/tmp/realclients-WORK", text)
    text = re.sub(r'(\\?"device_id\\?":\\?")[0-9a-f]{64}', r"\1<device id>", text)
    return text


def sample(record: dict[str, Any]) -> dict[str, Any]:
    headers = {k: v for k, v in record["headers"].items() if k not in DROP_HEADERS}
    out = {"method": record["method"], "path": record["path"], "headers": headers,
           "body": redact_body(record["body"])}
    return json.loads(stable(json.dumps(out)))


def first(records: list[dict], test: Callable[[dict], bool]) -> dict:
    for record in records:
        body = record.get("body") if isinstance(record.get("body"), dict) else {}
        if test(body):
            return record
    raise LookupError("no recorded request matches")


def last_user(body: dict) -> list[dict]:
    content = (body.get("messages") or [{}])[-1].get("content")
    return content if isinstance(content, list) else [{"type": "text", "text": content or ""}]


def has(body: dict, kind: str) -> bool:
    return any(b.get("type") == kind for b in last_user(body))


def text(body: dict, needle: str) -> bool:
    return any(needle in (b.get("text") or "") for b in last_user(body))


PICKS: dict[str, tuple[str, Callable[[dict], bool]]] = {
    "opencode-title": ("opencode", lambda b: not b.get("tools")),
    "opencode-main": ("opencode", lambda b: b.get("tools") and text(b, "Hello from OpenCode")),
    "opencode-tool-result": ("opencode", lambda b: has(b, "tool_result") and
                             not has(b, "text")),
    "opencode-after-rejection": ("opencode", lambda b: has(b, "tool_result") and
                                 text(b, "banana")),
    "claude-code-first": ("claude_code", lambda b: text(b, "Hello from Claude Code")),
    "claude-code-tool-search-continuation": ("claude_code", lambda b: has(b, "tool_result")),
    "anthropic-ts-tool-runner-thread-create": (
        "anthropic_ts", lambda b: (b.get("thread") or {}).get("type") == "create"),
    "anthropic-ts-tool-runner-thread-continue": (
        "anthropic_ts", lambda b: (b.get("thread") or {}).get("type") == "continue"),
    "anthropic-py-tool-runner-thread-continue": (
        "anthropic_py", lambda b: (b.get("thread") or {}).get("type") == "continue"),
    "ai-sdk-tool-loop-second-step": ("ai_sdk", lambda b: has(b, "tool_result")),
    "ai-sdk-structured-output": ("ai_sdk", lambda b: "output_config" in b),
}


def main() -> None:
    source = Path(sys.argv[1])
    SAMPLES.mkdir(exist_ok=True)
    for name, (scenario, test) in PICKS.items():
        records = json.loads((source / f"{scenario}.json").read_text())
        (SAMPLES / f"{name}.json").write_text(json.dumps(sample(first(records, test)),
                                                         indent=1, ensure_ascii=False) + "\n")
        print(name, (SAMPLES / f"{name}.json").stat().st_size, "bytes")


if __name__ == "__main__":
    main()
