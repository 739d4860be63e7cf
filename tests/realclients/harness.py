"""Real clients against the proxy, offline: the pieces the scenarios (``scenarios.py``) share.

- :class:`Tap` — a recording forwarder on 127.0.0.1: the client talks to it, it forwards to the
  proxy byte for byte (SSE streamed through) and records every request's method, path, headers
  and JSON body, and the response's status and text. The record is what the client really sent.
- :class:`ProxyHarness` — the proxy in-process (``Engine`` + ``ProxyServer`` on port 0) on the
  FAKE CLI (``tests/fake_cli/fake_claude``, ``mode="auto"``: requests with tools run in
  passthrough), with a :class:`Tap` in front; ``async with ProxyHarness(work) as h: h.url``.
- :func:`client_env` — a throwaway, offline environment for a client subprocess (a fresh HOME,
  no inherited Anthropic credentials, telemetry and update checks off).
- OpenCode, Claude Code and node helpers that run one client invocation with a deadline and
  always reap the process.

Everything here must run INSIDE a loopback-only network namespace
(``unshare -rn sh -c 'ip link set lo up && exec …'``); :func:`only_loopback` tells, and
``scenarios.py`` refuses to run without it, so a client can never reach the internet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent
for path in (str(TESTS), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

from aiohttp import ClientSession, ClientTimeout, web  # noqa: E402

from netns import leftover_processes, only_loopback  # noqa: E402,F401 (scenarios use them)
from tui_proxy.core.bus import EventBus  # noqa: E402
from tui_proxy.sdk.runner import sdk_engine  # noqa: E402
from tui_proxy.http.server import ProxyServer  # noqa: E402
from tui_proxy.config.settings import Settings  # noqa: E402

FAKE_CLAUDE = TESTS / "fake_cli" / "fake_claude"
NODE_MODULES = HERE / "node_modules"
SECRET_HEADERS = {"x-api-key", "authorization", "proxy-authorization", "cookie"}
HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "keep-alive",
               "accept-encoding", "content-encoding", "upgrade"}
RESPONSE_CAP = 200_000  # characters of each response body kept in the record


# --- isolation -------------------------------------------------------------------------------

def bundled_claude() -> Path:
    import claude_agent_sdk
    return Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"


def opencode_binary() -> Path | None:
    """OpenCode's native binary: the launcher ``opencode-ai`` links into place at install,
    else the platform package it comes from (an optional dependency of ``opencode-ai``)."""
    candidates = [NODE_MODULES / "opencode-ai" / "bin" / "opencode.exe"]
    candidates += sorted(NODE_MODULES.glob("opencode-linux-*/bin/opencode"))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK) and \
                candidate.stat().st_size > 1_000_000:
            return candidate
    return None


def node_module(name: str) -> Path:
    return NODE_MODULES / name


# --- the recording tap -----------------------------------------------------------------------

def _redacted(headers: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers.items():
        key = key.lower()
        out[key] = "[redacted]" if key in SECRET_HEADERS else value
    return out


class Tap:
    """Forwards every request to ``target`` and records what the client sent."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.records: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.session: ClientSession | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.session = ClientSession(timeout=ClientTimeout(total=None, sock_read=None),
                                     auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")[:2000]
        record: dict[str, Any] = {"t": time.time(), "method": request.method,
                                  "path": request.path_qs, "headers": _redacted(request.headers),
                                  "body": body}
        self.records.append(record)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        assert self.session is not None
        async with self.session.request(request.method, self.target + request.path_qs,
                                        headers=headers, data=raw) as upstream:
            response = web.StreamResponse(status=upstream.status, headers={
                k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS})
            record["status"] = upstream.status
            record["response_headers"] = dict(upstream.headers)
            await response.prepare(request)
            chunks: list[bytes] = []
            size = 0
            async for chunk in upstream.content.iter_any():
                if size < RESPONSE_CAP:
                    chunks.append(chunk)
                    size += len(chunk)
                await response.write(chunk)
            await response.write_eof()
        record["response"] = b"".join(chunks).decode(errors="replace")[:RESPONSE_CAP]
        return response

    # views of the record
    def messages_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["method"] == "POST" and
                r["path"].split("?")[0].rstrip("/").endswith("/messages")]


# --- the proxy -------------------------------------------------------------------------------

