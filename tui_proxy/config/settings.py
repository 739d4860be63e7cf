"""Settings: defaults < settings file < environment < flags, with the source of each value.

Every setting is declared once in ``FIELDS``; loading, validation, `config` printing and
reload diffs all read that table, so a new setting is one line here.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from tui_proxy.config import locations

PERMISSION_MODES = ("default", "acceptEdits", "plan", "bypassPermissions", "dontAsk", "auto")
MODES = ("auto", "chat", "agent", "passthrough")
LOG_LEVELS = ("debug", "info", "warning", "error")
UNSUPPORTED_POLICIES = ("announce", "reject")


class SettingsError(ValueError):
    """A bad setting: names the key and where it came from."""


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected a boolean, got {raw!r}")


def _parse_int(minimum: int, maximum: int | None = None) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError(f"expected an integer, got {raw!r}")
        try:
            value = int(str(raw).strip().replace("_", ""))
        except ValueError:
            raise ValueError(f"expected an integer, got {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise ValueError(f"must be {bound}, got {value}")
        return value

    return parse


def _parse_choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        value = str(raw).strip()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    parse.choices = choices  # type: ignore[attr-defined]  # a flag offers these
    return parse


def _parse_str(raw: Any) -> str:
    if not isinstance(raw, (str, int, float)):
        raise ValueError(f"expected a string, got {raw!r}")
    return str(raw)


def _parse_optional_str(raw: Any) -> str | None:
    value = _parse_str(raw).strip()
    return value or None


def _parse_list(raw: Any) -> tuple[str, ...]:
    """A TOML array of strings, or ``a,b,c`` in env."""
    if isinstance(raw, (list, tuple)):
        items = [str(x) for x in raw]
    elif isinstance(raw, str):
        items = raw.split(",")
    else:
        raise ValueError(f"expected a list of strings, got {raw!r}")
    return tuple(x.strip() for x in items if x.strip())


def _parse_keymap(raw: Any) -> dict[str, str]:
    """Console keys by binding id: ``{"cancel-flow": "x", "quit": "q,ctrl+d"}`` in TOML,
    ``cancel-flow=x,quit=ctrl+d`` in env (a key list is comma-separated in TOML only)."""
    try:
        return _parse_aliases(raw)
    except ValueError as exc:
        raise ValueError(str(exc).replace("alias=model", "binding-id=key")
                         .replace("alias and model", "binding id and key")) from None


def _parse_aliases(raw: Any) -> dict[str, str]:
    """``{"opus": "claude-opus-4-5"}`` in TOML, ``opus=claude-opus-4-5,sonnet=…`` in env."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(raw, Mapping):
        items = raw.items()
    else:
        pairs: list[tuple[str, str]] = []
        items = pairs
        for part in str(raw).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ValueError(f"expected alias=model pairs, got {part!r}")
            key, value = part.split("=", 1)
            pairs.append((key, value))
    aliases = {}
    for key, value in items:
        key, value = str(key).strip(), str(value).strip()
        if not key or not value:
            raise ValueError("alias and model must be non-empty")
        aliases[key] = value
    return aliases


