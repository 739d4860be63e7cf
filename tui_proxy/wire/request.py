"""Parse and validate a Messages API request body. Every failure names the field."""

from __future__ import annotations

import codecs
import json
import json.decoder
import json.scanner
import re
import sys
from dataclasses import dataclass, field
from typing import Any, cast
from collections.abc import Callable, Mapping

from tui_proxy.wire import fields as F
from tui_proxy.wire.errors import invalid_request

BLOCK_TYPES = frozenset({
    "text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking",
    "server_tool_use", "web_search_tool_result", "search_result", "container_upload",
    "tool_reference",  # a client's tool search result: loads a deferred tool by name
})
EFFORTS = ("low", "medium", "high", "xhigh", "max")
THINKING_DISPLAYS = ("summarized", "omitted")  # what the SDK's --thinking-display takes
MAX_MODEL_CHARS = 256  # model ids are short; a long one would fail the CLI's spawn (argv)


def _argv_safe(text: str, where: str) -> None:
    """Text that reaches the CLI's command line (model, system prompt, tool names, domains):
    argv can carry neither NUL nor a lone surrogate (not UTF-8), so either is a 400 here rather
    than a failed spawn."""
    if "\x00" in text:
        raise invalid_request(f"{where}: must not contain NUL (\\u0000) characters")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise invalid_request(f"{where}: must not contain lone surrogates "
                                  "(\\ud800-\\udfff not in a pair)") from None


@dataclass
class MessagesRequest:
    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    system: str | list[dict[str, Any]] | None = None
    max_tokens: int | None = None
    tools: list[dict[str, Any]] | None = None
    thinking: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    # What the proxy cannot honour (see wire/fields.py): names for the
    # x-claude-proxy-ignored header and the flow's Note.
    ignored: list[str] = field(default_factory=list)
    # -- tools, split by who runs them ---------------------------------------------------
    # client_tools: the custom tools the client runs (register these, and only these, as
    #   client tools); server_tools: the Anthropic server tool definitions the proxy
    #   fulfils on its side through the CLI's built-ins (web_search, web_fetch);
    #   cli_tools: those built-ins' names (``--tools``), cli_allow / cli_deny their
    #   permission rules (``--allowedTools`` / ``--disallowedTools``).
    client_tools: list[dict[str, Any]] = field(default_factory=list)
    server_tools: list[dict[str, Any]] = field(default_factory=list)
    cli_tools: list[str] = field(default_factory=list)
    cli_allow: list[str] = field(default_factory=list)
    cli_deny: list[str] = field(default_factory=list)
    # -- honoured through the SDK's options (fixed at spawn: part of the pool key) -----
    effort: str | None = None
    output_format: dict[str, Any] | None = None  # {"type": "json_schema", "schema": {...}}
    task_budget: int | None = None
    betas: list[str] = field(default_factory=list)
    # -- emulated on the proxy's side (wire/stops.py) ----------------------------------
    stop_sequences: list[str] = field(default_factory=list)
    tool_choice: dict[str, Any] | None = None  # None = auto with parallel calls

    @property
    def spawn_options(self) -> dict[str, Any]:
        """What this request fixes at the CLI's spawn beyond system prompt, tools, thinking:
        a process started with other values cannot serve it."""
        return {"effort": self.effort, "output_format": self.output_format,
                "task_budget": self.task_budget, "betas": self.betas,
                "cli_tools": [self.cli_tools, self.cli_allow, self.cli_deny],
                "tool_choice": self.tool_choice}

    @property
    def wants_thinking(self) -> bool:
        return bool(self.thinking) and (self.thinking or {}).get("type") in ("enabled", "adaptive")

    @property
    def system_text(self) -> str:
        if self.system is None:
            return ""
        if isinstance(self.system, str):
            return self.system
        return "\n\n".join(block.get("text", "") for block in self.system)

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for message in self.messages:
            content = message["content"]
            kinds = ["text"] if isinstance(content, str) else [b["type"] for b in content]
            for kind in kinds:
                counts[kind] = counts.get(kind, 0) + 1
        return {
            "model": self.model,
            "messages": len(self.messages),
            "blocks": counts,
            "system_chars": len(self.system_text),
            "tools": [t.get("name", "?") for t in self.tools or []],
            "stream": self.stream,
            "max_tokens": self.max_tokens,
            "thinking": (self.thinking or {}).get("type"),
            "ignored": list(self.ignored),
            **({"server_tools": [t.get("type") for t in self.server_tools]}
               if self.server_tools else {}),
            **({"emulated": emulated} if (emulated := self._emulated()) else {}),
        }

    def _emulated(self) -> list[str]:
        out = []
        if self.stop_sequences:
            out.append("stop_sequences")
        if self.tool_choice:
            out.append(f"tool_choice={self.tool_choice.get('type')}")
        if self.output_format:
            out.append("output_format")
        return out


