"""Issue 13 item 6: what an unwritable journal costs in memory.

An in-process proxy on the fake CLI with a journal folder that cannot be created, then
``--requests`` requests of ``--kib`` KiB each (official client). Prints the proxy's RSS growth,
the backlog the journal holds and what it dropped.

    python3 bench/journal_unwritable.py [--requests 150] [--kib 200]
"""

import argparse
import asyncio
import gc
import sys
import tempfile
from pathlib import Path

import anthropic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tui_proxy.core.bus import EventBus  # noqa: E402
from tui_proxy.sdk.runner import sdk_engine  # noqa: E402
from tui_proxy.http.server import ProxyServer  # noqa: E402
from tui_proxy.config.settings import Settings  # noqa: E402

FAKE = ROOT / "tests" / "fake_cli" / "fake_claude"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main(requests: int, kib: int, writable: bool = False) -> None:
    tmp = Path(tempfile.mkdtemp())
    (tmp / "blocker").write_text("not a folder")
    settings = Settings(host="127.0.0.1", port=0, cwd=str(tmp), cli_path=str(FAKE),
                        journal_dir=str(tmp / ("ok" if writable else "blocker") / "journal"),
                        spare_process=False)
    engine = sdk_engine(settings, EventBus())
    server = ProxyServer(engine)
    await server.start()
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key="x", max_retries=0)
    text = "x" * (kib * 1024)
    await client.messages.create(model="claude-sonnet-5-5", max_tokens=20,
                                 messages=[{"role": "user", "content": "warm up"}])
    await asyncio.sleep(1.5)
    gc.collect()
    before = rss_mb()
    for i in range(requests):
        await client.messages.create(model="claude-sonnet-5-5", max_tokens=20,
                                     messages=[{"role": "user", "content": f"{text} {i}"}])
    await asyncio.sleep(2.5)
    gc.collect()
    after = rss_mb()
    journal = server.journal
    backlog = len(journal._lines)
    backlog_mb = sum(len(line) for line, _ in journal._lines) / 1024 / 1024
    loss = getattr(journal, "loss", None)
    print(f"{requests} requests x {kib} KiB, journal {'writable' if writable else 'unwritable'}")
    print(f"proxy RSS {before:.0f} MB before, {after:.0f} MB after ({after - before:+.0f} MB)")
    print(f"journal backlog {backlog} records, {backlog_mb:.1f} MiB; write errors "
          f"{journal.errors}; dropped {loss.dropped if loss else 'not counted'}")
    await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--kib", type=int, default=200)
    parser.add_argument("--writable", action="store_true",
                        help="the baseline: a journal that works")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.kib, args.writable))