@dataclass(frozen=True)
class Field:
    """One setting: its key (in the file, ``Settings`` and ``config``), environment variable,
    parser and help. ``flag=True`` also makes it a command-line flag of the run command (and of
    ``config``, ``doctor``, ``install-service``): ``--`` + the key with dashes, its choices
    those of a choice parser, a boolean a switch, ``metavar`` the placeholder in ``--help``.
    ``path=True``: a flag value made absolute where it is written for another working
    directory (the service unit). The default is the ``Settings`` field's."""
    name: str
    env: str | None
    parse: Callable[[Any], Any]
    help: str
    flag: bool = False
    metavar: str | None = None
    path: bool = False

    @property
    def flag_name(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def choices(self) -> tuple[str, ...] | None:
        return getattr(self.parse, "choices", None)

    @property
    def switch(self) -> bool:
        return self.parse is _parse_bool

    @property
    def default(self) -> Any:
        """The default, or None where it depends on the machine (cwd) or is unset."""
        spec = Settings.__dataclass_fields__[self.name]
        if spec.default is not dataclasses.MISSING:
            return spec.default
        if spec.default_factory is not dataclasses.MISSING and self.name != "cwd":
            return spec.default_factory()
        return None


FIELDS: tuple[Field, ...] = (
    Field("host", "CLAUDE_PROXY_HOST", _parse_str, "address to listen on", flag=True),
    Field("port", "CLAUDE_PROXY_PORT", _parse_int(0, 65535),
          "port to listen on; 0 picks a free one", flag=True),
    Field("cwd", "CLAUDE_PROXY_CWD", _parse_str, "working directory of Claude's runs",
          flag=True, path=True),
    Field("cli_path", "CLAUDE_PROXY_CLI_PATH", _parse_optional_str,
          "the claude executable the SDK drives (default: the SDK's own lookup)", flag=True),
    Field("timeout_ms", "CLAUDE_PROXY_TIMEOUT_MS", _parse_int(1),
          "total time limit of one request"),
    Field("inactivity_ms", "CLAUDE_PROXY_INACTIVITY_MS", _parse_int(1),
          "limit on time without any SDK message"),
    Field("permission_mode", "CLAUDE_PROXY_PERMISSION_MODE", _parse_choice(PERMISSION_MODES),
          "permission mode of agent runs", flag=True),
    Field("mode", "CLAUDE_PROXY_MODE", _parse_choice(MODES),
          "auto (default): passthrough for requests with client tools, else chat; "
          "passthrough: the same; chat: client tools ignored; agent: Claude Code's own tools "
          "in the cwd", flag=True),
    Field("debug", "OPENCODE_CLAUDE_PROVIDER_DEBUG", _parse_bool,
          "verbose logging, per-token lines in headless mode", flag=True),
    Field("max_concurrent", "CLAUDE_PROXY_MAX_CONCURRENT", _parse_int(1, 256),
          "concurrent SDK runs; more requests queue"),
    Field("max_queue", "CLAUDE_PROXY_MAX_QUEUE", _parse_int(0, 100_000),
          "queued requests beyond which the proxy answers 529"),
    Field("model_aliases", "CLAUDE_PROXY_MODEL_ALIASES", _parse_aliases,
          "model alias map, e.g. opus=claude-opus-4-5"),
    Field("max_body_bytes", "CLAUDE_PROXY_MAX_BODY_BYTES", _parse_int(1024),
          "largest accepted request body"),
    Field("keymap", "CLAUDE_PROXY_KEYMAP", _parse_keymap,
          "console keys by binding id (the ids ? help lists), e.g. cancel-flow=x"),
    Field("ping_interval_s", "CLAUDE_PROXY_PING_INTERVAL_S", _parse_int(1, 3600),
          "seconds of silence before an SSE ping"),
    Field("parked_timeout_ms", "CLAUDE_PROXY_PARKED_TIMEOUT_MS", _parse_int(1000),
          "how long a client tool call may stay parked waiting for its result"),
    Field("max_parked", "CLAUDE_PROXY_MAX_PARKED", _parse_int(1, 1024),
          "most parked runs (live CLIs waiting for client tool results); beyond, the oldest "
          "is released"),
    Field("pool_size", "CLAUDE_PROXY_POOL_SIZE", _parse_int(0, 64),
          "warm CLI processes kept between turns (0: none)"),
    Field("pool_idle_s", "CLAUDE_PROXY_POOL_IDLE_S", _parse_int(1),
          "seconds a warm process may idle before it is ended"),
    Field("spare_process", "CLAUDE_PROXY_SPARE_PROCESS", _parse_bool,
          "keep one pre-started process for the next new conversation"),
    Field("seed_history", "CLAUDE_PROXY_SEED_HISTORY", _parse_bool,
          "give a fresh CLI a client's earlier turns as a resumable transcript (exact history)"),
    Field("api_key", "CLAUDE_PROXY_API_KEY", _parse_optional_str,
          "key clients must send (x-api-key or Bearer); required to bind beyond loopback"),
    Field("socket", "CLAUDE_PROXY_SOCKET", _parse_optional_str,
          "also listen on this Unix socket, mode 0600: only your user can connect "
          "(curl --unix-socket PATH http://localhost/...)", flag=True, metavar="PATH", path=True),
    Field("allow_other_users", "CLAUDE_PROXY_ALLOW_OTHER_USERS", _parse_bool,
          "let other local users' loopback connections in (default: refused with 403 "
          "where the owner can be told, Linux)"),
    Field("allowed_origins", "CLAUDE_PROXY_ALLOWED_ORIGINS", _parse_list,
          "browser Origins allowed to call the proxy (default: none)"),
    Field("max_messages", "CLAUDE_PROXY_MAX_MESSAGES", _parse_int(1),
          "most messages accepted in one request"),
    Field("upload_timeout_s", "CLAUDE_PROXY_UPLOAD_TIMEOUT_S", _parse_int(1, 3600),
          "seconds a client may take to send its request body"),
    Field("header_timeout_s", "CLAUDE_PROXY_HEADER_TIMEOUT_S", _parse_int(1, 3600),
          "seconds a connection may take to send a request's head (idle ones close too)"),
    Field("drain_s", "CLAUDE_PROXY_DRAIN_S", _parse_int(0, 3600),
          "on shutdown, seconds in-flight flows may finish before they are cancelled"),
    Field("journal_dir", "CLAUDE_PROXY_JOURNAL_DIR", _parse_optional_str,
          "folder of the JSONL journal (default: the platform's state directory)"),
    Field("journal_max_mb", "CLAUDE_PROXY_JOURNAL_MAX_MB", _parse_int(0),
          "size cap of the journal in MiB before the oldest files go (0: journal off)"),
    Field("log_level", "CLAUDE_PROXY_LOG_LEVEL", _parse_choice(LOG_LEVELS),
          "level of the proxy's own log lines"),
    Field("unsupported_params", "CLAUDE_PROXY_UNSUPPORTED_PARAMS",
          _parse_choice(UNSUPPORTED_POLICIES),
          "request fields the proxy cannot honour: announce (accept, name them in the "
          "x-claude-proxy-ignored header) or reject (400 naming them)"),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
FLAG_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.flag)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 3456
    cwd: str = field(default_factory=os.getcwd)
    cli_path: str | None = None
    timeout_ms: int = 3_600_000
    inactivity_ms: int = 900_000
    permission_mode: str = "bypassPermissions"
    mode: str = "auto"
    debug: bool = False
    max_concurrent: int = 8
    max_queue: int = 64
    model_aliases: dict[str, str] = field(default_factory=dict)
    max_body_bytes: int = 32 * 1024 * 1024
    keymap: dict[str, str] = field(default_factory=dict)
    ping_interval_s: int = 15
    parked_timeout_ms: int = 1_800_000
    max_parked: int = 8
    pool_size: int = 4
    pool_idle_s: int = 600
    spare_process: bool = True
    seed_history: bool = True
    api_key: str | None = field(default=None, repr=False)
    socket: str | None = None
    allow_other_users: bool = False
    allowed_origins: tuple[str, ...] = ()
    max_messages: int = 10_000
    upload_timeout_s: int = 60
    header_timeout_s: int = 30
    drain_s: int = 10
    journal_dir: str | None = None
    journal_max_mb: int = 256
    log_level: str = "info"
    unsupported_params: str = "announce"
    # Where each value came from ("default", "file:PATH:LINE", "env:NAME", "flag:--x").
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    config_file: str | None = field(default=None, compare=False)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in FIELDS}


