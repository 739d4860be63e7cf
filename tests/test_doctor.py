"""`doctor`: every check says PASS / WARN / FAIL with a fix, and the exit status is the worst."""

import asyncio
import json
import os
import socket
import stat
from pathlib import Path

import pytest

from conftest import FAKE_CLAUDE
from tui_proxy.cli import main
from tui_proxy.host.doctor import (FAIL, PASS, WARN, Check, check_cwd, check_env, check_exposure,
                              check_permissions, check_port, cli_kind, run_checks, worst)
from tui_proxy.config.settings import FIELDS, Settings


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def stub_cli(tmp_path: Path, auth: str = "", name: str = "claude") -> Path:
    """A shell-wrapped CLI (how ~/.claude/local/claude ships) with a scripted `auth status`."""
    return _script(tmp_path / name, "#!/bin/sh\n"
                   'if [ "$1" = "--version" ]; then echo "2.1.330 (Claude Code)"; exit 0; fi\n'
                   f'if [ "$1" = "auth" ]; then {auth or "exit 3"}; fi\n'
                   "exit 0\n")


@pytest.fixture
def env(tmp_path):
    """A clean environment: no proxy settings, a private CLI config dir."""
    clean = {k: v for k, v in os.environ.items()
             if k not in {f.env for f in FIELDS} and not k.startswith("ANTHROPIC_")
             and k not in ("CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK",
                           "CLAUDE_CODE_USE_VERTEX")}
    clean["CLAUDE_CONFIG_DIR"] = str(tmp_path / "claude-config")
    return clean


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


async def test_fake_cli_is_reported_as_a_stub_and_its_auth_status_decides_login(tmp_path, env):
    flags = {"cli_path": str(FAKE_CLAUDE), "cwd": str(tmp_path), "port": 0}
    checks = by_name(await run_checks(flags, None, env, timeout=5))
    cli = checks["claude CLI"]
    assert cli.status == WARN and "python3 script" in cli.detail and "stub" in cli.detail
    assert str(FAKE_CLAUDE) in cli.detail and "flag:--cli-path" in cli.detail
    assert "2.1.330" in cli.detail and cli.fix
    login = checks["logged in"]
    assert login.status == FAIL and "claude-proxy-tui login" in login.fix
    assert "`claude auth status`: not logged in" in login.detail

    creds = Path(env["CLAUDE_CONFIG_DIR"]) / ".credentials.json"
    creds.parent.mkdir()
    creds.write_text('{"claudeAiOauth": {}}')
    login = by_name(await run_checks(flags, None, env, timeout=5))["logged in"]
    assert login == Check("logged in", PASS, "`claude auth status`: logged in via claude.ai")


async def test_a_stripped_api_key_does_not_count_as_a_login(tmp_path, env):
    """The proxy drops ANTHROPIC_API_KEY from the CLI's environment: the CLI, asked with the
    environment it really gets, is not logged in, and doctor says the key is ignored."""
    flags = {"cli_path": str(FAKE_CLAUDE), "cwd": str(tmp_path), "port": 0}
    checks = await run_checks(flags, None, {**env, "ANTHROPIC_API_KEY": "sk-ant-x"}, timeout=5)
    assert by_name(checks)["logged in"].status == FAIL
    ignored = [c for c in checks if c.name == "environment" and "ignored" in c.detail]
    assert ignored and "claude-proxy-tui login" in ignored[0].fix
    given = {**env, "CLAUDE_PROXY_CLI_ENV_ANTHROPIC_API_KEY": "sk-ant-x"}
    login = by_name(await run_checks(flags, None, given, timeout=5))["logged in"]
    assert login.status == PASS and "api_key" in login.detail


