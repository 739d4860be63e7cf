"""`init-config` and `config`: the commented file lists every setting and loads as the
defaults; uncommented it still loads; `config` names where each value came from; bad
values in tables name the entry's own line."""

import json
import re

import pytest

from tui_proxy.cli import main
from tui_proxy.config.settings import FIELDS, Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for f in FIELDS:
        if f.env:
            monkeypatch.delenv(f.env, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


def test_init_config_lists_every_setting_commented_and_loads_as_defaults(tmp_path, capsys):
    cfg = tmp_path / "conf" / "c.toml"
    assert main(["init-config", "--config", str(cfg)]) == 0
    assert str(cfg) in capsys.readouterr().out
    text = cfg.read_text()
    for f in FIELDS:
        assert f"# {f.name}: {f.help}" in text
        assert f"# {f.name} = " in text
        if f.env:
            assert f.env in text
    assert not [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    settings = load_settings(env={}, config_file=cfg)
    assert set(settings.sources.values()) == {"default"}
    assert settings == Settings(cwd=str(tmp_path))


def test_every_uncommented_line_is_valid_toml_with_the_default(tmp_path):
    cfg = tmp_path / "c.toml"
    assert main(["init-config", "--config", str(cfg)]) == 0
    names = {f.name for f in FIELDS}
    text = "\n".join(re.sub(r"^# (\w+) = ", r"\1 = ", line) if
                     re.match(r"^# (\w+) = ", line) and line[2:].split(" ")[0] in names
                     else line for line in cfg.read_text().splitlines())
    (tmp_path / "projects").mkdir()
    text = re.sub(r'(?m)^cwd = .*$', f'cwd = "{tmp_path / "projects"}"', text)
    cfg.write_text(text)
    settings = load_settings(env={}, config_file=cfg)
    assert all(src.startswith(f"file:{cfg}:") for src in settings.sources.values())
    defaults = Settings()
    for name in ("host", "port", "timeout_ms", "permission_mode", "mode", "pool_size",
                 "journal_max_mb", "log_level", "spare_process"):
        assert getattr(settings, name) == getattr(defaults, name), name
    assert settings.model_aliases == {"fast": "claude-haiku-4-5", "big": "claude-opus-4-5"}
    assert settings.api_key == "choose-a-long-random-key"


def test_init_config_refuses_to_overwrite_without_force(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("port = 4000\n")
    assert main(["init-config", "--config", str(cfg)]) == 1
    assert "--force" in capsys.readouterr().err
    assert cfg.read_text() == "port = 4000\n"
    assert main(["init-config", "--config", str(cfg), "--force"]) == 0
    assert "# port = 3456" in cfg.read_text()


def test_init_config_default_location_is_the_platform_config_dir(tmp_path):
    assert main(["init-config"]) == 0
    assert (tmp_path / "xdg" / "claude-proxy-tui" / "config.toml").is_file()


def test_config_names_the_source_of_each_value_and_hides_secrets(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text('# comment\nport = 4100\napi_key = "sk-ant-secret-value"\n'
                   '[model_aliases]\nfast = "claude-haiku-4-5"\n')
    monkeypatch.setenv("CLAUDE_PROXY_MAX_QUEUE", "7")
    assert main(["config", "--config", str(cfg), "--mode", "agent", "--json"]) == 0
    out = capsys.readouterr().out
    assert "sk-ant-secret-value" not in out
    data = json.loads(out)["settings"]
    assert data["port"] == {"value": 4100, "source": f"file:{cfg}:2"}
    assert data["api_key"] == {"value": "[set]", "source": f"file:{cfg}:3"}
    assert data["model_aliases"]["source"] == f"file:{cfg}:4"
    assert data["max_queue"] == {"value": 7, "source": "env:CLAUDE_PROXY_MAX_QUEUE"}
    assert data["mode"] == {"value": "agent", "source": "flag:--mode"}
    assert data["host"]["source"] == "default"

    monkeypatch.setenv("COLUMNS", "300")
    assert main(["config", "--config", str(cfg)]) == 0
    table = capsys.readouterr().out
    assert "sk-ant-secret-value" not in table and "[set]" in table
    assert re.search(r"port\s.*4100\s.*c\.toml:2", table)
    assert "$CLAUDE_PROXY_MAX_QUEUE" in table


def test_config_reports_a_bad_file_and_exits_2(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("port = 1\nbogus = 2\n")
    assert main(["config", "--config", str(cfg)]) == 2
    assert f"{cfg}:2: unknown setting 'bogus'" in capsys.readouterr().err


@pytest.mark.parametrize("content, fragment", [
    # a value of the wrong type inside the table names the entry and its own line
    ('port = 1\n[model_aliases]\nfast = "claude-haiku-4-5"\nbig = 3\n',
     ":4: model_aliases.big: expected a string"),
    # the classic trap: a top-level key written after the table header lands in the table
    ('[model_aliases]\nfast = "x"\n\nport = 4000\n', ":4: model_aliases.port: 'port' is a "
     "setting, not a model alias: it is written below the [model_aliases] header, so it belongs to "
     "that table; move it above [model_aliases]"),
    # ... also when its value is a string, which would pass as an alias
    ('port = 1\n[model_aliases]\nfast = "x"\napi_key = "sk-x"\n', ":4: model_aliases.api_key: "
     "'api_key' is a setting, not a model alias: it is written below the [model_aliases] header"),
    ('model_aliases.fast = 1\n', ":1: model_aliases.fast"),
    ('model_aliases = { fast = "" }\n', ":1: model_aliases: alias and model must be non-empty"),
    # an unknown table is an unknown key, at its header line
    ('port = 1\n\n[server]\nhost = "x"\n', ":3: unknown setting 'server'"),
    ('host = { a = 1 }\n', ":1: host: expected a string"),
    ('\nmax_concurrent = 0\n', ":2: max_concurrent: must be between 1 and 256"),
    ('spare_process = "maybe"\n', ":1: spare_process: expected a boolean"),
    ('allowed_origins = 5\n', ":1: allowed_origins: expected a list"),
])
def test_bad_values_and_nested_tables_name_key_and_line(tmp_path, content, fragment):
    cfg = tmp_path / "c.toml"
    cfg.write_text(content)
    with pytest.raises(SettingsError) as info:
        load_settings(env={}, config_file=cfg)
    assert f"file:{cfg}{fragment}" in str(info.value)


@pytest.mark.parametrize("name", [f.name for f in FIELDS])
def test_every_setting_name_below_the_aliases_header_is_an_error(tmp_path, name):
    """A string under [model_aliases] named like a setting is a misplaced setting, not an alias."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[model_aliases]\nfast = "claude-haiku-4-5"\n{name} = "x"\n')
    with pytest.raises(SettingsError) as info:
        load_settings(env={}, config_file=cfg)
    assert f"file:{cfg}:3: model_aliases.{name}: {name!r} is a setting" in str(info.value)
    assert "move it above [model_aliases]" in str(info.value)


def test_a_dotted_alias_named_like_a_setting_says_so(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('model_aliases.host = "claude-haiku-4-5"\n')
    with pytest.raises(SettingsError, match=r":1: model_aliases.host: 'host' is a setting, not a "
                                            r"model alias: set it at the top level"):
        load_settings(env={}, config_file=cfg)