# The pure-Python scanner reads a body in bounded pieces, so that no single C call (a regex,
# a string decode) holds the GIL for long: a run of whitespace, a string's characters and a
# number are each matched this many characters at a time at most.
WINDOW = 1 << 16
NUMBER_CHARS = 1 << 20  # a longer number is refused (no body small enough for C can hold one)
# json.decoder's private scanner parts: real at run time, absent from typeshed.
_WS: re.Pattern[str] = json.decoder.WHITESPACE  # type: ignore[attr-defined]
# One string's contents, token by token: plain characters, a simple escape, a \\uXXXX escape;
# a high surrogate escape only when what follows is in sight and is not its low half (so a
# pair is never cut between two pieces), or the pair as one token.
_STRING_RUN = re.compile(
    r'(?:[^"\\\x00-\x1f]++|\\["\\/bfnrt]'
    r'|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}'
    r'|\\u[dD][89abAB][0-9a-fA-F]{2}'
    r'(?=[^\\]|\\[^u]|\\u(?:[0-9a-cA-Ce-fE-F][0-9a-fA-F]|[dD][0-9a-bA-B]|[^0-9a-fA-F]))'
    r'|\\u(?![dD][89abAB])[0-9a-fA-F]{4})*+')
_c_scanstring: Callable[[str, int, bool], tuple[str, int]] = (
    json.decoder.c_scanstring or json.decoder.py_scanstring)  # type: ignore[attr-defined]


class _At:
    __slots__ = ("_end",)

    def __init__(self, end: int) -> None:
        self._end = end

    def end(self) -> int:
        return self._end


def _skip_ws(s: str, end: int) -> _At:
    """``WHITESPACE.match(s, end)``, one window at a time."""
    while True:
        stop = end + WINDOW
        run = _WS.match(s, end, stop)
        assert run is not None  # the pattern matches the empty string
        end = run.end()
        if end < stop:
            return _At(end)


def _scanstring(s: str, end: int, strict: bool = True) -> tuple[str, int]:
    """``json.decoder.scanstring`` (``end``: just past the opening quote), decoding the string
    in pieces of at most ``WINDOW`` characters: the same value, the same errors."""
    if not strict:
        return _c_scanstring(s, end, strict)
    begin, pos, n = end - 1, end, len(s)
    pieces: list[str] = []
    while True:
        run = _STRING_RUN.match(s, pos, min(n, pos + WINDOW))
        assert run is not None  # the pattern matches the empty string
        cut = run.end()
        if cut > pos:
            pieces.append(_c_scanstring(s[pos:cut] + '"', 0, True)[0])
        if cut < n and s[cut] == '"':
            return "".join(pieces), cut + 1
        if cut == pos:  # nothing valid here: the decoder's own error, a few characters on
            if pos >= n:
                raise json.JSONDecodeError("Unterminated string starting at", s, begin)
            try:
                _c_scanstring(s[pos:pos + 16], 0, True)
            except json.JSONDecodeError as exc:
                if exc.msg.startswith("Unterminated string"):
                    raise json.JSONDecodeError("Unterminated string starting at", s,
                                               begin) from None
                raise json.JSONDecodeError(exc.msg, s, pos + exc.pos) from None
            raise json.JSONDecodeError("Invalid string", s, pos)
        pos = cut