def default_config_path() -> Path:
    return locations.config_file()


def _line_of(text: str, key: str, start: int = 0) -> int | None:
    """Line of ``key = …``, ``key.sub = …`` or a ``[key]`` table header."""
    k = re.escape(key)
    match = re.compile(rf"^[ \t]*(?:{k}[ \t]*[=.]|\[[ \t]*{k}[ \t]*[\].])",
                       re.MULTILINE).search(text, start)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _sub_line(text: str, key: str, sub: str) -> int | None:
    """Line of ``sub = …`` inside the ``[key]`` table (or ``key.sub = …``)."""
    header = re.search(rf"^[ \t]*\[[ \t]*{re.escape(key)}[ \t]*\]", text, re.MULTILINE)
    if header:
        line = _line_of(text, sub, header.end())
        if line:
            return line
    return _line_of(text, key)


TABLES = frozenset({"model_aliases", "keymap"})


def _check_table(path: Path, text: str, key: str, value: Any) -> None:
    """A table setting (model_aliases, keymap) holds strings only; name the entry's own line.
    An entry named like a setting is that setting written below the table's header."""
    for sub, item in value.items():
        if isinstance(item, str) and sub not in FIELD_BY_NAME:
            continue
        line = _sub_line(text, key, sub)
        where = f"file:{path}:{line}" if line else f"file:{path}"
        if sub in FIELD_BY_NAME:
            header = re.search(rf"^[ \t]*\[[ \t]*{re.escape(key)}[ \t]*\]", text, re.MULTILINE)
            fix = (f"it is written below the [{key}] header, so it belongs to that table; move "
                   f"it above [{key}]" if header else "set it at the top level")
            what = "a model alias" if key == "model_aliases" else "a binding id"
            raise SettingsError(f"{where}: {key}.{sub}: {sub!r} is a setting, not {what}: "
                                f"{fix}")
        raise SettingsError(f"{where}: {key}.{sub}: expected a string, got {item!r}")


