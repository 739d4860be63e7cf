"""``GET /v1/models``: Anthropic's list shape. Any model id is passed through to the SDK
unchanged; this list is what clients are offered, plus the user's aliases."""

from __future__ import annotations

from typing import Any

# (id, display name, created_at) — the Claude models the Claude Code CLI serves.
KNOWN_MODELS: tuple[tuple[str, str, str], ...] = (
    ("claude-opus-4-5", "Claude Opus 4.5", "2025-11-24T00:00:00Z"),
    ("claude-sonnet-4-5", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"),
    ("claude-opus-4-1", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ("claude-sonnet-4-0", "Claude Sonnet 4", "2025-05-22T00:00:00Z"),
    ("claude-opus-4-0", "Claude Opus 4", "2025-05-22T00:00:00Z"),
)


def _entry(model_id: str, name: str, created: str) -> dict[str, Any]:
    return {"type": "model", "id": model_id, "display_name": name, "created_at": created}


def list_models(aliases: dict[str, str]) -> list[dict[str, Any]]:
    entries = [_entry(*known) for known in KNOWN_MODELS]
    known_ids = {e["id"] for e in entries}
    for alias, target in sorted(aliases.items()):
        if alias not in known_ids:
            entries.append(_entry(alias, f"{alias} (alias of {target})", "2025-01-01T00:00:00Z"))
    return entries


def list_page(aliases: dict[str, str]) -> dict[str, Any]:
    data = list_models(aliases)
    return {"data": data, "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None}


def find_model(model_id: str, aliases: dict[str, str]) -> dict[str, Any] | None:
    for entry in list_models(aliases):
        if entry["id"] == model_id:
            return entry
    if model_id.startswith("claude-"):
        # Passed through as given: the CLI decides whether it exists.
        return _entry(model_id, model_id, "2025-01-01T00:00:00Z")
    return None


def resolve_model(model: str, aliases: dict[str, str]) -> str:
    """The model id the SDK is asked for: the alias target if the user defined one."""
    return aliases.get(model, model)