def _parse_object(s_and_end: tuple[str, int], strict: bool, scan_once: Any, object_hook: Any,
                  object_pairs_hook: Any, memo: dict[str, str]) -> tuple[Any, int]:
    """``json.decoder.JSONObject`` with keys read by ``_scanstring`` and bounded whitespace."""
    s, end = s_and_end
    pairs: list[tuple[str, Any]] = []
    nextchar = s[end:end + 1]
    if nextchar != '"':
        if nextchar in " \t\n\r":
            end = _skip_ws(s, end).end()
            nextchar = s[end:end + 1]
        if nextchar == "}":
            return (object_pairs_hook(pairs) if object_pairs_hook is not None
                    else object_hook({}) if object_hook is not None else {}), end + 1
        if nextchar != '"':
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", s, end)
    end += 1
    while True:
        key, end = _scanstring(s, end, strict)
        key = memo.setdefault(key, key)
        if s[end:end + 1] != ":":
            end = _skip_ws(s, end).end()
            if s[end:end + 1] != ":":
                raise json.JSONDecodeError("Expecting ':' delimiter", s, end)
        end += 1
        if s[end:end + 1] in " \t\n\r":
            end = _skip_ws(s, end).end()
        try:
            value, end = scan_once(s, end)
        except StopIteration as err:
            raise json.JSONDecodeError("Expecting value", s, err.value) from None
        pairs.append((key, value))
        nextchar = s[end:end + 1]
        if nextchar in " \t\n\r":
            end = _skip_ws(s, end + 1).end()
            nextchar = s[end:end + 1]
        end += 1
        if nextchar == "}":
            break
        if nextchar != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", s, end - 1)
        end = _skip_ws(s, end).end()
        nextchar = s[end:end + 1]
        end += 1
        if nextchar != '"':
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", s, end - 1)
    if object_pairs_hook is not None:
        return object_pairs_hook(pairs), end
    result = dict(pairs)
    return (object_hook(result) if object_hook is not None else result), end


class _Decoder(json.JSONDecoder):
    """Strict JSON (``NaN`` / ``Infinity`` are refused, as by the API); ``python_scanner``:
    the pure-Python scanner, which yields the GIL between values (for bodies decoded in a
    thread), instead of the C one, which holds it for the whole body; it reads strings,
    whitespace and numbers in bounded pieces (``WINDOW``), so no one C call is long."""

    def __init__(self, python_scanner: bool = False, max_values: int | None = None,
                 parse_int: Any = None, **kwargs: Any) -> None:
        super().__init__(parse_constant=_no_constant, parse_int=parse_int, **kwargs)
        self.python_scanner = python_scanner
        if python_scanner:
            self.parse_string = _scanstring
            self.scan_once = _counting_scanner(self, max_values)

    def decode(self, s: str, _w: Any = _WS.match) -> Any:
        return super().decode(s, _skip_ws if self.python_scanner else _w)


class TooManyValues(Exception):
    """The Python scanner met more values than it may build."""


