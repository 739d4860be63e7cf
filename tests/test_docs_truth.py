"""The README and `--help` say what the code does: the modes (which is the default, what each
does with and without client tools) and the dependency bounds."""

import re
from pathlib import Path

import pytest

from tui_proxy.cli import build_parser
from tui_proxy.core.modes import effective_mode
from tui_proxy.config.settings import MODES, Settings
from tui_proxy.wire.request import parse_messages_request

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEFAULT = Settings().mode
TOOL = {"name": "read", "description": "read a file",
        "input_schema": {"type": "object", "properties": {}}}


def request(with_tools: bool):
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}]}
    if with_tools:
        body["tools"] = [TOOL]
    return parse_messages_request(body)


def mode_table() -> dict[str, tuple[str, str]]:
    """`mode` → (effective mode without tools, with tools), as the README's Modes table says."""
    section = README.split("\n## Modes\n", 1)[1].split("\n- **", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[1].startswith("request"):  # not a row, or the header
            continue
        match = re.fullmatch(r"`(\w+)`( \(the default\))?", cells[0])
        if match:
            rows[match.group(1)] = (cells[1].split(":")[0].split(" ")[0],
                                    cells[2].split(":")[0].split(" ")[0], bool(match.group(2)))
    return rows


def test_the_readme_mode_table_is_what_effective_mode_does():
    rows = mode_table()
    assert sorted(rows) == sorted(MODES), "every mode has a row, and no other"
    assert [m for m, row in rows.items() if row[2]] == [DEFAULT], "the default is marked"
    for mode, (without, with_tools, _) in rows.items():
        settings = Settings(mode=mode)
        assert effective_mode(settings, request(False)) == without, mode
        assert effective_mode(settings, request(True)) == with_tools, mode


def test_the_readme_command_line_and_settings_list_every_mode():
    usage = re.search(r"\[--mode ([\w|]+)\]", README).group(1)
    assert sorted(usage.split("|")) == sorted(MODES)
    row = next(line for line in README.splitlines() if line.startswith("| `mode` |"))
    assert f"| `{DEFAULT}` |" in row and all(f"`{m}`" in row for m in MODES)


def test_help_names_every_mode_and_the_default():
    action = next(a for a in build_parser()._actions if "--mode" in a.option_strings)
    assert sorted(action.choices) == sorted(MODES)
    assert action.help.startswith(f"{DEFAULT} (default)")
    assert all(m in action.help for m in MODES)
    assert "chat (default)" not in action.help


@pytest.mark.parametrize("stale", [r"bundled Claude Code CLI\s+2\.\d+\.\d+"])
def test_readme_figures_name_the_cli_version_they_were_measured_on(stale):
    """A figure names the version it was measured on, never 'the bundled CLI x.y.z' (which
    goes stale with every SDK release)."""
    assert not re.search(stale, README)


def settings_table() -> dict[str, list[str]]:
    rows = {}
    for line in README.splitlines():
        match = re.match(r"\| `(\w+)` \| `(\w+)` \|", line)
        if match:
            rows[match.group(1)] = [c.strip() for c in line.strip().strip("|").split("|")]
    return rows


def test_the_readme_settings_table_is_the_declared_settings():
    """One row per setting of settings.FIELDS, in order, with its variable and default."""
    from tui_proxy.config.settings import FIELDS

    rows = settings_table()
    assert list(rows) == [f.name for f in FIELDS]
    for f in FIELDS:
        assert rows[f.name][1] == f"`{f.env}`", f.name
        default = f.default
        if default in (None, {}, ()):
            continue
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        assert rows[f.name][2] == f"`{shown}`", f.name


def test_the_readme_command_line_names_every_declared_flag():
    from tui_proxy.config.settings import FLAG_FIELDS

    usage = README.split("\n## Command line\n", 1)[1].split("```", 2)[1]
    named = set(re.findall(r"\[(--[\w-]+)", usage))
    assert named == {f.flag_name for f in FLAG_FIELDS} | {"--headless", "--config"}
