"""install-service: the systemd user unit and the launchd agent are generated and validated
(no systemd needed); install / uninstall drive a recorded fake systemctl / launchctl."""

import configparser
import json
import os
import plistlib
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tui_proxy.commands import service
from tui_proxy.cli import main
from tui_proxy.config.settings import FIELDS, load_settings


@pytest.fixture(autouse=True)
def home(monkeypatch, tmp_path):
    for f in FIELDS:
        if f.env:
            monkeypatch.delenv(f.env, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def settings(tmp_path, monkeypatch):
    project = tmp_path / "my project 100%"
    project.mkdir()
    cfg = tmp_path / "proxy.toml"
    cfg.write_text("port = 4100\n")
    monkeypatch.setenv("CLAUDE_PROXY_MAX_QUEUE", "9")
    monkeypatch.setenv("CLAUDE_PROXY_API_KEY", 'k$y"with spaces')
    return load_settings(flags={"cwd": str(project), "mode": "agent"}, config_file=cfg)


class Recorder:
    def __init__(self, fail: dict[str, int] | None = None):
        self.calls: list[list[str]] = []
        self.fail = fail or {}

    def __call__(self, argv, **kwargs):
        self.calls.append(list(argv))
        code = next((c for key, c in self.fail.items() if key in " ".join(argv)), 0)
        return subprocess.CompletedProcess(argv, code, "", "boom" if code else "")


def parse_unit(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None,
                                       delimiters=("=",))
    parser.optionxform = str
    parser.read_string(text)
    return parser


def systemd_words(value: str) -> list[str]:
    """Undo systemd quoting: shell-like words, then %% → % and $$ → $."""
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(value)]


def test_systemd_unit_runs_headless_with_the_effective_settings(settings, tmp_path):
    unit = service.systemd_unit(settings, {"mode": "agent", "cwd": settings.cwd})
    parsed = parse_unit(unit)
    assert set(parsed.sections()) == {"Unit", "Service", "Install"}
    svc = parsed["Service"]
    argv = systemd_words(svc["ExecStart"])
    assert os.path.isabs(argv[0]) and Path(argv[0]).exists()
    assert argv[argv.index("--config") + 1] == str(tmp_path / "proxy.toml")
    assert "--headless" in argv and argv[argv.index("--mode") + 1] == "agent"
    assert argv[argv.index("--cwd") + 1] == settings.cwd
    assert svc["WorkingDirectory"].replace("%%", "%") == settings.cwd
    assert svc["Restart"] == "on-failure"
    assert parsed["Install"]["WantedBy"] == "default.target"
    env_lines = [line.split("=", 1)[1] for line in unit.splitlines()
                 if line.startswith("Environment=")]
    env = dict(systemd_words(v)[0].split("=", 1) for v in env_lines)
    assert env["CLAUDE_PROXY_MAX_QUEUE"] == "9"
    assert env["CLAUDE_PROXY_API_KEY"] == 'k$y"with spaces'
    assert env["PATH"] == os.environ["PATH"]
    assert "CLAUDE_PROXY_PORT" not in env, "file settings stay in the file"


def test_launchd_plist(settings, home):
    data = plistlib.loads(service.launchd_plist(settings, {"mode": "agent"}).encode())
    assert data["Label"] == service.LABEL
    start = service.program()
    argv = data["ProgramArguments"]
    assert argv[:len(start)] == start and os.path.isabs(argv[0])
    assert argv[len(start):len(start) + 2] == ["--headless", "--config"]
    assert data["KeepAlive"] == {"SuccessfulExit": False} and data["RunAtLoad"] is True
    assert data["WorkingDirectory"] == settings.cwd
    assert data["EnvironmentVariables"]["CLAUDE_PROXY_MAX_QUEUE"] == "9"
    assert data["StandardErrorPath"].startswith(str(home / "Library" / "Logs"))