def _counting_scanner(context: json.JSONDecoder, limit: int | None) -> Any:
    """``json.scanner.py_make_scanner`` that counts the values it builds and stops past
    ``limit``: a body of millions of values costs no more than ``limit`` of them."""
    # The decoder's private parse_* callables (set in JSONDecoder.__init__, not in typeshed).
    private: Any = context
    parse_array, parse_string, strict = private.parse_array, private.parse_string, \
        context.strict
    parse_float, parse_int = context.parse_float, context.parse_int
    parse_constant, memo = context.parse_constant, private.memo
    object_hook, object_pairs_hook = context.object_hook, context.object_pairs_hook
    match_number = json.scanner.NUMBER_RE.match
    count = 0

    def _scan_once(string: str, idx: int) -> Any:
        nonlocal count
        count += 1
        if limit is not None and count > limit:
            raise TooManyValues(count)
        try:
            nextchar = string[idx]
        except IndexError:
            raise StopIteration(idx) from None
        if nextchar == '"':
            return parse_string(string, idx + 1, strict)
        if nextchar == "{":
            return _parse_object((string, idx + 1), strict, _scan_once, object_hook,
                                 object_pairs_hook, memo)
        if nextchar == "[":
            return parse_array((string, idx + 1), _scan_once, _w=_skip_ws)
        for word, value in (("null", None), ("true", True), ("false", False)):
            if string.startswith(word, idx):
                return value, idx + len(word)
        match = match_number(string, idx, idx + NUMBER_CHARS)
        if match is not None:
            if match.end() == idx + NUMBER_CHARS:
                raise invalid_request(f"request body holds a number of more than "
                                      f"{NUMBER_CHARS:,} characters")
            integer, frac, exp = match.groups()
            if frac or exp:
                return parse_float(integer + (frac or "") + (exp or "")), match.end()
            return parse_int(integer), match.end()
        for word in ("NaN", "Infinity", "-Infinity"):
            if string.startswith(word, idx):
                return parse_constant(word), idx + len(word)
        raise StopIteration(idx)

    def scan_once(string: str, idx: int) -> Any:
        try:
            return _scan_once(string, idx)
        finally:
            memo.clear()

    return scan_once


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _HugeInt(str):
    """An integer literal beyond Python's int conversion limit, kept as its text."""


def _huge_int_path(text: str, python_scanner: bool = False) -> str:
    """Where the first over-long integer is, as ``messages.0.content`` (the error path only;
    ``python_scanner`` as the decoding that met it)."""
    limit = sys.get_int_max_str_digits() or 4300

    def parse_int(digits: str) -> Any:
        return _HugeInt(digits) if len(digits.lstrip("-")) > limit else 0

    data = _Decoder(python_scanner, parse_int=parse_int).decode(text)
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, _HugeInt):
            return where or "request body"
        items = value.items() if isinstance(value, dict) else (
            enumerate(value) if isinstance(value, list) else ())
        stack.extend(reversed([(v, f"{where}.{k}" if where else str(k)) for k, v in items]))
    return "request body"


def _text_of(raw: bytes, in_pieces: bool) -> str:
    """The body's text; ``in_pieces``: decoded a megabyte at a time (no one long C call)."""
    encoding = json.detect_encoding(raw)
    if not in_pieces or len(raw) <= NUMBER_CHARS:
        return raw.decode(encoding, "surrogatepass")
    decoder = codecs.getincrementaldecoder(encoding)("surrogatepass")
    view = memoryview(raw)
    pieces = [decoder.decode(view[i:i + NUMBER_CHARS]) for i in range(0, len(raw), NUMBER_CHARS)]
    pieces.append(decoder.decode(b"", final=True))
    return "".join(pieces)


