"""`login`, `logout`, `status`, `claude`: the CLI the proxy drives, with the environment it
gets. The fake CLI keeps a marker credentials file for `auth login` / `auth logout`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FAKE_CLAUDE
from tui_proxy.sdk.login import (
    LOGIN_ADVICE, PROXY_LOGIN, auth_commands, cli_environment, ignored_credentials,
)

ROOT = Path(__file__).parent.parent


def run(*args, env):
    return subprocess.run([sys.executable, "-m", "tui_proxy", *args], capture_output=True,
                          text=True, env=env, timeout=60, cwd=ROOT)


@pytest.fixture
def env(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_",
                                                                       "CLAUDE_PROXY_"))}
    clean["CLAUDE_CONFIG_DIR"] = str(tmp_path / "cli-config")
    clean["CLAUDE_PROXY_CLI_PATH"] = str(FAKE_CLAUDE)
    clean["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    return clean


def test_login_status_logout_run_the_clis_own_commands(env, tmp_path):
    status = run("status", env=env)
    assert status.returncode == 2 and "not logged in" in status.stdout
    assert PROXY_LOGIN in status.stdout
    login = run("login", env=env)
    assert login.returncode == 0, login.stdout + login.stderr
    assert f"running {FAKE_CLAUDE} auth login" in login.stdout
    assert "Login successful." in login.stdout and "PASS" in login.stdout
    assert (tmp_path / "cli-config" / ".credentials.json").is_file(), "the proxy's config dir"
    assert run("status", env=env).returncode == 0
    logout = run("logout", env=env)
    assert logout.returncode == 0 and "auth logout" in logout.stdout
    assert run("status", env=env).returncode == 2


def test_claude_runs_the_proxys_cli_with_its_environment(env):
    version = run("claude", "--version", env=env)
    assert version.returncode == 0 and version.stdout.strip() == "2.1.330 (Claude Code)"
    shown = run("claude", "auth", "status", env={**env, "ANTHROPIC_API_KEY": "sk-ant-x"})
    assert json.loads(shown.stdout)["loggedIn"] is False, "the stripped key never reaches it"


def test_the_cli_environment_drops_what_loops_and_keeps_what_is_given():
    env = cli_environment({"ANTHROPIC_API_KEY": "a", "ANTHROPIC_BASE_URL": "http://x",
                           "CLAUDE_PROXY_CLI_ENV_ANTHROPIC_BASE_URL": "http://up", "HOME": "/h"})
    assert "ANTHROPIC_API_KEY" not in env and env["ANTHROPIC_BASE_URL"] == "http://up"
    assert env["HOME"] == "/h"
    assert ignored_credentials({"ANTHROPIC_API_KEY": "a"}) == ["ANTHROPIC_API_KEY"]
    assert ignored_credentials({"ANTHROPIC_API_KEY": "a",
                                "CLAUDE_PROXY_CLI_ENV_ANTHROPIC_API_KEY": "b"}) == []


async def test_login_command_is_read_from_the_clis_help(tmp_path):
    commands = await auth_commands(str(FAKE_CLAUDE))
    assert commands.login == ("auth", "login") and commands.source == "claude auth --help"
    old = tmp_path / "old-claude"  # a CLI whose login is top-level
    old.write_text("#!/bin/sh\nif [ \"$1\" = \"--help\" ]; then printf 'Usage: claude\\n\\n"
                   "Commands:\\n  login   Sign in\\n  logout  Sign out\\n'; fi\nexit 1\n")
    old.chmod(0o755)
    assert (await auth_commands(str(old))).login == ("login",)
    none = tmp_path / "not-claude"
    none.write_text("#!/bin/sh\necho hello\n")
    none.chmod(0o755)
    assert await auth_commands(str(none)) is None


def test_every_login_hint_comes_from_one_place():
    """No hint names `claude login` (no such command) or a bare `claude` command to run."""
    offenders = []
    for path in [*(ROOT / "tui_proxy").rglob("*.py"), ROOT / "README.md"]:
        text = path.read_text()
        for wrong in ("`claude login`", "run claude login", "`claude setup-token`"):
            if wrong in text:
                offenders.append(f"{path.relative_to(ROOT)}: {wrong}")
    assert offenders == []
    assert PROXY_LOGIN in LOGIN_ADVICE
