"""Every request field, tool-definition field, header and beta the proxy knows, and what it
does with each: one table, read by the request parser, the README and the tests.

``honoured``  the SDK/CLI is given the equivalent, and upstream gets it;
``emulated``  the proxy produces the API's behaviour itself (stop sequences, max_tokens, …);
``announced`` accepted without effect: named in the ``x-claude-proxy-ignored`` response
              header and in a Note on the flow; refused (400) with ``unsupported_params =
              "reject"``;
``refused``   always a 400 naming the field (the proxy would otherwise answer wrongly).

A top-level field, tool field or beta the table does not know is *announced* too: nothing a
client sends is dropped in silence. ``python3 -m tui_proxy.wire.fields`` prints the README
table (``tests/test_fields.py`` checks the README matches).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

HONOURED, EMULATED, ANNOUNCED, REFUSED = "honoured", "emulated", "announced", "refused"
IGNORED_HEADER = "x-claude-proxy-ignored"


@dataclass(frozen=True)
class Rule:
    name: str
    status: str
    reason: str


def _table(*rules: Rule) -> dict[str, Rule]:
    return {rule.name: rule for rule in rules}


SAMPLING = "no SDK option: the CLI sets its own sampling (temperature 0 cannot be had)"
CACHE = ("the CLI places its own cache breakpoints (system prompt, tools, latest turns); "
         "usage still reports cache reads and writes")

# Top-level fields of POST /v1/messages (the anthropic SDK's MessageCreateParams, beta incl.).
BODY = _table(
    Rule("model", HONOURED, "the CLI's `--model` (aliases apply; a `[1m]` suffix is the CLI's "
                            "1M-context model); echoed as sent"),
    Rule("messages", HONOURED, "only new turns reach a continued session; otherwise a seeded "
                               "transcript (see Conversations)"),
    Rule("system", HONOURED, "the CLI's system prompt (after the SDK's own identity line)"),
    Rule("max_tokens", EMULATED, "the response stops at the limit with `stop_reason: "
                                 "\"max_tokens\"`; what the client receives is counted at ~4 "
                                 "characters per token (an estimate); the CLI's own upstream "
                                 "limit stays its own"),
    Rule("stream", HONOURED, "SSE or one JSON message"),
    Rule("stop_sequences", EMULATED, "the stream is cut before the first match, even across "
                                     "deltas; `stop_reason: \"stop_sequence\"`, `stop_sequence` "
                                     "set; the CLI turn is interrupted"),
    Rule("temperature", ANNOUNCED, SAMPLING),
    Rule("top_p", ANNOUNCED, SAMPLING),
    Rule("top_k", ANNOUNCED, SAMPLING),
    Rule("tools", HONOURED, "client tools run on the client (see Modes); server tools below; "
                            "with `mode` chat or agent the client's tools (and `tool_choice`) "
                            "are announced"),
    Rule("tool_choice", EMULATED, "`auto` as is; `any`/`tool`: the model is told to call it and "
                                  "the response ends after the first matching call; `none`: "
                                  "told not to, and ends before any call; "
                                  "`disable_parallel_tool_use`: ends after the first call; "
                                  "naming a tool not in `tools` is a 400"),
    Rule("thinking", HONOURED, "`type`, `budget_tokens` and `display` (`summarized`/`omitted`) "
                               "reach the CLI; thinking blocks are returned only when asked"),
    Rule("metadata", HONOURED, "`user_id` keeps look-alike conversations apart"),
    Rule("output_config", HONOURED, "`effort` → `--effort`; `format` (json_schema) → "
                                    "`--json-schema`, the result is the response's text, as the "
                                    "API returns it; `task_budget` → `--task-budget`"),
    Rule("output_format", HONOURED,
         "the older structured-outputs field: as `output_config.format`"),
    Rule("thread", HONOURED, "message threads: handled by the thread support of the server"),
    Rule("cache_control", ANNOUNCED, CACHE),
    Rule("service_tier", ANNOUNCED, "the CLI's login decides the capacity used"),
    Rule("speed", ANNOUNCED, "no SDK option for fast mode"),
    Rule("inference_geo", ANNOUNCED, "no SDK option; the login's default region is used"),
    Rule("container", ANNOUNCED, "no code-execution container (code execution tools are refused)"),
    Rule("context_management", ANNOUNCED, "the CLI manages its own context (clearing, compaction)"),
    Rule("diagnostics", ANNOUNCED, "no cache diagnostics come back through the SDK"),
    Rule("fallbacks", ANNOUNCED, "no server-side policy fallback through the SDK"),
    Rule("fallback_credit_token", ANNOUNCED, "no server-side policy fallback through the SDK"),
    Rule("billing_policy", ANNOUNCED, "the CLI's own login is billed"),
    Rule("compaction", REFUSED, "a compaction request must answer with only a `compaction` block; "
                                "the CLI compacts its own context instead"),
    Rule("mcp_servers", REFUSED, "remote MCP servers (MCP connector) are not connected; declare "
                                 "their tools as client tools"),
)

# Fields of content blocks (system, messages) the proxy announces.
BLOCK = _table(
    Rule("cache_control", ANNOUNCED, CACHE),
)

# Fields of a client (custom) tool definition.
TOOL = _table(
    Rule("name", HONOURED, "Claude sees `mcp__client__<name>`; the client gets its own name back"),
    Rule("description", HONOURED, "as given"),
    Rule("input_schema", HONOURED, "as given (the MCP tool's input schema)"),
    Rule("type", HONOURED,
         "absent or `custom`: a client tool; other types are server tools, below"),
    Rule("defer_loading", HONOURED, "offered once a `tool_reference` has loaded it"),
    Rule("cache_control", ANNOUNCED, CACHE),
    Rule("strict", ANNOUNCED, "no constrained decoding through the SDK: inputs are not "
                              "guaranteed to match the schema"),
    Rule("input_examples", ANNOUNCED, "not given to the model"),
    Rule("eager_input_streaming", ANNOUNCED, "tool input streams as the CLI receives it"),
    Rule("allowed_callers", ANNOUNCED, "no programmatic tool calling"),
)

# Anthropic-defined tool types, by the type's name without its date.
WEB_SEARCH, WEB_FETCH = "WebSearch", "WebFetch"
SERVER_TOOLS = _table(
    Rule("web_search", EMULATED, "run by the CLI's own WebSearch tool inside the turn; the "
                                 "client gets the answer as text (no `server_tool_use`/"
                                 "`web_search_tool_result` blocks); `max_uses`, "
                                 "`allowed_domains`, `blocked_domains`, `user_location` announced"),
    Rule("web_fetch", EMULATED, "run by the CLI's own WebFetch tool inside the turn (it fetches "
                                "from the proxy's machine); the answer comes as text; "
                                "`allowed_domains`/`blocked_domains` become WebFetch permission "
                                "rules; `max_uses`, `citations`, `max_content_tokens` announced"),
    Rule("code_execution", REFUSED, "no code-execution sandbox through the SDK"),
    Rule("tool_search_tool_regex", REFUSED, "no server-side tool search (use `defer_loading` "
                                            "client tools and a client search tool)"),
    Rule("tool_search_tool_bm25", REFUSED, "no server-side tool search"),
    Rule("mcp_toolset", REFUSED, "remote MCP servers are not connected"),
    Rule("bash", REFUSED, "an Anthropic-defined client tool whose schema the model knows "
                          "natively: declare it as a custom tool with an `input_schema`"),
    Rule("text_editor", REFUSED, "as `bash`"),
    Rule("computer", REFUSED, "as `bash`"),
    Rule("memory", REFUSED, "as `bash`"),
    Rule("advisor", REFUSED, "no advisor model through the SDK"),
    Rule("browser_toolset", REFUSED, "no server-side browser"),
    Rule("computer_toolset", REFUSED, "no server-side computer"),
)
# Fields of an emulated server tool the proxy acts on (the rest are announced).
SERVER_TOOL_FIELDS = {"type", "name", "allowed_domains", "blocked_domains"}

# Request headers the proxy reads; any other header is not read.
HEADERS = _table(
    Rule("x-api-key", HONOURED, "checked against `api_key` (never forwarded: the CLI uses its "
                                "own login)"),
    Rule("authorization", HONOURED, "`Bearer` form of the same"),
    Rule("anthropic-version", HONOURED, "any value: the proxy speaks `2023-06-01`"),
    Rule("anthropic-beta", HONOURED, "each beta as listed below; an unknown beta is announced"),
    Rule("content-type", HONOURED, "must be `application/json` (415)"),
    Rule("x-claude-session-id", HONOURED, "resumes that SDK session (see Endpoints)"),
    Rule("user-agent", HONOURED, "shown as the flow's client"),
    Rule("anthropic-workspace-id", ANNOUNCED, "the CLI's login decides the workspace"),
    Rule("anthropic-user-profile-id", ANNOUNCED, "the CLI's login decides who is billed"),
)

# anthropic-beta values, by the beta's name without its date.
CONTEXT_1M = "context-1m-2025-08-07"  # the SDK's SdkBeta literal
BETAS = _table(
    Rule("context-1m", HONOURED, "the SDK's `betas` (`--betas`): the CLI's 1M context window"),
    Rule("structured-outputs", HONOURED, "with `output_config.format` / `output_format`"),
    Rule("effort", HONOURED, "with `output_config.effort`"),
    Rule("task-budgets", HONOURED, "with `output_config.task_budget`"),
    Rule("message-threads", HONOURED, "with `thread`"),
    Rule("interleaved-thinking", HONOURED, "the CLI turns interleaved thinking on itself"),
    Rule("prompt-caching", HONOURED, "caching is on by default (the CLI's breakpoints)"),
    Rule("advanced-tool-use", HONOURED, "with `defer_loading` / `tool_reference`"),
    Rule("web-search", HONOURED, "with the `web_search` tool"),
    Rule("web-fetch", HONOURED, "with the `web_fetch` tool"),
    Rule("claude-code", HONOURED, "Claude Code's own beta: the CLI sends its own"),
    Rule("oauth", HONOURED, "the CLI authenticates with its own login"),
    Rule("fine-grained-tool-streaming", ANNOUNCED, "tool input streams as the CLI receives it"),
    Rule("token-efficient-tools", ANNOUNCED, "the CLI chooses its tool format"),
    Rule("context-management", ANNOUNCED, "with `context_management` (announced)"),
    Rule("compact", ANNOUNCED, "with `compaction` (refused)"),
    Rule("mcp-client", ANNOUNCED, "with `mcp_servers` (refused)"),
    Rule("code-execution", ANNOUNCED, "with code execution tools (refused)"),
    Rule("computer-use", ANNOUNCED, "with computer tools (refused)"),
    Rule("fast-mode", ANNOUNCED, "with `speed` (announced)"),
    Rule("files-api", ANNOUNCED, "file ids are not resolved through the SDK"),
    Rule("skills", ANNOUNCED, "no Agent Skills through the request"),
    Rule("thinking-token-count", ANNOUNCED, "no thinking token count comes back through the SDK"),
    Rule("output-128k", ANNOUNCED, "the CLI chooses its own `max_tokens` upstream"),
)

_DATE = re.compile(r"[-_](\d{8}|\d{4}-\d{2}-\d{2})$")


def undated(name: str) -> str:
    """``web_search_20250305`` → ``web_search``; ``context-1m-2025-08-07`` → ``context-1m``."""
    return _DATE.sub("", name)


def body_rule(name: str) -> Rule:
    return BODY.get(name) or Rule(name, ANNOUNCED, "not a field this proxy knows")


def beta_rule(beta: str) -> Rule:
    return BETAS.get(undated(beta)) or Rule(beta, ANNOUNCED, "a beta this proxy does not know")


def server_tool_rule(tool_type: str) -> Rule:
    return SERVER_TOOLS.get(undated(tool_type)) or Rule(
        tool_type, REFUSED, "an Anthropic-defined tool type this proxy does not know")


_SAFE = re.compile(r"[^A-Za-z0-9_.:=\[\]-]")


def header_value(names: list[str], limit: int = 40) -> str:
    """The ``x-claude-proxy-ignored`` value: the names, made header-safe."""
    cleaned = [_SAFE.sub("?", name)[:80] for name in names[:limit]]
    if len(names) > limit:
        cleaned.append(f"+{len(names) - limit}")
    return ",".join(cleaned)


# -- the README table --------------------------------------------------------------------

def _rows(kind: str, rules: dict[str, Rule], fmt: str) -> list[str]:
    return [f"| {kind} | {fmt.format(rule.name)} | {rule.status} | {rule.reason} |"
            for rule in rules.values()]


def markdown() -> str:
    lines = ["| where | field | status | what the proxy does |", "|---|---|---|---|"]
    lines += _rows("body", BODY, "`{}`")
    lines.append("| body | any other field | announced | never dropped in silence |")
    lines += _rows("block", BLOCK, "`{}` on system and message blocks")
    lines += _rows("tool", TOOL, "`tools[].{}`")
    lines.append("| tool | any other field | announced | |")
    lines += _rows("server tool", SERVER_TOOLS, "`{}_*`")
    lines.append("| server tool | any other type | refused | |")
    lines += _rows("header", HEADERS, "`{}`")
    lines += _rows("beta", BETAS, "`{}-*`")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    sys.stdout.write(markdown() + "\n")