def parse_body(raw: bytes, *, python_scanner: bool = False,
               max_values: int | None = None) -> dict[str, Any]:
    """The body as a JSON object: linear in its size (the decoder reads each byte once)."""
    if not raw.strip():
        raise invalid_request("request body is empty; expected a JSON object")
    try:
        text = _text_of(raw, python_scanner)
        data = _Decoder(python_scanner, max_values).decode(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid_request(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise invalid_request("request body is nested too deeply") from None
    except ValueError as exc:
        if "integer string conversion" not in str(exc):
            raise invalid_request(f"request body is not valid JSON: {exc}") from None
        limit = sys.get_int_max_str_digits() or 4300
        where = _huge_int_path(text, python_scanner)
        raise invalid_request(f"{where}: an integer of more than {limit:,} "
                              "digits is beyond what this proxy accepts") from None
    if not isinstance(data, dict):
        raise invalid_request("request body must be a JSON object")
    return data


def _check_block(block: Any, where: str, role: str) -> None:
    if not isinstance(block, dict):
        raise invalid_request(f"{where}: each content block must be an object")
    kind = block.get("type")
    if not isinstance(kind, str):
        raise invalid_request(f"{where}.type: field required (a string)")
    if kind not in BLOCK_TYPES:
        raise invalid_request(f"{where}.type: unsupported content block type {kind!r}")
    if kind == "text" and not isinstance(block.get("text"), str):
        raise invalid_request(f"{where}.text: must be a string")
    if kind in ("image", "document"):
        source = block.get("source")
        if not isinstance(source, dict) or not isinstance(source.get("type"), str):
            raise invalid_request(f"{where}.source: must be an object with a type")
    if kind == "tool_use" and (not isinstance(block.get("id"), str)
                               or not isinstance(block.get("name"), str)):
        raise invalid_request(f"{where}: tool_use blocks need string 'id' and 'name'")
    if kind == "tool_reference" and not isinstance(block.get("tool_name"), str):
        raise invalid_request(f"{where}.tool_name: must be a string")
    if kind == "tool_result":
        if role != "user":
            raise invalid_request(f"{where}: tool_result blocks belong in user messages")
        if not isinstance(block.get("tool_use_id"), str):
            raise invalid_request(f"{where}.tool_use_id: must be a string")
        content = block.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise invalid_request(f"{where}.content: must be a string or a list of blocks")
        if isinstance(content, list):
            for j, inner in enumerate(content):
                _check_block(inner, f"{where}.content.{j}", role)


def _fold_system_messages(messages: list[Any]) -> list[Any]:
    """Claude Code (2.1.3xx) puts ``role: "system"`` messages inside ``messages`` (its
    environment/date block, per-turn control). The SDK takes no such turn, so each one becomes
    a ``<system-reminder>`` text block -- the form the CLI itself uses for such context -- at
    the end of the user message before it, or else at the start of the next user message."""
    if not any(isinstance(m, dict) and m.get("role") == "system" for m in messages):
        return messages
    out: list[Any] = []
    pending: list[dict[str, Any]] = []
    first_pending = 0
    for i, message in enumerate(messages):
        if not (isinstance(message, dict) and message.get("role") == "system"):
            if pending and isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                blocks = [{"type": "text", "text": content}] if isinstance(content, str) \
                    else content
                if isinstance(blocks, list):
                    message = {**message, "content": pending + blocks}
                    pending = []
            out.append(message)
            continue
        content = message.get("content")
        if isinstance(content, list) and all(isinstance(b, dict) and b.get("type") == "text"
                                             and isinstance(b.get("text"), str)
                                             for b in content):
            content = "\n\n".join(b["text"] for b in content)
        if not isinstance(content, str):
            raise invalid_request(f"messages.{i}.content: a system message must be a string "
                                  "or a list of text blocks")
        block = {"type": "text", "text": f"<system-reminder>\n{content}\n</system-reminder>"}
        previous = out[-1] if out else None
        if isinstance(previous, dict) and previous.get("role") == "user" and not pending \
                and isinstance(previous.get("content"), (str, list)):
            blocks = previous["content"]
            blocks = [{"type": "text", "text": blocks}] if isinstance(blocks, str) else blocks
            out[-1] = {**previous, "content": [*blocks, block]}
        else:
            first_pending = first_pending if pending else i
            pending.append(block)
    if pending:
        raise invalid_request(f"messages.{first_pending}.role: a 'system' message needs a user "
                              "message before or after it")
    return out


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list):
        raise invalid_request("messages: must be a list of message objects")
    if not messages:
        raise invalid_request("messages: must contain at least one message")
    # How many messages: the setting max_messages, checked on the body (http/security.py,
    # 413) before any parsing, so there is one limit and one status.
    messages = _fold_system_messages(messages)
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise invalid_request(f"{where}: must be an object with role and content")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise invalid_request(f"{where}.role: must be 'user' or 'assistant', got {role!r}")
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise invalid_request(f"{where}.content: must be a string or a list of content blocks")
        for j, block in enumerate(content):
            _check_block(block, f"{where}.content.{j}", role)
    if messages[-1]["role"] != "user":
        raise invalid_request(
            "messages: the last message must have role 'user' (assistant prefill is not "
            "supported through the Claude Agent SDK)")
    return cast("list[dict[str, Any]]", messages)  # each one checked above


def parse_messages_request(data: dict[str, Any], headers: Mapping[str, str] | None = None, *,
                           unsupported: str = "announce") -> MessagesRequest:
    """The request, validated; ``headers`` for ``anthropic-beta`` and friends;
    ``unsupported`` is the setting ``unsupported_params`` (``reject``: announced fields are
    a 400)."""
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid_request("model: field required (a non-empty string)")
    if len(model) > MAX_MODEL_CHARS:
        raise invalid_request(f"model: {len(model):,} characters, at most {MAX_MODEL_CHARS} "
                              "are accepted")
    _argv_safe(model, "model")
    messages = _check_messages(data.get("messages"))

    stream = data.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise invalid_request("stream: must be a boolean")

    max_tokens = data.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens < 1):
        raise invalid_request("max_tokens: must be a positive integer")

    system = _check_system(data.get("system"))
    tools = _check_tools(data.get("tools"))
    ignored = _Ignored()
    thinking = _check_thinking(data.get("thinking"), ignored)

    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise invalid_request("metadata: must be an object")

    request = MessagesRequest(
        model=model.strip(), messages=messages, stream=stream, system=system,
        max_tokens=max_tokens, tools=tools, thinking=thinking, metadata=metadata)
    _top_level(data, ignored)
    _split_tools(request, ignored)
    request.tool_choice = _tool_choice(data.get("tool_choice"), request)
    request.stop_sequences = _stop_sequences(data.get("stop_sequences"))
    _output(data, request, ignored)
    _headers(headers or {}, request, ignored)
    _block_hints(data, messages, ignored)
    request.ignored = ignored.names
    if unsupported == "reject" and request.ignored:
        raise invalid_request(
            "this proxy cannot honour " + ", ".join(request.ignored) + " through the Claude "
            "Agent SDK (setting unsupported_params = \"reject\"; with \"announce\" they are "
            f"accepted and named in the {F.IGNORED_HEADER} response header)")
    return request


