"""``init-config`` and ``config``: the commented settings file and the effective settings.

The file is generated from ``settings.FIELDS``, so every setting — with its help text,
environment variable and default — is listed, commented out; uncommenting a line sets it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tui_proxy.config import locations
from tui_proxy.config.settings import FIELD_BY_NAME, FIELDS, Settings, default_config_path

SECRET_KEYS = frozenset({"api_key"})
_DEFAULT_NOTES = {
    "cwd": "the directory the proxy is started in",
    "cli_path": "the SDK's lookup: bundled CLI, then PATH, then known locations",
    "journal_dir": "the platform's state directory, …/claude-proxy-tui/journal",
    "api_key": "none (no key required; loopback only)",
    "socket": "none (TCP only)",
}
# What an uncommented line of an unset setting would look like.
_EXAMPLES = {
    "cli_path": "/usr/local/bin/claude",
    "api_key": "choose-a-long-random-key",
    "journal_dir": "/var/tmp/claude-proxy-tui-journal",
    "socket": "/run/user/1000/claude-proxy-tui/proxy.sock",
    "model_aliases": {"fast": "claude-haiku-4-5", "big": "claude-opus-4-5"},
    "keymap": {"cancel-flow": "x", "quit": "q,ctrl+d"},
    "allowed_origins": ["http://localhost:5173"],
}


class ConfigExists(Exception):
    """The settings file is there and --force was not given."""


def toml_value(value: Any) -> str:
    """A TOML literal for the simple values settings hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"no TOML form for {value!r}")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def field_default(name: str) -> Any:
    return FIELD_BY_NAME[name].default  # declared once, in settings.py


def render_config() -> str:
    """The commented settings file: every setting, commented out, at its default."""
    lines = [
        "# claude-proxy-tui settings (TOML).",
        "# Precedence: defaults < this file < environment variables < command-line flags.",
        "# Every setting is listed at its default, commented out: uncomment a line to change it.",
        "# An unknown key or a bad value stops the proxy with an error naming the key and line.",
        "# `claude-proxy-tui config` shows the effective settings and where each came from.",
        "",
    ]
    for f in FIELDS:
        default = field_default(f.name)
        note = _DEFAULT_NOTES.get(f.name)
        if note is None:
            note = toml_value(default) if default not in (None, {}, ()) else "none"
        lines.append(f"# {f.name}: {f.help}")
        env = f"env {f.env}" if f.env else "no environment variable"
        lines.append(f"#   {env}; default: {note}")
        example = default if default not in (None, {}, ()) else _EXAMPLES.get(f.name)
        if example is None and f.name == "cwd":
            example = str(locations.home() / "projects")
        if example is None:
            example = ""
        lines.append(f"# {f.name} = {toml_value(example)}")
        lines.append("")
    return "\n".join(lines)


def write_config(path: str | os.PathLike[str] | None = None, force: bool = False) -> Path:
    """Write the commented file; refuse to overwrite an existing one unless ``force``."""
    target = Path(path).expanduser() if path else default_config_path()
    if target.exists() and not force:
        raise ConfigExists(str(target))
    # Folders it creates are 0700, the file 0600: it holds the key.
    locations.private_dirs(target.parent)
    tmp = target.with_name(target.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with open(fd, "w", encoding="utf-8") as f:
        f.write(render_config())
    os.replace(tmp, target)
    return target


def display_value(name: str, value: Any) -> str:
    if name in SECRET_KEYS:
        return "[set]" if value else "[unset]"
    if value is None:
        return "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "(none)"
    if isinstance(value, tuple):
        return ", ".join(value) or "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_source(source: str) -> str:
    """``file:PATH:LINE`` → ``PATH:LINE``, ``env:NAME`` → ``$NAME``, ``flag:--x`` → ``--x``."""
    if source.startswith("file:"):
        return source[5:]
    if source.startswith("env:"):
        return "$" + source[4:]
    if source.startswith("flag:"):
        return source[5:]
    return source


def effective_rows(settings: Settings) -> list[dict[str, str]]:
    return [{"key": f.name, "value": display_value(f.name, getattr(settings, f.name)),
             "source": describe_source(settings.sources.get(f.name, "default")),
             "env": f.env or ""} for f in FIELDS]


def effective_json(settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {"config_file": settings.config_file, "settings": {}}
    for f in FIELDS:
        value = getattr(settings, f.name)
        if f.name in SECRET_KEYS:
            value = "[set]" if value else "[unset]"
        elif isinstance(value, tuple):
            value = list(value)
        source = settings.sources.get(f.name, "default")
        out["settings"][f.name] = {"value": value, "source": source}
    return out


def print_effective(settings: Settings, config_path: Path, as_json: bool = False,
                    console: Any = None) -> None:
    if as_json:
        print(json.dumps(effective_json(settings), indent=2))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    state = ("" if config_path.exists()
             else "  (not found — `claude-proxy-tui init-config` creates it)")
    console.print(f"settings file: {config_path}{state}", highlight=False)
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("setting", style="bold")
    table.add_column("value", overflow="fold")
    table.add_column("from", style="dim", overflow="fold")
    for row in effective_rows(settings):
        table.add_row(row["key"], Text(row["value"]), Text(row["source"]))
    console.print(table)