class ProxyHarness:
    """The proxy in-process on the fake CLI, a recording tap in front. Clients use ``url``."""

    def __init__(self, work: Path, **settings: Any) -> None:
        values = dict(host="127.0.0.1", port=0, cwd=str(work), cli_path=str(FAKE_CLAUDE),
                      mode="auto", timeout_ms=60_000, inactivity_ms=45_000,
                      spare_process=False, journal_dir=str(work / "journal"))
        values.update(settings)
        self.bus = EventBus()
        self.engine = sdk_engine(Settings(**values), self.bus)
        self.server = ProxyServer(self.engine)
        self.tap: Tap | None = None

    async def __aenter__(self) -> ProxyHarness:
        if not only_loopback():
            raise RuntimeError("refusing to start real clients outside a loopback-only network "
                               "namespace (unshare -rn sh -c 'ip link set lo up && exec …')")
        await self.server.start()
        self.tap = Tap(self.server.url)
        await self.tap.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.tap is not None:
            await self.tap.stop()
        await self.server.stop()

    @property
    def url(self) -> str:
        """The address clients use: the tap, which forwards to the proxy."""
        assert self.tap is not None
        return self.tap.url

    @property
    def records(self) -> list[dict[str, Any]]:
        assert self.tap is not None
        return self.tap.records

    def flows(self) -> list[dict[str, Any]]:
        return [{"id": f.id, "state": f.state.value, "mode": f.mode, "model": f.model,
                 "stop": f.stop_reason, "error": f.error} for f in self.engine.flows.all()]


# --- client processes ------------------------------------------------------------------------

def client_env(home: Path, base_url: str | None = None, **extra: str) -> dict[str, str]:
    """A client's whole environment: nothing inherited but PATH and the locale."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TERM": "dumb",
        "HOME": str(home), "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CACHE_HOME": str(home / ".cache"), "XDG_STATE_HOME": str(home / ".local/state"),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_API_KEY": "dummy",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1",
        "OPENCODE_DISABLE_MODELS_FETCH": "1", "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1", "OPENCODE_DISABLE_SHARE": "1",
        "OPENCODE_DISABLE_CLAUDE_CODE": "1", "OPENCODE_DISABLE_EXTERNAL_SKILLS": "1",
        "NO_COLOR": "1", "CI": "1",
    }
    if base_url:
        env["ANTHROPIC_BASE_URL"] = base_url
    env.update(extra)
    return env


async def run_process(argv: list[str], *, env: dict[str, str], cwd: Path,
                      timeout: float = 40.0, stdin: bytes | None = None) -> dict[str, Any]:
    """Run one client invocation; it is killed (and reaped) at the deadline."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=str(cwd), start_new_session=True,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    timed_out = False
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        timed_out = True
        stdout, stderr = b"", b""
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)  # the client and whatever it started, nothing else
            await proc.wait()
    return {"exit": proc.returncode, "timed_out": timed_out,
            "seconds": round(time.monotonic() - started, 2),
            "stdout": stdout.decode(errors="replace"), "stderr": stderr.decode(errors="replace")}


def opencode_project(project: Path, base_url: str, *, model: str = "claude-sonnet-4-5",
                     small_model: str = "claude-haiku-4-5") -> Path:
    """A throwaway OpenCode project whose anthropic provider points at ``base_url``."""
    project.mkdir(parents=True, exist_ok=True)
    config = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {"anthropic": {"options": {"baseURL": base_url + "/v1", "apiKey": "dummy"}}},
        "model": f"anthropic/{model}", "small_model": f"anthropic/{small_model}",
        "autoupdate": False, "share": "disabled",
        "permission": {"edit": "allow", "bash": "allow", "webfetch": "deny",
                       "external_directory": "allow"},
    }
    (project / "opencode.json").write_text(json.dumps(config, indent=2))
    return project


def opencode_events(stdout: str) -> list[dict[str, Any]]:
    events = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


async def run_opencode(project: Path, home: Path, message: str | list[str], *,
                       extra: list[str] = (), timeout: float = 45.0) -> dict[str, Any]:
    """``opencode run --format json … MESSAGE``. OpenCode wraps an argument that contains
    spaces in double quotes and escapes the quotes inside it, so a directive with JSON in it
    goes as its own argument (a list of words: each word one argument, joined by spaces)."""
    words = [message] if isinstance(message, str) else list(message)
    binary = opencode_binary()
    assert binary is not None, "OpenCode is not installed (npm install --prefix tests/realclients)"
    result = await run_process(
        [str(binary), "run", "--format", "json", *extra, *words],
        env=client_env(home), cwd=project, timeout=timeout)
    result["events"] = opencode_events(result["stdout"])
    return result


