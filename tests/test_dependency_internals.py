"""The private internals of claude-agent-sdk and aiohttp that the proxy relies on, probed one by
one, so that a version pyproject.toml allows which changes one of them fails here, naming it,
instead of breaking the proxy at run time.

claude-agent-sdk (bounded ``<0.3`` in pyproject.toml):
- ``claude_agent_sdk._internal.transport.subprocess_cli.SubprocessCLITransport``
  (``sdk/transport.py`` subclasses it; ``sdk/live_run.py`` builds it with ``prompt=``,
  ``options=`` and hands it to ``ClaudeSDKClient(transport=...)``), and of it:
  - ``_build_command()``, overridden to put the launcher in front of the CLI's argv
    (``sdk/child.py``): ``connect()`` must spawn exactly what it returns;
  - ``_cli_path``, the CLI path (from ``options.cli_path``) the launcher is chosen for;
  - ``_process``, the spawned process: ``pid``, ``returncode``, ``send_signal()``, ``kill()``,
    ``wait()`` (``terminate_now``, ``pid``, ``is_alive``).
- ``claude_agent_sdk._internal.sessions._sanitize_path`` (``sdk/seed.py``): the CLI's project
  folder name for a path longer than 200 sanitised characters (a hash suffix).
- the wheel's layout ``claude_agent_sdk/_bundled/claude`` (``sdk/cli_locate.py``).

aiohttp (bounded ``<4``), all in ``protocol_errors.py``:
- ``aiohttp.web_protocol.RequestHandler`` and its ``handle_error(request, status, exc,
  message)``, which returns a response with ``.text``;
- ``web.Server`` as the per-connection protocol factory (``__call__``), its ``_loop`` and
  ``_kwargs``, and ``RequestHandler(server, loop=..., **kwargs)``;
- ``AppRunner.server`` being a plain ``web.Server`` after ``setup()``, whose ``__class__`` can be
  swapped.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import shutil
import tomllib
import uuid
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from conftest import FAKE_CLAUDE, eventually, read_log

ROOT = Path(__file__).parent.parent
SDK, AIOHTTP = "claude-agent-sdk", "aiohttp"


def requirement(dist: str) -> Requirement:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(r for r in map(Requirement, deps) if r.name == dist)


def broke(dist: str, what: str, user: str) -> str:
    return (f"{dist} {version(dist)} (pyproject allows {requirement(dist).specifier}) changed a "
            f"private internal the proxy uses: {what} — used by tui_proxy/{user}. Adapt that "
            f"code, or exclude this version in pyproject.toml.")


def test_pyproject_bounds_both_and_allows_the_installed_versions():
    for dist in (SDK, AIOHTTP):
        spec = requirement(dist).specifier
        assert any(s.operator in ("<", "<=") for s in spec), \
            f"{dist}: no upper bound in pyproject.toml, yet its private internals are used"
        assert spec.contains(version(dist), prereleases=True), \
            f"{dist} {version(dist)} is installed but pyproject.toml allows only {spec}"


# ------------------------------------------------------------------ claude-agent-sdk

def _transport_class():
    try:
        from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport
    except ImportError as exc:
        pytest.fail(broke(SDK, "claude_agent_sdk._internal.transport.subprocess_cli."
                          f"SubprocessCLITransport cannot be imported ({exc})",
                          "sdk/transport.py"))
    return SubprocessCLITransport


async def _no_prompt():
    return
    yield {}  # pragma: no cover - an async generator, as sdk/live_run.py passes


def test_sdk_subprocess_transport_class_constructor_and_attributes():
    import claude_agent_sdk
    from claude_agent_sdk import ClaudeAgentOptions

    cls = _transport_class()
    where = "sdk/transport.py"
    assert issubclass(cls, claude_agent_sdk.Transport), \
        broke(SDK, "SubprocessCLITransport is no longer a claude_agent_sdk.Transport", where)
    params = inspect.signature(cls.__init__).parameters
    assert {"prompt", "options"} <= set(params), \
        broke(SDK, f"SubprocessCLITransport(prompt=, options=) is now ({', '.join(params)})",
              "sdk/live_run.py")
    assert callable(getattr(cls, "_build_command", None)), \
        broke(SDK, "SubprocessCLITransport._build_command() is gone", where)
    assert not inspect.signature(cls._build_command).parameters.keys() - {"self"}, \
        broke(SDK, "SubprocessCLITransport._build_command() now takes arguments", where)
    transport = cls(prompt=_no_prompt(), options=ClaudeAgentOptions(cli_path=str(FAKE_CLAUDE)))
    assert getattr(transport, "_cli_path", "missing") == str(FAKE_CLAUDE), \
        broke(SDK, "SubprocessCLITransport._cli_path no longer holds options.cli_path", where)
    assert getattr(transport, "_process", "missing") is None, \
        broke(SDK, "SubprocessCLITransport._process is not None before connect()", where)


async def test_sdk_transport_spawns_what_build_command_returns_and_exposes_its_process():
    from claude_agent_sdk import ClaudeAgentOptions

    _transport_class()
    from tui_proxy.sdk.transport import FastCloseTransport

    mark = f"CLAUDE_PROXY_PROBE={uuid.uuid4().hex}"

    class Probe(FastCloseTransport):
        def _build_command(self) -> list[str]:
            return [shutil.which("env") or "/usr/bin/env", mark, *super()._build_command()]

    where = "sdk/transport.py"
    transport = Probe(prompt=_no_prompt(), options=ClaudeAgentOptions(cli_path=str(FAKE_CLAUDE)))
    await transport.connect()
    try:
        process = transport._process
        missing = [name for name in ("pid", "returncode", "send_signal", "kill", "wait")
                   if not hasattr(process, name)]
        assert process is not None and not missing, \
            broke(SDK, f"SubprocessCLITransport._process after connect() lacks {missing}", where)
        # the fake CLI logs its CLAUDE_* environment as it starts
        await eventually(lambda: any(e.get("event") == "start" and e["pid"] == transport.pid
                                     for e in read_log()), what="the fake CLI's start")
        start = next(e for e in read_log() if e.get("event") == "start"
                     and e["pid"] == transport.pid)
        name, value = mark.split("=")
        assert start["env"].get(name) == value, \
            broke(SDK, "connect() no longer spawns the command _build_command() returns "
                  "(the launcher that ends the CLI with the proxy would be skipped)", where)
        await transport.terminate_now()
        assert process.returncode is not None and not transport.is_alive(), \
            broke(SDK, "SubprocessCLITransport._process.returncode stays None after kill()",
                  where)
    finally:
        await transport.close()


def test_sdk_sanitize_path_is_the_clis_project_folder_name():
    try:
        from claude_agent_sdk._internal.sessions import _sanitize_path
    except ImportError as exc:
        pytest.fail(broke(SDK, f"claude_agent_sdk._internal.sessions._sanitize_path cannot be "
                          f"imported ({exc}); long project paths would be cut without the "
                          "CLI's hash suffix", "config/locations.py"))
    from tui_proxy.config.locations import cli_project_dir as project_dir

    where = "config/locations.py"
    assert _sanitize_path("/home/me/my project.v2") == "-home-me-my-project-v2", \
        broke(SDK, "_sanitize_path() no longer turns every non-alphanumeric into '-'", where)
    long = "/" + "/".join(["a-very-long-directory-name"] * 12)
    flat = re.sub(r"[^a-zA-Z0-9]", "-", long)
    got = _sanitize_path(long)
    assert got.startswith(flat[:200] + "-") and len(got) > 201 and got != flat[:200], \
        broke(SDK, f"_sanitize_path() of a {len(flat)}-character path is {got!r}, not its first "
              "200 characters plus '-' and a hash", where)
    assert project_dir(long).name == got, \
        broke(SDK, "project_dir() no longer names long paths as _sanitize_path() does", where)


def test_sdk_wheel_bundles_the_cli_where_cli_locate_looks():
    from tui_proxy.sdk.cli_locate import _bundled

    path = _bundled()
    assert path is not None and os.access(path, os.X_OK), \
        broke(SDK, "the wheel no longer ships its CLI as claude_agent_sdk/_bundled/claude",
              "sdk/cli_locate.py")


# ------------------------------------------------------------------ aiohttp

def _request_handler():
    try:
        from aiohttp.web_protocol import RequestHandler
    except ImportError as exc:
        pytest.fail(broke(AIOHTTP, f"aiohttp.web_protocol.RequestHandler cannot be imported "
                          f"({exc})", "http/protocol_errors.py"))
    return RequestHandler


def test_aiohttp_handle_error_signature():
    handler = _request_handler()
    params = list(inspect.signature(handler.handle_error).parameters)
    assert params[:5] == ["self", "request", "status", "exc", "message"], \
        broke(AIOHTTP, f"RequestHandler.handle_error{tuple(params)} is no longer "
              "(self, request, status, exc, message)", "http/protocol_errors.py")


async def test_aiohttp_server_is_the_protocol_factory_with_loop_and_kwargs():
    from aiohttp import web

    handler_cls = _request_handler()
    where = "http/protocol_errors.py"

    async def app(request):  # pragma: no cover - never called
        return web.Response()

    server = web.Server(app)
    assert isinstance(getattr(server, "_loop", None), asyncio.AbstractEventLoop), \
        broke(AIOHTTP, "web.Server._loop is gone", where)
    assert isinstance(getattr(server, "_kwargs", None), dict), \
        broke(AIOHTTP, "web.Server._kwargs is gone", where)
    assert type(server()) is handler_cls, \
        broke(AIOHTTP, "web.Server() no longer makes a web_protocol.RequestHandler per "
              "connection", where)
    try:
        handler_cls(server, loop=server._loop, **server._kwargs)
    except TypeError as exc:
        pytest.fail(broke(AIOHTTP, f"RequestHandler(server, loop=..., **kwargs) fails ({exc})",
                          where))


async def test_aiohttp_runner_server_swap_shapes_protocol_errors_end_to_end():
    from aiohttp import web

    from tui_proxy.http.protocol_errors import shape_protocol_errors

    where = "http/protocol_errors.py"
    runner = web.AppRunner(web.Application())
    await runner.setup()
    try:
        assert type(runner.server) is web.Server, \
            broke(AIOHTTP, f"AppRunner.server is a {type(runner.server).__name__} after "
                  "setup(), not a web.Server", where)
        shape_protocol_errors(runner)
        assert type(runner.server).__name__ == "_ShapedServer", \
            broke(AIOHTTP, "swapping AppRunner.server.__class__ did not take", where)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"THIS IS NOT HTTP\r\n\r\n")
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        try:
            error = json.loads(body)
        except ValueError:
            error = None
        assert isinstance(error, dict) and error.get("type") == "error" and \
            error["error"]["type"] == "invalid_request_error", \
            broke(AIOHTTP, "a malformed request line is no longer answered through "
                  f"RequestHandler.handle_error as shaped JSON (got {raw[:200]!r})", where)
        assert re.match(rb"HTTP/1\.[01] 400 ", head), raw[:200]
    finally:
        await runner.cleanup()
