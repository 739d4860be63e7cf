import pytest

from tui_proxy.config.settings import SettingsError, changed_keys, load_settings


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={}, config_file=_empty_file(tmp_path))
    assert (s.host, s.port) == ("127.0.0.1", 3456)
    assert (s.timeout_ms, s.inactivity_ms) == (3_600_000, 900_000)
    assert s.permission_mode == "bypassPermissions" and s.mode == "auto"
    assert s.cwd == str(tmp_path.resolve())
    assert s.sources["port"] == "default"


def _empty_file(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("")
    return path


def test_precedence_file_env_flag(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('# comment\nport = 4000\nhost = "127.0.0.2"\nmax_concurrent = 3\n')
    s = load_settings(flags={"port": 4002}, env={"CLAUDE_PROXY_PORT": "4001",
                                                 "CLAUDE_PROXY_HOST": "127.0.0.3"},
                      config_file=cfg)
    assert s.port == 4002 and s.sources["port"] == "flag:--port"
    assert s.host == "127.0.0.3" and s.sources["host"] == "env:CLAUDE_PROXY_HOST"
    assert s.max_concurrent == 3 and s.sources["max_concurrent"] == f"file:{cfg}:4"


def test_seed_env_names(tmp_path):
    env = {"CLAUDE_PROXY_CWD": str(tmp_path), "CLAUDE_PROXY_TIMEOUT_MS": "1000",
           "CLAUDE_PROXY_INACTIVITY_MS": "500", "CLAUDE_PROXY_PERMISSION_MODE": "acceptEdits",
           "CLAUDE_PROXY_MODE": "agent", "OPENCODE_CLAUDE_PROVIDER_DEBUG": "1",
           "CLAUDE_PROXY_CLI_PATH": "/x/claude",
           "CLAUDE_PROXY_MODEL_ALIASES": "opus=claude-opus-4-5"}
    s = load_settings(env=env, config_file=_empty_file(tmp_path))
    assert (s.timeout_ms, s.inactivity_ms, s.permission_mode, s.mode, s.debug) == (
        1000, 500, "acceptEdits", "agent", True)
    assert s.cli_path == "/x/claude" and s.model_aliases == {"opus": "claude-opus-4-5"}


@pytest.mark.parametrize("content, fragment", [
    ("bogus = 1\n", "unknown setting 'bogus'"),
    ("port = 'x'\n", "port: expected an integer"),
    ("\n\nmode = 'wild'\n", ":3: mode: must be one of"),
    ("port = [\n", "not valid TOML"),
])
def test_bad_file_values_name_key_and_line(tmp_path, content, fragment):
    cfg = tmp_path / "c.toml"
    cfg.write_text(content)
    with pytest.raises(SettingsError, match=None) as info:
        load_settings(env={}, config_file=cfg)
    assert fragment in str(info.value)


def test_bad_env_value_names_the_variable(tmp_path):
    with pytest.raises(SettingsError) as info:
        load_settings(env={"CLAUDE_PROXY_PORT": "99999"}, config_file=_empty_file(tmp_path))
    assert "env:CLAUDE_PROXY_PORT" in str(info.value)


def test_missing_cwd_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(env={"CLAUDE_PROXY_CWD": str(tmp_path / "nope")},
                      config_file=_empty_file(tmp_path))


def test_changed_keys(tmp_path):
    a = load_settings(env={}, config_file=_empty_file(tmp_path))
    b = load_settings(env={"CLAUDE_PROXY_PORT": "5000"}, config_file=_empty_file(tmp_path))
    assert changed_keys(a, b) == ["port"]