def _check_system(system: Any) -> Any:
    """A string or a list of text blocks, without NUL (the CLI's argv cannot carry it)."""
    if isinstance(system, str) and "\x00" in system:
        raise invalid_request("system: must not contain NUL (\\u0000) characters")
    if system is not None and not isinstance(system, str):
        if not isinstance(system, list):
            raise invalid_request("system: must be a string or a list of text blocks")
        for j, block in enumerate(system):
            if not isinstance(block, dict) or block.get("type") != "text" \
                    or not isinstance(block.get("text"), str):
                raise invalid_request(f"system.{j}: must be a text block with a string 'text'")
            if "\x00" in block["text"]:
                raise invalid_request(f"system.{j}.text: must not contain NUL (\\u0000) "
                                      "characters")
    return system


def _check_tools(tools: Any) -> list[dict[str, Any]] | None:
    """Tool definitions: a name the CLI's argv can carry, a string description, a schema."""
    if tools is not None:
        if not isinstance(tools, list):
            raise invalid_request("tools: must be a list of tool definitions")
        for j, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) \
                    or not tool["name"]:
                raise invalid_request(f"tools.{j}.name: field required (a string)")
            if len(tool["name"]) > MAX_MODEL_CHARS:
                raise invalid_request(f"tools.{j}.name: at most {MAX_MODEL_CHARS} characters")
            _argv_safe(tool["name"], f"tools.{j}.name")
            if tool.get("description") is not None and not isinstance(tool["description"], str):
                raise invalid_request(f"tools.{j}.description: must be a string")
            if tool.get("input_schema") is not None and not isinstance(tool["input_schema"],
                                                                        dict):
                raise invalid_request(f"tools.{j}.input_schema: must be a JSON schema object")
    return cast("list[dict[str, Any]]", tools) or None  # each one checked above


