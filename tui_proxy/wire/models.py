"""``GET /v1/models``: Anthropic's list shape. Any model id is passed through to the SDK
unchanged; this list is what clients are offered, plus the user's aliases."""

from __future__ import annotations

from typing import Any

# (id, display name, created_at): the models the bundled Claude Code CLI (2.1.330) names,
# newest families first. Dated ids carry their real release date; for the others the
# proxy does not know it and says 1970-01-01 rather than invent one.
_UNDATED = "1970-01-01T00:00:00Z"
KNOWN_MODELS: tuple[tuple[str, str, str], ...] = (
    ("claude-opus-5-5", "Claude Opus 5.5", _UNDATED),
    ("claude-sonnet-5-5", "Claude Sonnet 5.5", _UNDATED),
    ("claude-haiku-5-5", "Claude Haiku 5.5", _UNDATED),
    ("claude-fable-5-2", "Claude Fable 5.2", _UNDATED),
    ("claude-mythos-5-2", "Claude Mythos 5.2", _UNDATED),
    ("claude-opus-5", "Claude Opus 5", _UNDATED),
    ("claude-sonnet-5", "Claude Sonnet 5", _UNDATED),
    ("claude-opus-4-8", "Claude Opus 4.8", _UNDATED),
    ("claude-opus-4-7", "Claude Opus 4.7", _UNDATED),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6", _UNDATED),
    ("claude-opus-4-6", "Claude Opus 4.6", _UNDATED),
    ("claude-opus-4-5", "Claude Opus 4.5", "2025-11-01T00:00:00Z"),
    ("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
)


def _entry(model_id: str, name: str, created: str) -> dict[str, Any]:
    return {"type": "model", "id": model_id, "display_name": name, "created_at": created}


def list_models(aliases: dict[str, str]) -> list[dict[str, Any]]:
    entries = [_entry(*known) for known in KNOWN_MODELS]
    known_ids = {e["id"] for e in entries}
    for alias, target in sorted(aliases.items()):
        if alias not in known_ids:
            entries.append(_entry(alias, f"{alias} (alias of {target})", _UNDATED))
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
        return _entry(model_id, model_id, _UNDATED)
    return None


def resolve_model(model: str, aliases: dict[str, str]) -> str:
    """The model id the SDK is asked for: the alias target if the user defined one."""
    return aliases.get(model, model)