def _read_file(path: Path) -> dict[str, tuple[Any, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    out: dict[str, tuple[Any, str]] = {}
    for key, value in data.items():
        line = _line_of(text, key)
        where = f"file:{path}:{line}" if line else f"file:{path}"
        if key not in FIELD_BY_NAME:
            raise SettingsError(f"{where}: unknown setting {key!r}")
        if isinstance(value, dict) and key in TABLES:
            _check_table(path, text, key, value)
        out[key] = (value, where)
    return out


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> Settings:
    """Resolve settings. ``flags`` holds only the flags the user gave (None = not given)."""
    env = os.environ if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    layers: dict[str, tuple[Any, str]] = {}

    path = Path(config_file) if config_file else default_config_path()
    explicit = config_file is not None
    if explicit or path.exists():
        layers.update(_read_file(path))
    for f in FIELDS:
        if f.env and f.env in env and env[f.env] != "":
            layers[f.name] = (env[f.env], f"env:{f.env}")
    for name, value in flags.items():
        if name not in FIELD_BY_NAME:
            raise SettingsError(f"unknown flag setting {name!r}")
        layers[name] = (value, f"flag:{FIELD_BY_NAME[name].flag_name}")

    values: dict[str, Any] = {}
    sources: dict[str, str] = {f.name: "default" for f in FIELDS}
    for name, (raw, where) in layers.items():
        try:
            values[name] = FIELD_BY_NAME[name].parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{where}: {name}: {exc}") from None
        sources[name] = where
    settings = Settings(**values, sources=sources, config_file=str(path) if path.exists() else None)
    cwd = Path(settings.cwd).expanduser()
    if not cwd.is_dir():
        raise SettingsError(f"{sources['cwd']}: cwd: directory does not exist: {cwd}")
    return settings.replace(cwd=str(cwd.resolve()))


def changed_keys(old: Settings, new: Settings) -> list[str]:
    return [f.name for f in FIELDS if getattr(old, f.name) != getattr(new, f.name)]