def _check_thinking(thinking: Any, ignored: _Ignored) -> dict[str, Any] | None:
    """``thinking``: a known type and budget; display values and keys we cannot honour are
    announced."""
    if thinking is not None:
        if not isinstance(thinking, dict) or thinking.get("type") not in (
                "enabled", "disabled", "adaptive"):
            raise invalid_request("thinking.type: must be 'enabled', 'disabled' or 'adaptive'")
        budget = thinking.get("budget_tokens")
        if thinking["type"] == "enabled" and (isinstance(budget, bool)
                                              or not isinstance(budget, int) or budget < 1):
            raise invalid_request("thinking.budget_tokens: must be a positive integer")
        display = thinking.get("display")
        if display is not None and not isinstance(display, str):
            raise invalid_request("thinking.display: must be a string")
        if display is not None and display not in THINKING_DISPLAYS:
            ignored.add(f"thinking.display={display}")
        for key in thinking:
            if key not in ("type", "budget_tokens", "display"):
                ignored.add(f"thinking.{key}")
    return cast("dict[str, Any] | None", thinking)  # checked above


class _Ignored:
    """Announced names, in order, once each."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add(self, name: str) -> None:
        if name not in self.names:
            self.names.append(name)


def _top_level(data: dict[str, Any], ignored: _Ignored) -> None:
    for name, value in data.items():
        rule = F.body_rule(name)
        if value is None or rule.status in (F.HONOURED, F.EMULATED):
            continue
        if rule.status == F.REFUSED:
            if value in ([], {}, False):
                continue
            raise invalid_request(f"{name}: not supported by this proxy: {rule.reason}")
        ignored.add(name)


def _split_tools(request: MessagesRequest, ignored: _Ignored) -> None:
    """Client tools (the client runs them), emulated server tools (the CLI's built-ins run
    them inside the turn), and refusals for tools nobody here can run."""
    for j, tool in enumerate(request.tools or []):
        kind = tool.get("type")
        if kind in (None, "custom"):
            request.client_tools.append(tool)
            for key in tool:
                if key not in F.TOOL or F.TOOL[key].status == F.ANNOUNCED:
                    ignored.add(f"tools[].{key}")
            continue
        if not isinstance(kind, str):
            raise invalid_request(f"tools.{j}.type: must be a string")
        rule = F.server_tool_rule(kind)
        if rule.status == F.REFUSED:
            raise invalid_request(
                f"tools.{j}: the tool {tool['name']!r} (type {kind!r}) cannot be run through "
                f"this proxy: {rule.reason}")
        request.server_tools.append(tool)
        builtin = F.WEB_SEARCH if rule.name == "web_search" else F.WEB_FETCH
        if builtin not in request.cli_tools:
            request.cli_tools.append(builtin)
        allowed, blocked = tool.get("allowed_domains"), tool.get("blocked_domains")
        for key, value in (("allowed_domains", allowed), ("blocked_domains", blocked)):
            if value is not None and (not isinstance(value, list)
                                      or not all(isinstance(d, str) and d for d in value)):
                raise invalid_request(f"tools.{j}.{key}: must be a list of domain names")
            for domain in value or []:
                _argv_safe(domain, f"tools.{j}.{key}")
        if builtin == F.WEB_FETCH:
            rules = [f"{builtin}(domain:{d})" for d in allowed or []] or [builtin]
            request.cli_allow.extend(r for r in rules if r not in request.cli_allow)
            request.cli_deny.extend(f"{builtin}(domain:{d})" for d in blocked or [])
        else:
            request.cli_allow.append(builtin)
        for key in tool:
            if key not in F.SERVER_TOOL_FIELDS or (builtin == F.WEB_SEARCH and key.endswith(
                    "_domains")):
                ignored.add(f"tools[{rule.name}].{key}")


def _tool_choice(choice: Any, request: MessagesRequest) -> dict[str, Any] | None:
    if choice is None:
        return None
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise invalid_request("tool_choice.type: must be 'auto', 'any', 'tool' or 'none'")
    kind = choice["type"]
    single = choice.get("disable_parallel_tool_use")
    if single is not None and not isinstance(single, bool):
        raise invalid_request("tool_choice.disable_parallel_tool_use: must be a boolean")
    names = [t["name"] for t in request.client_tools]
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or not name:
            raise invalid_request("tool_choice.name: field required (a string) with type 'tool'")
        if name not in names:
            server = [t["name"] for t in request.server_tools]
            raise invalid_request(
                f"tool_choice.name: {name!r} " + (
                    "is a server tool, which the proxy runs inside the turn; it cannot be forced"
                    if name in server else "is not one of the request's tools"
                    + (f" ({', '.join(names)})" if names else " (it has none)")))
        return {"type": "tool", "name": name}
    if kind == "any":
        if not names:
            raise invalid_request("tool_choice: type 'any' needs client tools in 'tools'")
        return {"type": "any"}
    if kind == "none":
        return {"type": "none"} if names else None
    return {"type": "auto", "disable_parallel_tool_use": True} if single and names else None


def _stop_sequences(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_request("stop_sequences: must be a list of strings")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise invalid_request(f"stop_sequences.{i}: must be a non-empty string")
    return list(dict.fromkeys(value))


def _json_schema_format(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or value.get("type") != "json_schema":
        raise invalid_request(f"{where}.type: must be 'json_schema'")
    if not isinstance(value.get("schema"), dict):
        raise invalid_request(f"{where}.schema: must be a JSON schema object")
    return {"type": "json_schema", "schema": value["schema"]}


def _output(data: dict[str, Any], request: MessagesRequest, ignored: _Ignored) -> None:
    config = data.get("output_config")
    if config is not None and not isinstance(config, dict):
        raise invalid_request("output_config: must be an object")
    config = config or {}
    for key in config:
        if key not in ("effort", "format", "task_budget"):
            ignored.add(f"output_config.{key}")
    effort = config.get("effort")
    if effort is not None:
        if effort not in EFFORTS:
            raise invalid_request(f"output_config.effort: must be one of {', '.join(EFFORTS)}")
        request.effort = effort
    if config.get("format") is not None:
        request.output_format = _json_schema_format(config["format"], "output_config.format")
    elif data.get("output_format") is not None:
        request.output_format = _json_schema_format(data["output_format"], "output_format")
    budget = config.get("task_budget")
    if budget is not None:
        total = budget.get("total") if isinstance(budget, dict) else None
        if budget.get("type", "tokens") != "tokens" or isinstance(total, bool) \
                or not isinstance(total, int) or total < 1:
            raise invalid_request("output_config.task_budget: must be {\"type\": \"tokens\", "
                                  "\"total\": <positive integer>}")
        request.task_budget = total


def _headers(headers: Mapping[str, str], request: MessagesRequest, ignored: _Ignored) -> None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, rule in F.HEADERS.items():
        if rule.status == F.ANNOUNCED and lowered.get(name):
            ignored.add(name)
    betas = [b.strip() for b in lowered.get("anthropic-beta", "").split(",") if b.strip()]
    for beta in betas:
        rule = F.beta_rule(beta)
        if rule.status == F.ANNOUNCED:
            ignored.add(f"anthropic-beta:{beta}")
        elif rule.name == "context-1m" and F.CONTEXT_1M not in request.betas:
            request.betas.append(F.CONTEXT_1M)


def _block_hints(data: dict[str, Any], messages: list[dict[str, Any]],
                 ignored: _Ignored) -> None:
    system = data.get("system")
    blocks = list(system) if isinstance(system, list) else []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            blocks.extend(content)
            blocks.extend(inner for b in content if b.get("type") == "tool_result"
                          and isinstance(b.get("content"), list) for inner in b["content"])
    for key in F.BLOCK:
        if any(isinstance(b, dict) and b.get(key) is not None for b in blocks):
            ignored.add(key)
