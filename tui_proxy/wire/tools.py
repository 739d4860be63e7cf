"""Which of a request's client tools Claude is offered, and what it is told about each:
facts of the request alone, shared by the engine (does a parked run fit?) and the SDK
adapter (which tools its MCP server declares)."""

from __future__ import annotations

import json
from typing import Any


def referenced_tools(messages: list[dict[str, Any]]) -> set[str]:
    """Tool names that ``tool_reference`` blocks in tool results have loaded."""
    names: set[str] = set()
    for message in messages:
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            inner = block.get("content") if block.get("type") == "tool_result" else None
            for item in inner if isinstance(inner, list) else []:
                if isinstance(item, dict) and item.get("type") == "tool_reference":
                    names.add(str(item.get("tool_name")))
    return names


def offered_tools(request: Any) -> list[dict[str, Any]]:
    """The client tools Claude is offered: each declared tool, except ``defer_loading``
    ones that no ``tool_reference`` has loaded yet (as the API defers them)."""
    tools = getattr(request, "client_tools", None)
    if tools is None:
        tools = request.tools or []
    loaded = referenced_tools(request.messages)
    return [t for t in tools if not t.get("defer_loading") or t.get("name") in loaded]


def tool_signature(tools: list[dict[str, Any]]) -> dict[str, str]:
    """name -> what Claude is told about the tool; two runs with equal signatures offer the
    same tools."""
    return {t["name"]: json.dumps([t.get("description") or "", _schema(t)], sort_keys=True)
            for t in tools}


def _schema(tool: dict[str, Any]) -> dict[str, Any]:
    schema = tool.get("input_schema")
    if not isinstance(schema, dict) or not schema:
        return {"type": "object", "properties": {}}
    if "type" not in schema:
        return {"type": "object", **schema}
    return schema