async def test_login_falls_back_to_credentials_when_the_cli_cannot_say(tmp_path, env):
    flags = {"cli_path": str(stub_cli(tmp_path)), "cwd": str(tmp_path), "port": 0}
    login = by_name(await run_checks(flags, None, env, timeout=5))["logged in"]
    assert login.status == WARN and "no `auth status --json`" in login.detail
    creds = Path(env["CLAUDE_CONFIG_DIR"]) / ".credentials.json"
    creds.parent.mkdir()
    creds.write_text('{"claudeAiOauth": {}}')
    login = by_name(await run_checks(flags, None, env, timeout=5))["logged in"]
    assert login.status == PASS and str(creds) in login.detail


async def test_real_packaging_passes_and_auth_status_decides_login(tmp_path, env):
    cli = stub_cli(tmp_path,
                   auth="echo '{\"loggedIn\": true, \"authMethod\": \"claude.ai\"}'; exit 0")
    flags = {"cli_path": str(cli), "cwd": str(tmp_path), "port": 0}
    checks = by_name(await run_checks(flags, None, env, timeout=5))
    assert checks["claude CLI"].status == PASS
    assert "shell wrapper" in checks["claude CLI"].detail
    assert checks["logged in"] == Check("logged in", PASS,
                                       "`claude auth status`: logged in via claude.ai")

    stub_cli(tmp_path, auth="echo '{\"loggedIn\": false, \"authMethod\": \"none\"}'; exit 1")
    login = by_name(await run_checks(flags, None, env, timeout=5))["logged in"]
    assert login.status == FAIL and "not logged in" in login.detail
    assert "claude-proxy-tui login" in login.fix


async def test_an_auth_probe_that_hangs_is_a_warning_not_a_failure(tmp_path, env):
    cli = stub_cli(tmp_path, auth="exec sleep 30")
    flags = {"cli_path": str(cli), "cwd": str(tmp_path), "port": 0}
    login = by_name(await run_checks(flags, None, env, timeout=0.3))["logged in"]
    assert login.status == WARN and "no answer in 0.3 s" in login.detail


async def test_missing_cli_and_bad_settings_fail_with_the_key_and_line(tmp_path, env):
    cfg = tmp_path / "c.toml"
    cfg.write_text("port = 1\n\nmax_queue = -5\n")
    checks = by_name(await run_checks({"cwd": str(tmp_path)}, str(cfg), env, timeout=5))
    assert checks["settings"].status == FAIL
    assert f"{cfg}:3: max_queue" in checks["settings"].detail

    flags = {"cli_path": str(tmp_path / "nope"), "cwd": str(tmp_path)}
    cli = by_name(await run_checks(flags, None, env, timeout=5))["claude CLI"]
    assert cli.status == FAIL and "not found" in cli.detail and "cli_path" in cli.fix


def test_cli_kind_reads_the_first_bytes(tmp_path):
    assert cli_kind(str(_script(tmp_path / "a", "\x7fELF\x02\x01")))[1] is True
    assert cli_kind(str(_script(tmp_path / "b", "#!/usr/bin/env node\n")))[0].startswith("Node")
    assert cli_kind(str(_script(tmp_path / "c", "#!/usr/bin/python3\n"))) == ("python3 script",
                                                                             False)
    assert cli_kind(str(_script(tmp_path / "d", "plain text")))[1] is False


def test_cwd_checks(tmp_path):
    assert check_cwd(Settings(cwd=str(tmp_path))).status == PASS
    missing = check_cwd(Settings(cwd=str(tmp_path / "gone")))
    assert missing.status == FAIL and "does not exist" in missing.detail
    assert not list(tmp_path.iterdir()), "the writability probe leaves nothing behind"


async def test_port_in_use_fails_and_our_own_proxy_is_named(tmp_path, start_proxy):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        taken = check_port(Settings(cwd=str(tmp_path), port=port))
    assert taken.status == FAIL and f"127.0.0.1:{port}" in taken.detail and "--port" in taken.fix
    assert check_port(Settings(cwd=str(tmp_path), port=0)).status == PASS

    proxy = await start_proxy()
    # in a thread: the proxy answers /health from this test's loop
    ours = await asyncio.to_thread(check_port, Settings(cwd=str(tmp_path), port=proxy.server.port))
    assert ours.status == WARN and "claude-proxy-tui" in ours.detail