async def opencode_tui_interrupt(project: Path, home: Path, first: str, then: str, *,
                                 running: Any, command: str, answer: str,
                                 timeout: float = 60.0) -> dict[str, Any]:
    """OpenCode's interactive TUI in a tmux pane: send ``first``, wait until ``running()`` says
    its tool call is under way and the TUI shows ``command`` running, press Esc twice
    (OpenCode's interrupt), then send ``then`` and wait for ``answer`` on the screen. Returns
    the screens seen; tmux is always killed."""
    tmux = shutil.which("tmux")
    assert tmux is not None, "tmux is not installed"
    socket = f"realclients-{os.getpid()}"
    env = client_env(home)
    env.pop("CI", None)
    env["TERM"] = "xterm-256color"

    def run_tmux(*args: str) -> str:
        import subprocess
        return subprocess.run([tmux, "-L", socket, *args], capture_output=True, text=True,
                              timeout=10).stdout

    async def until(condition: Any, what: str) -> None:
        deadline = time.monotonic() + timeout  # a loaded 2-core machine boots OpenCode slowly
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"OpenCode TUI: {what} not reached; screen:\n"
                                   + run_tmux("capture-pane", "-p", "-t", "oc"))
            await asyncio.sleep(0.25)

    screens: dict[str, str] = {}
    pane: int | None = None
    try:
        run_tmux("new-session", "-d", "-x", "160", "-y", "45", "-s", "oc", "-c", str(project),
                 "env", "-i", *[f"{k}={v}" for k, v in env.items()], str(opencode_binary()))
        pane = int(run_tmux("list-panes", "-t", "oc", "-F", "#{pane_pid}").split()[0])
        await until(lambda: "ctrl+p commands" in run_tmux("capture-pane", "-p", "-t", "oc"),
                    "the prompt")
        run_tmux("send-keys", "-t", "oc", "-l", first)
        run_tmux("send-keys", "-t", "oc", "Enter")
        await until(running, "the tool call")
        await until(lambda: "esc interrupt" in (screen := run_tmux("capture-pane", "-p", "-t",
                                                                  "oc")) and command in screen,
                    "the running tool")
        screens["running"] = run_tmux("capture-pane", "-p", "-t", "oc")
        # Esc twice interrupts; a loaded machine can drop a key press, so press again
        # (in pairs) until the TUI says so.
        deadline = time.monotonic() + timeout
        while "interrupted" not in run_tmux("capture-pane", "-p", "-t", "oc"):
            if time.monotonic() > deadline:
                raise TimeoutError("OpenCode TUI: the interrupt not reached; screen:\n"
                                   + run_tmux("capture-pane", "-p", "-t", "oc"))
            run_tmux("send-keys", "-t", "oc", "Escape")
            await asyncio.sleep(0.2)
            run_tmux("send-keys", "-t", "oc", "Escape")
            for _ in range(12):
                await asyncio.sleep(0.25)
                if "interrupted" in run_tmux("capture-pane", "-p", "-t", "oc"):
                    break
        screens["interrupted"] = run_tmux("capture-pane", "-p", "-t", "oc")
        run_tmux("send-keys", "-t", "oc", "-l", then)
        run_tmux("send-keys", "-t", "oc", "Enter")
        await until(lambda: answer in run_tmux("capture-pane", "-p", "-t", "oc"),
                    "the answer to the new message")
        screens["after"] = run_tmux("capture-pane", "-p", "-t", "oc")
    finally:
        run_tmux("kill-server")
        # tmux daemonizes, so OpenCode is no child of ours: end its process group ourselves.
        deadline = time.monotonic() + 5
        while pane is not None and _alive(pane) and time.monotonic() < deadline:
            if time.monotonic() > deadline - 4:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pane, 9)
            await asyncio.sleep(0.1)
    return screens


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


async def run_node(script: Path, base_url: str, home: Path, *args: str,
                   timeout: float = 40.0) -> dict[str, Any]:
    """A node script that prints one JSON line of findings."""
    node = shutil.which("node")
    assert node is not None, "node is not installed"
    result = await run_process([node, str(script), base_url, *args],
                               env=client_env(home, NODE_PATH=str(NODE_MODULES)),
                               cwd=HERE, timeout=timeout)
    lines = [line for line in result["stdout"].splitlines() if line.startswith("{")]
    result["findings"] = json.loads(lines[-1]) if lines else None
    return result


def redact_body(body: Any, text_cap: int = 500) -> Any:
    """A small, shareable copy of a recorded body: long strings cut to ``text_cap``."""
    if isinstance(body, str):
        return body if len(body) <= text_cap else body[:text_cap] + f"…[{len(body)} chars]"
    if isinstance(body, list):
        return [redact_body(v, text_cap) for v in body]
    if isinstance(body, dict):
        return {k: redact_body(v, text_cap) for k, v in body.items()}
    return body
