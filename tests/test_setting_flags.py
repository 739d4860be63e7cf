"""The command-line flags are generated from ``settings.FIELDS``: each declared flag parses
into its setting (source ``flag:--x``), ``--help`` shows the declared help, and the command
``install-service`` writes into a unit parses back into the same flags."""

import re

import pytest

from tui_proxy import cli
from tui_proxy.commands import service
from tui_proxy.config.settings import FIELDS, FLAG_FIELDS, load_settings
from tui_proxy.config.settings_file import render_config

# A value for every flag setting other than its default; a new flag needs one here.
SAMPLES = {"host": "0.0.0.0", "port": "4111", "cwd": None, "cli_path": "/opt/claude",
           "permission_mode": "plan", "mode": "agent", "debug": None, "socket": "proxy.sock"}
EXISTING = ["--host", "--port", "--cwd", "--cli-path", "--mode", "--permission-mode",
            "--debug", "--socket"]


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def no_file(tmp_path, monkeypatch):
    monkeypatch.setattr("tui_proxy.config.settings.default_config_path",
                        lambda: tmp_path / "absent.toml")
    for f in FIELDS:
        if f.env:
            monkeypatch.delenv(f.env, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def argv_of(f, tmp_path) -> list[str]:
    if f.switch:
        return [f.flag_name]
    value = str(tmp_path) if f.name == "cwd" else SAMPLES[f.name]
    return [f.flag_name, value]


def test_the_flags_are_the_declared_ones_and_keep_their_spelling():
    assert [f.flag_name for f in FLAG_FIELDS] == [f"--{f.name.replace('_', '-')}"
                                                   for f in FLAG_FIELDS]
    assert sorted(f.flag_name for f in FLAG_FIELDS) == sorted(EXISTING)
    assert sorted(SAMPLES) == sorted(f.name for f in FLAG_FIELDS)
    assert tuple(f.name for f in FLAG_FIELDS) == cli.SETTING_FLAGS


@pytest.mark.parametrize("f", FLAG_FIELDS, ids=lambda f: f.name)
@pytest.mark.parametrize("command", ["run", "config", "doctor", "install-service"])
def test_every_flag_parses_into_its_setting_from_the_flag(f, command, no_file):
    parser = cli.build_parser() if command == "run" else cli._subparser(command)
    if command != "run":
        cli._add_setting_flags(parser)
    args = parser.parse_args(argv_of(f, no_file))
    settings = load_settings(flags=cli._flags(args), config_file=args.config)
    assert settings.sources[f.name] == f"flag:{f.flag_name}"
    expected = True if f.switch else f.parse(argv_of(f, no_file)[1])
    if f.name == "cwd":
        expected = str(no_file.resolve())
    assert getattr(settings, f.name) == expected
    others = {name: src for name, src in settings.sources.items() if name != f.name}
    assert set(others.values()) == {"default"}, "only the given flag is a flag"


def test_a_bad_flag_value_is_a_usage_error_naming_the_setting_rule(capsys):
    with pytest.raises(SystemExit) as info:
        cli.build_parser().parse_args(["--port", "70000"])
    assert info.value.code == 2
    assert "--port: must be between 0 and 65535" in capsys.readouterr().err


def test_help_lists_every_flag_with_its_declared_help():
    text = words(cli.build_parser().format_help())
    for f in FLAG_FIELDS:
        assert f.flag_name in text
        assert words(f.help) in text, f.name
        if f.choices:
            assert "{" + ",".join(f.choices) + "}" in text
        if f.metavar:
            assert f"{f.flag_name} {f.metavar}" in text


def test_the_mode_help_is_the_settings_file_help():
    mode = next(f for f in FIELDS if f.name == "mode")
    action = next(a for a in cli.build_parser()._actions if "--mode" in a.option_strings)
    assert action.help == mode.help
    assert f"# mode: {mode.help}" in render_config()


def test_the_service_command_line_parses_back_into_the_same_flags(no_file):
    given = {}
    for f in FLAG_FIELDS:
        argv = argv_of(f, no_file)
        given[f.name] = True if f.switch else argv[1]
    settings = load_settings(flags=given, config_file=None)
    argv = service.command(settings, given)
    start = argv.index("--headless")
    args = cli.build_parser().parse_args(argv[start:])
    assert args.headless
    again = load_settings(flags=cli._flags(args), config_file=args.config)
    for f in FLAG_FIELDS:
        assert again.sources[f.name] == f"flag:{f.flag_name}", f.name
        assert getattr(again, f.name) == getattr(settings, f.name) or f.path, f.name
    # path flags are written absolute: the unit runs in another working directory
    assert again.socket == str(no_file / "proxy.sock")
    assert re.fullmatch(r"/.*", again.cwd)


def test_the_service_writes_only_the_flags_given(no_file):
    settings = load_settings(flags={"port": "4200"}, config_file=None)
    argv = service.command(settings, {"port": "4200", "debug": None})
    assert argv[argv.index("--headless") + 1:] == ["--port", "4200"]