def test_program_found_without_the_script_on_path(monkeypatch):
    """An unactivated venv: the script is not on PATH (or another install's is), so the unit
    names this interpreter's command, and it runs."""
    monkeypatch.setenv("PATH", "/nonexistent")
    argv = service.program()
    assert os.path.isabs(argv[0])
    assert argv[0].startswith(os.path.dirname(sys.executable))
    done = subprocess.run(argv + ["config", "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["settings"]["port"]["value"] == 3456


def test_print_writes_nothing(home, capsys, tmp_path):
    assert main(["install-service", "--print", "--port", "4555", "--cwd", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# {home / '.config/systemd/user/claude-proxy-tui.service'}")
    assert "--port 4555" in out and "Restart=on-failure" in out
    assert not (home / ".config").exists()


def test_install_without_systemctl_explains_and_fails(settings, home, capsys):
    code = service.main(settings, system="Linux", which=lambda _: None, runner=Recorder())
    assert code == 1
    err = capsys.readouterr().err
    assert "`systemctl` not found" in err and "--print" in err
    assert not service.systemd_unit_path().exists()


def test_install_without_a_user_session_writes_nothing(settings, capsys):
    runner = Recorder(fail={"show-environment": 1})
    code = service.main(settings, system="Linux", which=lambda _: "/bin/systemctl", runner=runner)
    assert code == 1 and "no systemd user session" in capsys.readouterr().err
    assert not service.systemd_unit_path().exists()


def test_install_and_uninstall_with_systemd(settings, home, capsys):
    runner = Recorder()
    assert service.main(settings, system="Linux", which=lambda _: "/bin/systemctl",
                        runner=runner) == 0
    path = home / ".config" / "systemd" / "user" / "claude-proxy-tui.service"
    assert path.read_text() == service.systemd_unit(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "the unit may hold the api key"
    assert runner.calls == [
        ["systemctl", "--user", "show-environment"],
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", "claude-proxy-tui.service"]]
    assert "0600" in capsys.readouterr().out

    runner = Recorder()
    assert service.main(settings, system="Linux", which=lambda _: "/bin/systemctl",
                        runner=runner, uninstall=True) == 0
    assert not path.exists()
    assert runner.calls == [
        ["systemctl", "--user", "disable", "--now", "claude-proxy-tui.service"],
        ["systemctl", "--user", "daemon-reload"]]


def test_a_failing_enable_is_reported(settings, capsys):
    runner = Recorder(fail={"enable": 1})
    assert service.main(settings, system="Linux", which=lambda _: "/bin/systemctl",
                        runner=runner) == 1
    assert "enable --now claude-proxy-tui.service exited 1: boom" in capsys.readouterr().err


def test_install_and_uninstall_with_launchd(settings, home):
    runner = Recorder(fail={"unload": 1})  # a first install has nothing to unload
    assert service.main(settings, system="Darwin", which=lambda _: "/bin/launchctl",
                        runner=runner) == 0
    path = home / "Library" / "LaunchAgents" / f"{service.LABEL}.plist"
    assert plistlib.loads(path.read_bytes())["Label"] == service.LABEL
    assert runner.calls[-1] == ["launchctl", "load", "-w", str(path)]
    runner = Recorder()
    assert service.main(settings, system="Darwin", which=lambda _: "/bin/launchctl",
                        runner=runner, uninstall=True) == 0
    assert runner.calls == [["launchctl", "unload", "-w", str(path)]] and not path.exists()


def test_unsupported_platform(settings, capsys):
    assert service.main(settings, system="Windows") == 2
    assert "not supported" in capsys.readouterr().err


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze")
def test_systemd_analyze_verifies_the_unit(settings, tmp_path):
    """systemd's own parser (system mode: works without a user session) finds nothing to say
    about the unit; the same unit with a bad value is reported, so the check can fail."""
    def complaints(text: str) -> list[str]:
        unit = tmp_path / "claude-proxy-tui.service"
        unit.write_text(text)
        proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                              text=True, timeout=30)
        return [line for line in proc.stderr.splitlines() if str(unit) in line]

    text = service.systemd_unit(settings, {"mode": "agent"})
    assert complaints(text.replace("Restart=on-failure", "Restart=bogus")), \
        "systemd-analyze cannot check units here"
    assert complaints(text) == []
