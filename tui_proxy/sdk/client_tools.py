"""Client tools as an in-process MCP server whose calls park until the client answers.

Claude sees each client tool as ``mcp__client__<name>``. When it calls one, the handler
does not answer: it waits on a future keyed by the ``tool_use_id`` (the CLI sends it in
``_meta["claudecode/toolUseId"]``) while the proxy ends the HTTP response with
``stop_reason: "tool_use"``. The client's next request carries the ``tool_result``
blocks; ``resolve`` completes the futures and the same CLI turn continues.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import mcp.types as mcp_types
from claude_agent_sdk.types import McpSdkServerConfig
from mcp.server import Server

from tui_proxy.wire.tools import _schema, tool_signature

SERVER = "client"
PREFIX = f"mcp__{SERVER}__"
META_TOOL_USE_ID = "claudecode/toolUseId"


def model_name(client_name: str) -> str:
    return PREFIX + client_name


def client_name(model_facing: str) -> str:
    return model_facing[len(PREFIX):] if model_facing.startswith(PREFIX) else model_facing


def to_mcp_content(content: Any) -> list[dict[str, Any]]:
    """A tool_result's content (string or blocks) as MCP content items."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    items: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type")
        if kind == "text":
            items.append({"type": "text", "text": block.get("text", "")})
        elif kind == "image":
            source = block.get("source") or {}
            if source.get("type") == "base64":
                items.append({"type": "image", "data": source.get("data", ""),
                              "mimeType": source.get("media_type", "image/png")})
            else:
                items.append({"type": "text", "text": f"[image: {source.get('url', '?')}]"})
        elif kind == "tool_reference":
            name = str(block.get("tool_name", "?"))
            items.append({"type": "text", "text": f"Tool {name} is now available (call it as "
                                                  f"{model_name(name)})."})
        elif kind == "document":
            source = block.get("source") or {}
            if source.get("type") == "text":
                items.append({"type": "text", "text": str(source.get("data", ""))})
            elif source.get("type") == "base64":
                items.append({"type": "resource", "resource": {
                    "uri": f"document://{block.get('title') or 'attachment'}",
                    "mimeType": source.get("media_type", "application/octet-stream"),
                    "blob": source.get("data", "")}})
            else:
                items.append({"type": "text", "text": json.dumps(source)})
        else:
            items.append({"type": "text", "text": json.dumps(block, ensure_ascii=False)})
    return items


class ToolBridge:
    """The MCP server of one CLI process; tool calls park on futures by tool_use_id."""

    def __init__(self, tools: list[dict[str, Any]]) -> None:
        self.tools = {t["name"]: t for t in tools}
        self.signature = tool_signature(tools)
        self._futures: dict[str, asyncio.Future[mcp_types.CallToolResult]] = {}
        self._calls: dict[str, tuple[str, dict[str, Any]]] = {}  # id -> (name, input) seen
        self._claimed: set[str] = set()
        self.called: list[str] = []  # tool_use_ids whose handler is waiting, in call order
        wire = [mcp_types.Tool.model_validate({
            "name": name, "description": t.get("description") or name,
            "inputSchema": _schema(t)}) for name, t in self.tools.items()]

        async def on_list_tools(ctx: Any, params: Any) -> mcp_types.ListToolsResult:
            return mcp_types.ListToolsResult(tools=wire)

        async def on_call_tool(ctx: Any, params: mcp_types.CallToolRequestParams
                               ) -> mcp_types.CallToolResult:
            meta = params.meta or {}
            use_id = meta.get(META_TOOL_USE_ID) if isinstance(meta, dict) else None
            if not isinstance(use_id, str):
                use_id = self._match(params.name, params.arguments or {})
            return await self._park(use_id)

        self.server = Server(SERVER, version="1.0.0", on_list_tools=on_list_tools,
                             on_call_tool=on_call_tool)

    def config(self) -> McpSdkServerConfig:
        return McpSdkServerConfig(type="sdk", name=SERVER, instance=self.server)

    def saw_tool_use(self, tool_use_id: str, name: str, tool_input: dict[str, Any]) -> None:
        """Record a tool_use block from the stream (for CLIs that send no _meta id)."""
        self._calls[tool_use_id] = (client_name(name), tool_input)

    def _match(self, name: str, arguments: dict[str, Any]) -> str:
        for use_id, (seen_name, seen_input) in self._calls.items():
            if use_id not in self._claimed and seen_name == name and seen_input == arguments:
                self._claimed.add(use_id)
                return use_id
        return f"unmatched-{len(self._claimed)}-{name}"

    def _future(self, use_id: str) -> asyncio.Future[mcp_types.CallToolResult]:
        future = self._futures.get(use_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._futures[use_id] = future
        return future

    async def _park(self, use_id: str) -> mcp_types.CallToolResult:
        future = self._future(use_id)
        self.called.append(use_id)
        try:
            return await asyncio.shield(future)
        finally:
            if use_id in self.called:
                self.called.remove(use_id)

    def resolve(self, tool_use_id: str, content: Any, is_error: bool) -> None:
        """Answer a parked (or soon to be parked) call with the client's tool_result."""
        future = self._future(tool_use_id)
        if not future.done():
            future.set_result(mcp_types.CallToolResult.model_validate(
                {"content": to_mcp_content(content), "isError": bool(is_error)}))

    def fail_all(self, message: str) -> None:
        for future in self._futures.values():
            if not future.done():
                future.set_result(mcp_types.CallToolResult.model_validate(
                    {"content": [{"type": "text", "text": message}], "isError": True}))

