"""Added latency of the proxy to the first token, against a direct SDK call.

Both paths spawn the same fake CLI (tests/fake_cli/fake_claude) with the same SDK options;
the proxy path adds HTTP, validation, the engine and SSE re-enveloping. Runs alternate so
machine noise hits both alike. Prints medians in ms and the ratio.

    python bench/latency.py [--runs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anthropic
from claude_agent_sdk import ClaudeSDKClient, StreamEvent

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FAKE = ROOT / "tests" / "fake_cli" / "fake_claude"
TMP = tempfile.TemporaryDirectory(prefix="bench-")  # removed at exit

from tui_proxy.sdk.runner import sdk_engine  # noqa: E402
from tui_proxy.sdk.options import build_options  # noqa: E402
from tui_proxy.sdk.transport import FastCloseTransport  # noqa: E402
from tui_proxy.http.server import ProxyServer  # noqa: E402
from tui_proxy.config.settings import Settings  # noqa: E402
from tui_proxy.wire.request import parse_messages_request  # noqa: E402

PROMPT = "benchmark the first token please"


async def direct_ttft(settings: Settings) -> float:
    request = parse_messages_request({"model": "claude-sonnet-5-5", "stream": True,
                                      "messages": [{"role": "user", "content": PROMPT}]})
    built = build_options(settings, request, mode="chat", cli_path=str(FAKE),
                          stderr=lambda line: None)
    started = time.perf_counter()
    transport = FastCloseTransport(prompt=_empty(), options=built.options)
    client = ClaudeSDKClient(built.options, transport=transport)
    await client.connect()
    await client.query(_frame())
    ttft = None
    async for message in client.receive_response():
        if ttft is None and isinstance(message, StreamEvent) and \
                message.event.get("type") == "content_block_delta":
            ttft = time.perf_counter() - started
    await client.disconnect()
    return ttft


async def proxy_ttft(client: anthropic.AsyncAnthropic) -> float:
    started = time.perf_counter()
    async with client.messages.stream(model="claude-sonnet-5-5", max_tokens=50,
                                      messages=[{"role": "user", "content": PROMPT}]) as stream:
        async for event in stream:
            if event.type == "content_block_delta":
                ttft = time.perf_counter() - started
                break
        async for _ in stream:
            pass
    return ttft


async def _empty():
    return
    yield {}


async def _frame():
    yield {"type": "user", "message": {"role": "user", "content": [{"type": "text",
                                                                    "text": PROMPT}]},
           "parent_tool_use_id": None}


async def main(runs: int) -> None:
    cwd = TMP.name
    # Cold on both sides: no warm pool, no spare (bench/warm_start.py measures those).
    settings = Settings(port=0, cwd=cwd, cli_path=str(FAKE), pool_size=0, spare_process=False,
                        journal_dir=str(Path(cwd) / "journal"))
    engine = sdk_engine(settings)
    server = ProxyServer(engine)
    await server.start()
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key="x", max_retries=0)
    direct, proxied = [], []
    try:
        for _ in range(3):  # warm imports and caches on both paths
            await direct_ttft(settings)
            await proxy_ttft(client)
        for _ in range(runs):
            direct.append(await direct_ttft(settings))
            proxied.append(await proxy_ttft(client))
    finally:
        await server.stop()
    d, p = statistics.median(direct), statistics.median(proxied)
    print(f"runs: {runs} each, fake CLI {FAKE.relative_to(ROOT)}")
    print(f"direct SDK  time to first token: median {d * 1000:7.1f} ms "
          f"(p90 {statistics.quantiles(direct, n=10)[-1] * 1000:.1f})")
    print(f"via proxy   time to first token: median {p * 1000:7.1f} ms "
          f"(p90 {statistics.quantiles(proxied, n=10)[-1] * 1000:.1f})")
    print(f"added by the proxy: {(p - d) * 1000:.1f} ms, ratio {p / d:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    asyncio.run(main(parser.parse_args().runs))
