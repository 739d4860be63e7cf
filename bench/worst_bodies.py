"""The event loop's longest stall while the proxy takes the worst bodies it can be sent.

Each kind of body is built at the size limit (``max_body_bytes``, 32 MiB by default) and
posted to ``/v1/messages`` from a client thread (its own connection, off the proxy's loop);
meanwhile a task on the proxy's loop sleeps 1 ms at a time and records the longest gap between
its wake-ups: what every other stream and ``/health`` would have waited. Most bodies carry no
``model``, so they are refused (400) after every check of the body has run, and no CLI starts;
the last two are valid and journalled (one refused after, one answered by the fake CLI).

    python bench/worst_bodies.py [--runs 3] [--size BYTES] [--kinds nest_escapes,many_ints]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FAKE = ROOT / "tests" / "fake_cli" / "fake_claude"
TMP = tempfile.TemporaryDirectory(prefix="bench-")  # removed at exit

from tui_proxy.sdk.runner import sdk_engine  # noqa: E402
from tui_proxy.http.server import ProxyServer  # noqa: E402
from tui_proxy.config.settings import Settings  # noqa: E402

HEAD = b'{"messages":[{"role":"user","content":"hi"}],"metadata":{"x":'
MODEL = b'{"model":"claude-sonnet-4-5",'


def _fill(size: int, head: bytes, unit: bytes, tail: bytes) -> bytes:
    return head + unit * max(0, (size - len(head) - len(tail)) // len(unit)) + tail


def bodies(size: int) -> dict[str, bytes]:
    """name → body of about ``size`` bytes."""
    return {
        # issue 13 item 2: invalid JSON, once quadratic (a regex over the raw bytes)
        "nest_escapes": _fill(size, b"[" * 65, b'\\"', b""),
        "nest_unterminated": _fill(size, b"[" * 65 + b'"', b'\\"', b""),
        "quotes_only": b'"' * size,
        "deep_invalid": b"[" * (size // 2) + b"]" * (size // 2),
        "depth_64_many": _fill(size, HEAD + b"[", b"[" * 63 + b"]" * 63 + b",", b"[]]}}"),
        "escapes_valid": _fill(size, HEAD + b'"', b'\\"', b'"}}'),
        "unicode_escapes": _fill(size, HEAD + b'"', b"\\ud83d\\ude00", b'"}}'),
        "lone_surrogates": _fill(size, HEAD + b'"', b"\\ud800", b'"}}'),
        "long_string": _fill(size, HEAD + b'"', b"x" * 64, b'"}}'),
        "many_empty_strings": _fill(size, HEAD + b"[", b'"",', b'""]}}'),
        "many_ints": _fill(size, HEAD + b"[", b"0,", b"0]}}"),
        "many_small_objects": _fill(size, HEAD + b"[", b"{},", b"{}]}}"),
        "many_keys": HEAD + b"{" + b",".join(
            b'"%07d":0' % i for i in range(max(1, (size - 80) // 12))) + b"}}}",
        "big_ints": _fill(size, HEAD + b"[", b"9" * 4300 + b",", b"0]}}"),
        "huge_int_last": _fill(size, HEAD + b"[", b"0,", b"9" * 5000 + b"]}}"),
        "invalid_at_end": _fill(size, HEAD + b"[", b"0,", b"0,x"),
        "whitespace": _fill(size, HEAD, b" " * 64, b"0}}"),
        "number_long": _fill(size, HEAD + b"0.", b"9" * 64, b"}}"),
        # valid bodies the proxy records (journal start record, redaction) before answering:
        # one refused after it is parsed (bad max_tokens), one answered (by the fake CLI)
        "refused_big_text": _fill(size, MODEL + b'"max_tokens":"x","messages":[{"role":"user",'
                                  b'"content":"', b"word " * 13, b'"}]}'),
        "accepted_big_text": _fill(size, MODEL + b'"max_tokens":16,"messages":[{"role":"user",'
                                   b'"content":"', b"word " * 13, b'"}]}'),
    }


def post(port: int, body: bytes, timeout: float) -> tuple[int | str, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/v1/messages", body=body,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    except OSError as exc:
        return type(exc).__name__, time.perf_counter() - started
    finally:
        conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=None,
                        help="body size in bytes (default: just under max_body_bytes)")
    parser.add_argument("--kinds", default="", help="comma-separated subset")
    parser.add_argument("--timeout", type=float, default=120.0, help="per request, s")
    args = parser.parse_args()
    settings = Settings(port=0, cwd=TMP.name, cli_path=str(FAKE), pool_size=0,
                        spare_process=False, journal_dir=str(Path(TMP.name) / "journal"))
    size = args.size or settings.max_body_bytes - 1024
    server = ProxyServer(sdk_engine(settings))
    await server.start()
    loop = asyncio.get_running_loop()
    worst = 0.0

    async def monitor() -> None:
        nonlocal worst
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            worst = max(worst, now - last)
            last = now

    watcher = asyncio.create_task(monitor())
    kinds = bodies(size)
    wanted = [k for k in args.kinds.split(",") if k] or list(kinds)
    print(f"bodies of {size / 2**20:.1f} MiB, {args.runs} runs each; event loop's longest stall")
    try:
        for name in wanted:
            body = kinds[name]
            stalls, statuses, totals = [], set(), []
            for _ in range(args.runs):
                await asyncio.sleep(0.05)
                worst = 0.0
                status, total = await loop.run_in_executor(None, post, server.port, body,
                                                           args.timeout)
                await asyncio.sleep(0.02)  # let the monitor see the end of a stall
                stalls.append(worst * 1000)
                statuses.add(status)
                totals.append(total)
            print(f"{name:20s} median {statistics.median(stalls):8.1f} ms  max "
                  f"{max(stalls):8.1f} ms  (answer {'/'.join(map(str, sorted(statuses, key=str)))}"
                  f" in {statistics.median(totals):6.2f} s)", flush=True)
    finally:
        watcher.cancel()
        await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
