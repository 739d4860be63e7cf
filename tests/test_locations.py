"""config/locations.py: every path the proxy works out, with and without its override."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import anthropic

from conftest import read_log
from tui_proxy.config import locations
from tui_proxy.core.conversations import transcript_path

ROOT = Path(__file__).resolve().parent.parent / "tui_proxy"
CLI_VAR = "CLAUDE_PROXY_CLI_ENV_CLAUDE_CONFIG_DIR"


def flat(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "-", os.path.realpath(path))


# ------------------------------------------------------------------ the proxy's own

def test_settings_file_follows_xdg_config_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert locations.config_file() == tmp_path / "cfg" / "claude-proxy-tui" / "config.toml"
    from tui_proxy.config.settings import default_config_path
    assert default_config_path() == locations.config_file()


def test_settings_file_without_xdg_config_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert locations.config_file() == tmp_path / ".config" / "claude-proxy-tui" / "config.toml"


def test_state_folders_follow_xdg_state_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "st"))
    state = tmp_path / "st" / "claude-proxy-tui"
    assert locations.journal_dir() == state / "journal"
    assert locations.screenshot_dir() == state / "screenshots"
    assert locations.passthrough_cwd() == state / "passthrough-cwd"
    from tui_proxy.console.app import default_screenshot_dir
    from tui_proxy.journal import reader, writer
    from tui_proxy.sdk.workdir import neutral_workdir
    from tui_proxy.config.settings import Settings
    assert default_screenshot_dir() == state / "screenshots"
    assert writer.journal_dir(Settings()) == reader.journal_dir(Settings()) == state / "journal"
    assert neutral_workdir() == str(state / "passthrough-cwd")
    assert (state / "passthrough-cwd").stat().st_mode & 0o777 == 0o700


def test_state_folders_without_xdg_state_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert locations.journal_dir() == tmp_path / ".local/state/claude-proxy-tui/journal"
    assert locations.screenshot_dir() == tmp_path / ".local/state/claude-proxy-tui/screenshots"


def test_journal_dir_setting_and_flag_win(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    from tui_proxy.config.settings import Settings
    from tui_proxy.journal import reader, writer
    settings = Settings(journal_dir="~/j")
    assert writer.journal_dir(settings) == reader.journal_dir(settings) == tmp_path / "j"
    assert reader.journal_dir(settings, "~/flag") == tmp_path / "flag"


def test_systemd_unit_follows_xdg_config_home(tmp_path):
    from tui_proxy.commands.service import systemd_unit_path
    assert systemd_unit_path({"XDG_CONFIG_HOME": str(tmp_path)}) == \
        tmp_path / "systemd/user/claude-proxy-tui.service"
    assert systemd_unit_path({}) == Path.home() / ".config/systemd/user/claude-proxy-tui.service"


def test_private_dirs_makes_missing_folders_0700(tmp_path):
    (tmp_path / "a").mkdir(mode=0o755)
    locations.private_dirs(tmp_path / "a" / "b" / "c")
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o755  # existing: kept
    for made in (tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert made.stat().st_mode & 0o777 == 0o700


# ------------------------------------------------------------------ the CLI's

def test_cli_config_dir_without_override(tmp_path):
    environ = {"HOME": str(tmp_path)}
    assert locations.cli_config_dir(environ=environ) == Path.home() / ".claude"
    # empty means unset, as in the CLI (``CLAUDE_CONFIG_DIR || ~/.claude``)
    assert locations.cli_config_dir(environ={"CLAUDE_CONFIG_DIR": ""}) == Path.home() / ".claude"


def test_cli_config_dir_the_cli_sees(tmp_path):
    own, given, spawn = str(tmp_path / "own"), str(tmp_path / "given"), str(tmp_path / "spawn")
    assert locations.cli_config_dir(environ={"CLAUDE_CONFIG_DIR": own}) == Path(own)
    both = {"CLAUDE_CONFIG_DIR": own, CLI_VAR: given}
    assert locations.cli_config_dir(environ=both) == Path(given)
    assert locations.cli_config_dir({"CLAUDE_CONFIG_DIR": spawn}, both) == Path(spawn)
    # the CLI NFC-normalises it and does not expand "~"; relative is relative to its cwd
    assert str(locations.cli_config_dir(environ={"CLAUDE_CONFIG_DIR": "/x/e\u0301"})) == "/x/\u00e9"
    assert locations.cli_config_dir(environ={"CLAUDE_CONFIG_DIR": "rel"}, cwd="/w") == \
        Path("/w/rel")


def test_cli_transcript_path(tmp_path):
    environ = {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")}
    work = tmp_path / "my project.v2"
    work.mkdir()
    assert locations.cli_transcript(str(work), "sid", environ=environ) == \
        tmp_path / "cfg" / "projects" / flat(str(work)) / "sid.jsonl"
    assert locations.cli_transcript(str(work), "sid", environ={}) == \
        Path.home() / ".claude" / "projects" / flat(str(work)) / "sid.jsonl"


def test_transcript_path_honours_the_config_dir_given_to_the_cli(monkeypatch, tmp_path):
    """The bug: the Sessions panel's path used the proxy's CLAUDE_CONFIG_DIR, not the one its
    CLI gets (CLAUDE_PROXY_CLI_ENV_CLAUDE_CONFIG_DIR)."""
    monkeypatch.setenv(CLI_VAR, str(tmp_path / "given"))
    assert transcript_path(str(tmp_path), "sid") == \
        str(tmp_path / "given" / "projects" / flat(str(tmp_path)) / "sid.jsonl")


async def test_seed_and_sessions_path_are_where_the_cli_reads(start_proxy, monkeypatch, tmp_path):
    """End to end with the fake CLI, which reads transcripts from its own CLAUDE_CONFIG_DIR as
    the real one does: the seeded transcript is found, and the conversation map names it."""
    given = tmp_path / "given-config"
    monkeypatch.setenv(CLI_VAR, str(given))
    proxy = await start_proxy(pool_size=0)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    mark = len(read_log())
    await client.messages.create(
        model="claude-sonnet-5-5", max_tokens=50, messages=[
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": "Sunny."},
            {"role": "user", "content": "FAKE:recall and tomorrow?"}])
    resumed = [e for e in read_log()[mark:] if e.get("event") == "transcript_resumed"]
    assert resumed, "the CLI found the seeded transcript under the config dir it was given"
    path = Path(resumed[0]["path"])
    assert path.is_relative_to(given / "projects")
    named = {c.transcript for c in proxy.engine.conversations.by_session.values()}
    assert named == {str(path)}, "the Sessions panel names the transcript the CLI read"


# ------------------------------------------------------------------ one place

def test_no_location_worked_out_outside_locations():
    """``Path.home()``, ``platformdirs``, ``XDG_*`` and ``.claude`` paths only in locations.py
    (docstrings and messages aside)."""
    found = []
    for path in ROOT.rglob("*.py"):
        if path.name == "locations.py":
            continue
        tree = ast.parse(path.read_text())
        doc_nodes = {id(n.body[0].value) for n in ast.walk(tree)
                     if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef,
                                       ast.ClassDef))
                     and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "home" \
                    and isinstance(node.value, ast.Name) and node.value.id == "Path":
                found.append(f"{path}:{node.lineno} .home()")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [getattr(node, "module", None) or ""] + [a.name for a in node.names]
                if any(n.startswith("platformdirs") for n in names):
                    found.append(f"{path}:{node.lineno} platformdirs")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in doc_nodes \
                    and re.fullmatch(r"\.claude(/.*)?|XDG_[A-Z_]+(_HOME|_DIR)", node.value):
                found.append(f"{path}:{node.lineno} {node.value!r}")
    assert found == []
