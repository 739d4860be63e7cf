import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Imported now, not lazily: hypothesis' pytest plugin imports it at the terminal summary, and
# pytest's assertion rewriting (ast.parse) that late can hit CPython 3.11.7's "AST constructor
# recursion depth mismatch" once a garbage-collected subprocess transport complained.
import hypothesis  # noqa: F401,E402

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
os.environ.pop("NO_COLOR", None)
FAKE_CLAUDE = TESTS / "fake_cli" / "fake_claude"
SESSION_LOG = Path(os.environ.get("TMPDIR", "/tmp")) / f"fake-claude-{os.getpid()}.jsonl"
# Every fake CLI spawned by this test run logs here, so the run can prove none is left.
os.environ["FAKE_CLAUDE_LOG"] = str(SESSION_LOG)
# The fake's session store: inside the run's temp dir, not the user's ~/.claude.
os.environ["FAKE_CLAUDE_STATE_DIR"] = tempfile.mkdtemp(prefix="fake-claude-sessions-")
# The journal (platform state dir) of in-process proxies and subprocesses: a temp dir.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="proxy-state-")
# Transcripts the proxy seeds (and the CLI reads) go to a temp config dir, not ~/.claude.
os.environ["CLAUDE_CONFIG_DIR"] = tempfile.mkdtemp(prefix="fake-claude-config-")

from tui_proxy.core.bus import EventBus  # noqa: E402
from tui_proxy.core.engine import Engine  # noqa: E402
from tui_proxy.sdk.runner import sdk_engine  # noqa: E402
from tui_proxy.http.server import ProxyServer  # noqa: E402
from tui_proxy.config.settings import Settings  # noqa: E402


def read_log(path: Path = SESSION_LOG) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def live_fake_pids(path: Path = SESSION_LOG) -> list[int]:
    pids = {entry["pid"] for entry in read_log(path) if entry.get("event") == "start"}
    return sorted(pid for pid in pids if pid_alive(pid))


async def eventually(condition, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll until ``condition()`` holds: fixed sleeps flake on a loaded 2-core CI machine."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not reached in {timeout} s"
        await asyncio.sleep(0.02)


async def wait_no_fake_alive(timeout: float = 5.0, path: Path = SESSION_LOG) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = live_fake_pids(path)
        if not alive:
            return []
        await asyncio.sleep(0.02)
    return live_fake_pids(path)


@pytest.fixture(scope="session", autouse=True)
def no_cli_left_behind():
    """Process hygiene for the whole run: after the suite, no fake CLI is alive."""
    SESSION_LOG.unlink(missing_ok=True)
    yield
    deadline = time.monotonic() + 5
    while live_fake_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = live_fake_pids()
    SESSION_LOG.unlink(missing_ok=True)
    shutil.rmtree(os.environ["FAKE_CLAUDE_STATE_DIR"], ignore_errors=True)
    shutil.rmtree(os.environ["CLAUDE_CONFIG_DIR"], ignore_errors=True)
    shutil.rmtree(os.environ["XDG_STATE_HOME"], ignore_errors=True)
    assert not alive, f"fake CLI processes outlived the test run: {alive}"


@dataclass
class RunningProxy:
    engine: Engine
    server: ProxyServer
    bus: EventBus
    events: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def collect(self) -> list:
        self.events.extend(self._sub.drain())
        return self.events

    def kinds(self, flow_id=None) -> list[str]:
        return [e.kind for e in self.collect() if flow_id is None or e.flow_id == flow_id]


def make_settings(tmp_path: Path, **overrides) -> Settings:
    # No spare process by default: tests that count CLI starts stay exact.
    values = dict(host="127.0.0.1", port=0, cwd=str(tmp_path), cli_path=str(FAKE_CLAUDE),
                  timeout_ms=60_000, inactivity_ms=30_000, spare_process=False)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def start_proxy(tmp_path):
    """``await start_proxy(**settings)`` → a running in-process proxy on the fake CLI."""
    started: list[RunningProxy] = []

    async def start(**overrides) -> RunningProxy:
        bus = EventBus()
        engine = sdk_engine(make_settings(tmp_path, **overrides), bus)
        proxy = RunningProxy(engine, ProxyServer(engine), bus)
        proxy._sub = bus.subscribe(name="test")
        await proxy.server.start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        await proxy.server.stop()
    assert await wait_no_fake_alive() == [], "a fake CLI outlived its test"


@pytest.fixture
async def proxy(start_proxy) -> RunningProxy:
    return await start_proxy()


@pytest.fixture
def anthropic_client(proxy):
    import anthropic

    return anthropic.AsyncAnthropic(base_url=proxy.url, api_key="test-key", max_retries=0,
                                    timeout=30)
