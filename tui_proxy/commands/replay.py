"""``claude-proxy-tui replay FLOW_ID``: re-send a journalled request to the running proxy.

The body is sent exactly as journalled (secrets were redacted when it was written), to the
same path, with the proxy's ``api_key`` when one is set. Streamed replies print their text
as it arrives; the reply's request-id names the new flow in the console and the journal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, TextIO

from tui_proxy.journal.reader import Flow, find_flow, journal_dir, load_journal
from tui_proxy.config.settings import Settings, SettingsError, load_settings


class ReplayRefused(Exception):
    """The journal cannot reproduce this request (no body, truncated, unknown flow)."""


def replayable_body(flow: Flow) -> dict[str, Any]:
    start = flow.start
    if start is None:
        raise ReplayRefused(f"flow {flow.key} has no start record in the journal; nothing to send")
    if start.get("body_truncated"):
        raise ReplayRefused(f"flow {flow.key}: its request body was over 1 MiB and was not "
                            "journalled (body_truncated), so it cannot be replayed")
    body = start.get("body")
    if not isinstance(body, dict):
        raise ReplayRefused(f"flow {flow.key}: the journal holds no request body for it")
    return body


def proxy_url(settings: Settings, host: str | None = None, port: int | None = None) -> str:
    host = host or settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    port = port if port is not None else settings.port
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _headers(api_key: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json", "anthropic-version": "2023-06-01",
               "user-agent": "claude-proxy-tui-replay"}
    if api_key:
        headers["x-api-key"] = api_key
    return headers


async def replay(body: dict[str, Any], base_url: str, path: str = "/v1/messages",
                 api_key: str | None = None, out: TextIO | None = None,
                 err: TextIO | None = None) -> int:
    """Send ``body``; print the reply's text to ``out``. 0 on success, 1 on an API error."""
    import aiohttp

    out = out or sys.stdout
    err = err or sys.stderr
    if path not in ("/v1/messages", "/messages"):
        path = "/v1/messages"
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(base_url.rstrip("/") + path, json=body,
                         headers=_headers(api_key)) as resp,
        ):
            rid = resp.headers.get("request-id", "?")
            print(f"replay → {base_url}{path}  HTTP {resp.status}  request-id {rid}",
                  file=err)
            if resp.status >= 400:
                print(_error_text(await resp.text()), file=err)
                return 1
            if resp.content_type == "text/event-stream":
                return await _print_stream(resp, out, err)
            data = await resp.json()
            for block in data.get("content") or []:
                if block.get("type") == "text":
                    out.write(block.get("text", ""))
            out.write("\n")
            print(f"stop_reason {data.get('stop_reason')}  usage "
                  f"{json.dumps(data.get('usage'))}", file=err)
            return 0
    except aiohttp.ClientConnectorError as exc:
        print(f"claude-proxy-tui replay: no proxy at {base_url} ({exc.strerror or exc}); start "
              "it first, or pass --url / --host / --port", file=err)
        return 2


def _error_text(raw: str) -> str:
    try:
        error = json.loads(raw)["error"]
        return f"{error.get('type')}: {error.get('message')}"
    except (ValueError, KeyError, TypeError):
        return raw.strip()


async def _print_stream(resp: Any, out: TextIO, err: TextIO) -> int:
    event = ""
    status = 0
    stop = None
    async for raw in resp.content:
        line = raw.decode(errors="replace").rstrip("\r\n")
        if line.startswith("event:"):
            event = line[6:].strip()
            continue
        if not line.startswith("data:"):
            continue
        try:
            data = json.loads(line[5:])
        except ValueError:
            continue
        if event == "content_block_delta" and data.get("delta", {}).get("type") == "text_delta":
            out.write(data["delta"].get("text", ""))
            out.flush()
        elif event == "message_delta":
            stop = (data.get("delta") or {}).get("stop_reason")
        elif event == "error":
            out.write("\n")
            print(_error_text(json.dumps(data)), file=err)
            status = 1
    if status == 0:
        out.write("\n")
        print(f"stop_reason {stop}", file=err)
    return status


def main(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(config_file=args.config)
    except SettingsError as exc:
        print(f"claude-proxy-tui: {exc}", file=sys.stderr)
        return 2
    directory = journal_dir(settings, args.journal_dir)
    journal = load_journal(directory)
    try:
        matches = find_flow(journal.flows, args.flow)
    except ValueError as exc:
        print(f"claude-proxy-tui replay: {exc}", file=sys.stderr)
        return 2
    if not matches:
        print(f"claude-proxy-tui replay: no flow {args.flow} in the journal {directory}",
              file=sys.stderr)
        return 2
    flow = matches[-1]
    try:
        body = replayable_body(flow)
    except ReplayRefused as exc:
        print(f"claude-proxy-tui replay: {exc}", file=sys.stderr)
        return 2
    url = args.url or proxy_url(settings, args.host, args.port)
    print(f"replaying flow {flow.key} ({body.get('model')}, "
          f"{len(body.get('messages') or [])} messages"
          + (f", originally {flow.state}" if flow.end else "") + ")", file=sys.stderr)
    return asyncio.run(replay(body, url, (flow.start or {}).get("path") or "/v1/messages",
                              settings.api_key))