@pytest.mark.parametrize("url, status, fragment", [
    ("http://127.0.0.1:3456", FAIL, "in a loop"),
    ("http://localhost:3456/", FAIL, "in a loop"),
    ("http://127.0.0.1:4000", WARN, "not to Anthropic"),
    ("https://gateway.example.com", WARN, "not to Anthropic"),
])
def test_base_url_given_to_the_cli_that_loops_back_to_the_proxy(tmp_path, url, status,
                                                                 fragment):
    settings = Settings(cwd=str(tmp_path), port=3456)
    [check] = check_env(settings, {"CLAUDE_PROXY_CLI_ENV_ANTHROPIC_BASE_URL": url})
    assert check.status == status and fragment in check.detail and check.fix


def test_the_proxys_own_base_url_is_said_not_to_reach_the_cli(tmp_path):
    settings = Settings(cwd=str(tmp_path), port=3456)
    [check] = check_env(settings, {"ANTHROPIC_BASE_URL": "http://127.0.0.1:3456"})
    assert check.status == PASS and "not passed to the CLI" in check.detail


def test_an_api_key_the_proxy_strips_is_reported_as_ignored(tmp_path):
    settings = Settings(cwd=str(tmp_path))
    [key] = check_env(settings, {"ANTHROPIC_API_KEY": "sk-ant-x"})
    assert key.status == WARN and "sk-ant-x" not in key.detail
    assert "ignored" in key.detail and "bills" not in key.detail
    assert "claude-proxy-tui login" in key.fix
    [given] = check_env(settings, {"CLAUDE_PROXY_CLI_ENV_ANTHROPIC_API_KEY": "sk-ant-y"})
    assert given.status == WARN and "bills that API key" in given.detail
    assert [c.status for c in check_env(settings, {})] == [PASS]


def test_permission_mode_and_exposure(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    risky = check_permissions(Settings(cwd=str(project), mode="agent"))
    assert risky.status == WARN and "bypassPermissions" in risky.detail
    assert check_permissions(Settings(cwd=str(project), mode="agent",
                                      permission_mode="acceptEdits")).status == PASS
    assert check_permissions(Settings(cwd=str(project), mode="chat")).status == PASS
    assert check_permissions(Settings(cwd=str(Path.home()), mode="agent",
                                      permission_mode="default")).status == WARN

    open_host = check_exposure(Settings(cwd=str(tmp_path), host="0.0.0.0"))
    assert open_host.status == FAIL and "api_key" in open_host.fix
    assert check_exposure(Settings(cwd=str(tmp_path), host="0.0.0.0", api_key="k")).status == PASS
    assert check_exposure(Settings(cwd=str(tmp_path), host="::1")).status == PASS


def test_worst():
    assert worst([]) == 0
    assert worst([Check("a", PASS, ""), Check("b", WARN, "")]) == 1
    assert worst([Check("a", FAIL, ""), Check("b", WARN, "")]) == 2


def test_doctor_command_exit_status_is_the_worst(tmp_path, env, monkeypatch, capsys):
    for key in set(os.environ) - set(env):
        monkeypatch.delenv(key)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", env["CLAUDE_CONFIG_DIR"])
    cli = stub_cli(tmp_path, auth="echo '{\"loggedIn\": true, \"authMethod\": \"x\"}'")
    args = ["doctor", "--config", str(tmp_path / "none.toml"), "--cli-path", str(cli),
            "--cwd", str(tmp_path), "--port", "0", "--mode", "chat"]
    (tmp_path / "none.toml").write_text("")
    assert main(args + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == 0 and {c["status"] for c in out["checks"]} == {PASS}
    assert main(args + ["--host", "0.0.0.0", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["status"] == 2
    assert main(args + ["--mode", "agent"]) == 1
    table = capsys.readouterr().out
    assert "WARN" in table and "permission mode" in table and "1 warnings" in table
