"""Other users of this machine cannot drive the proxy: the Unix socket (mode 0600, official SDK
over it, stale/live files, removed on stop) and the same-user check on loopback TCP (a client
run as uid 65534 through setpriv is refused 403 and journalled; allow_other_users lets it in),
plus the /proc/net/tcp parser on recorded rows."""

import asyncio
import json
import os
import shutil
import socket
import stat
import sys
from pathlib import Path

import aiohttp
import pytest

from conftest import eventually
from tui_proxy.http import localusers
from tui_proxy.http.localusers import SocketRefused, bind_private_socket, owner_in, parse_proc_net

MODEL = "claude-sonnet-5-5"
BODY = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}

# Recorded on x86-64 Linux (little-endian): a listener on 127.0.0.1:57571, a client of uid 65534
# on 127.0.0.1:50350 connected to it, and the server's accepted end (uid 0); the same over
# ::1 (listener 43741, client 48660).
PROC_TCP = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
    "  timeout inode\n"
    "   0: 0100007F:E0E3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0"
    "        0 546284 1 0000000059822512 100 0 0 10 0\n"
    "   4: 0100007F:C4AE 0100007F:E0E3 01 00000000:00000000 00:00000000 00000000 65534"
    "        0 546846 2 000000004ad9502a 20 0 0 10 -1\n"
    "   5: 0100007F:E0E3 0100007F:C4AE 01 00000000:00000000 00:00000000 00000000     0"
    "        0 546286 1 00000000fbf6d4dd 20 0 0 10 -1\n"
    "   6: 0100007F:C4AF 0100007F:E0E3 06 00000000:00000000 03:00000A3C 00000000     0"
    "        0 0 3 0000000000000000\n"
)
PROC_TCP6 = (
    "  sl  local_address                         remote_address                        st"
    " tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000001000000:AADD 00000000000000000000000000000000:0000 0A"
    " 00000000:00000000 00:00000000 00000000     0        0 546849 1 0000000069778428 100 0 0"
    " 10 0\n"
    "   1: 00000000000000000000000001000000:BE14 00000000000000000000000001000000:AADD 01"
    " 00000000:00000000 00:00000000 00000000 65534        0 546348 2 0000000012ebc1e5 20 0 0"
    " 10 -1\n"
    "   2: 00000000000000000000000001000000:AADD 00000000000000000000000001000000:BE14 01"
    " 00000000:00000000 00:00000000 00000000     0        0 546851 1 0000000012b7db2e 20 0 0"
    " 10 -1\n"
    "   3: 0000000000000000FFFF00000100007F:C000 0000000000000000FFFF00000100007F:0D80 01"
    " 00000000:00000000 00:00000000 00000000  1000        0 1 2 0000000012ebc1e5 20 0 0 10 -1\n"
)


# ------------------------------------------------------------------ the parser

def test_proc_net_tcp_rows_are_decoded():
    rows = parse_proc_net(PROC_TCP, "little")
    assert rows[0] == (("127.0.0.1", 57571), ("0.0.0.0", 0), "0A", 0)
    assert rows[1] == (("127.0.0.1", 50350), ("127.0.0.1", 57571), "01", 65534)
    six = parse_proc_net(PROC_TCP6, "little")
    assert six[1] == (("::1", 48660), ("::1", 43741), "01", 65534)
    assert six[3][0] == ("127.0.0.1", 49152), "IPv4-mapped addresses come back as IPv4"


def test_the_owner_is_the_row_whose_local_end_is_the_peer():
    server = ("127.0.0.1", 57571)
    assert owner_in(PROC_TCP, ("127.0.0.1", 50350), server, "little") == 65534
    assert owner_in(PROC_TCP, server, ("127.0.0.1", 50350), "little") == 0  # our own end
    assert owner_in(PROC_TCP6, ("::1", 48660), ("::1", 43741), "little") == 65534
    assert owner_in(PROC_TCP6, ("127.0.0.1", 49152), ("127.0.0.1", 3456), "little") == 1000
    # A TIME_WAIT row reads uid 0: never taken for root's connection.
    assert owner_in(PROC_TCP, ("127.0.0.1", 50351), server, "little") is None
    assert owner_in(PROC_TCP, ("127.0.0.1", 1), server, "little") is None


def test_the_live_proc_files_find_this_processes_own_connection():
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp on this system")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    conn, peer = listener.accept()
    try:
        owner = localusers.tcp_owner(peer, conn.getsockname())
        assert owner.uid == os.geteuid()
    finally:
        for s in (conn, client, listener):
            s.close()


def test_the_unix_socket_peer_is_told_by_so_peercred():
    if not hasattr(socket, "SO_PEERCRED"):
        pytest.skip("no SO_PEERCRED on this system")
    left, right = socket.socketpair()
    try:
        assert localusers.unix_owner(left).uid == os.geteuid()
    finally:
        left.close()
        right.close()


# ------------------------------------------------------------------ the Unix socket

def sdk_stream_over(path: str) -> str:
    import anthropic
    import httpx2 as httpx

    client = anthropic.Anthropic(
        base_url="http://localhost", api_key="x", max_retries=0, timeout=30,
        http_client=httpx.Client(transport=httpx.HTTPTransport(uds=path)))
    with client.messages.stream(**BODY | {"messages": [
            {"role": "user", "content": "over the socket"}]}) as stream:
        text = "".join(stream.text_stream)
    client.close()
    return text


async def test_the_official_sdk_streams_over_the_unix_socket(start_proxy, tmp_path):
    path = tmp_path / "run" / "proxy.sock"
    proxy = await start_proxy(socket=str(path))
    info = path.lstat()
    assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700, "the folder it made is 0700"
    assert [p.name for p in path.parent.iterdir()] == ["proxy.sock"], "no temp left behind"
    assert await asyncio.to_thread(sdk_stream_over, str(path)) == "You said: over the socket"
    async with (
        aiohttp.ClientSession(connector=aiohttp.UnixConnector(str(path))) as session,
        # Any Host is fine over the socket: no browser can reach it.
        session.get("http://proxy.invalid/health") as resp,
    ):
        health = await resp.json()
    assert resp.status == 200 and health["socket"] == str(path)
    assert str(path) in proxy.server.where and proxy.server.url in proxy.server.where
    await proxy.server.stop()
    assert not path.exists(), "the socket is removed on stop"


async def test_a_stale_socket_is_replaced_and_a_live_one_refused(start_proxy, tmp_path):
    path = tmp_path / "proxy.sock"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: a proxy that died
    proxy = await start_proxy(socket=str(path))
    async with (
        aiohttp.ClientSession(connector=aiohttp.UnixConnector(str(path))) as session,
        session.get("http://localhost/v1/models") as resp,
    ):
        assert resp.status == 200
    with pytest.raises(SocketRefused, match="another process .* is listening on it"):
        await start_proxy(socket=str(path))
    assert path.exists(), "the live proxy's socket is left alone"
    async with (
        aiohttp.ClientSession(connector=aiohttp.UnixConnector(str(path))) as session,
        session.get("http://localhost/v1/models") as resp,
    ):
        assert resp.status == 200
    await proxy.server.stop()
    assert not path.exists()


def test_headless_socket_flag_curl_and_clean_stop(tmp_path):
    """`--headless --socket PATH` as a person runs it: the start line names the socket, curl
    --unix-socket (as the README shows) reaches it, SIGTERM removes it."""
    import re
    import signal
    import subprocess

    from conftest import FAKE_CLAUDE

    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    path = tmp_path / "rt" / "proxy.sock"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_PROXY_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_proxy", "--headless", "--port", "0", "--socket", str(path),
         "--cli-path", str(FAKE_CLAUDE), "--cwd", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()
        assert re.search(r"listening on http://127\.0\.0\.1:\d+ and unix:" + re.escape(str(path)),
                         first), first
        curl = subprocess.run(
            ["curl", "-sS", "--unix-socket", str(path), "http://localhost/v1/messages",
             "-H", "content-type: application/json", "-d", json.dumps(BODY)],
            capture_output=True, text=True, timeout=30)
        assert json.loads(curl.stdout)["content"][0]["text"] == "You said: hi", curl
        assert stat.S_IMODE(path.lstat().st_mode) == 0o600
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not path.exists(), "SIGTERM removes the socket"


def test_a_non_socket_file_or_a_shared_folder_is_refused(tmp_path):
    plain = tmp_path / "not-a-socket"
    plain.write_text("mine")
    with pytest.raises(SocketRefused, match="not a socket"):
        bind_private_socket(str(plain))
    assert plain.read_text() == "mine"
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(SocketRefused, match="other users can write to it"):
        bind_private_socket(str(shared / "p.sock"))


# ------------------------------------------------------------------ other users on TCP

NOBODY = 65534
CLIENT = """
import json, sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1] + "/v1/messages", data=sys.argv[2].encode(),
                             headers={"content-type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=30) as r:
        print(json.dumps({"status": r.status, "body": json.loads(r.read())}))
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code, "body": json.loads(e.read())}))
"""


def _python_for_nobody() -> str | None:
    """An interpreter uid 65534 can run (pyenv's under /root is out of its reach)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", sys.executable):
        if candidate and os.path.exists(candidate):
            st = os.stat(candidate)
            if st.st_mode & stat.S_IXOTH and "/root/" not in os.path.realpath(candidate):
                return candidate
    return None


def need_setpriv() -> str:
    if os.geteuid() != 0:
        pytest.skip("running a client as another user needs root (setpriv --reuid)")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp: the same-user check has nothing to read here")
    python = _python_for_nobody()
    if python is None:
        pytest.skip("no python3 that uid 65534 may execute")
    return python


async def as_nobody(python: str, url: str, body: dict) -> dict:
    proc = await asyncio.create_subprocess_exec(
        "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
        python, "-I", "-c", CLIENT, url, json.dumps(body), cwd="/",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


async def post(url: str, body: dict, headers: dict | None = None):
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/v1/messages", json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


def journal_records(folder: Path) -> list[dict]:
    return [json.loads(line) for p in sorted(folder.glob("*.jsonl"))
            for line in p.read_text().splitlines() if line.strip()]


async def test_another_users_connection_is_refused_and_journalled(start_proxy, tmp_path):
    python = need_setpriv()
    folder = tmp_path / "journal"
    proxy = await start_proxy(journal_dir=str(folder))
    reply = await as_nobody(python, proxy.url, BODY)
    assert reply["status"] == 403, reply
    error = reply["body"]
    assert error["type"] == "error" and error["error"]["type"] == "permission_error"
    message = error["error"]["message"]
    assert f"uid {NOBODY}" in message and "allow_other_users" in message and "api_key" in message
    refused = [f for f in proxy.engine.flows.all() if f.mode == "rejected"]
    assert [f.error["status"] for f in refused] == [403]
    await eventually(lambda: any(r.get("request_id") == refused[0].request_id
                                 and r.get("record") == "end" for r in journal_records(folder))
                     if folder.exists() else False, what="the refusal's journal end record")
    # The proxy's own user (root here) is served.
    status, body = await post(proxy.url, BODY)
    assert status == 200 and body["content"][0]["text"] == "You said: hi"


async def test_allow_other_users_lets_them_in(start_proxy):
    python = need_setpriv()
    proxy = await start_proxy(allow_other_users=True)
    reply = await as_nobody(python, proxy.url, BODY)
    assert reply["status"] == 200, reply
    assert reply["body"]["content"][0]["text"] == "You said: hi"


async def test_the_owner_is_looked_up_once_per_connection(start_proxy):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp on this system")
    proxy = await start_proxy()
    before = localusers.lookups
    async with aiohttp.ClientSession() as session:  # one keep-alive connection
        for _ in range(5):
            async with session.get(proxy.url + "/v1/models") as resp:
                assert resp.status == 200
    assert localusers.lookups - before == 1


async def test_when_owners_cannot_be_told_it_says_so_once(start_proxy, monkeypatch):
    monkeypatch.setattr(localusers, "tcp_owner",
                        lambda peer, ours: localusers.Owner(None, "/proc/net/tcp cannot be read"))
    proxy = await start_proxy()
    for _ in range(3):
        async with (
            aiohttp.ClientSession() as session,  # a new connection each time
            session.get(proxy.url + "/v1/models") as resp,
        ):
            assert resp.status == 200
    notes = [e for e in proxy.collect() if e.kind == "note" and "told apart" in e.message]
    assert len(notes) == 1 and "/proc/net/tcp cannot be read" in notes[0].message


async def test_a_connection_whose_owner_is_missing_is_refused(start_proxy, monkeypatch):
    """/proc readable but no row for the client's end (another network namespace, a client
    already gone): unknown is not taken for us."""
    monkeypatch.setattr(localusers, "tcp_owner", lambda peer, ours: localusers.Owner(
        None, "not in /proc/net/tcp", missing=True))
    proxy = await start_proxy()
    status, body = await post(proxy.url, BODY)
    assert status == 403 and body["error"]["type"] == "permission_error"
    assert "cannot be found" in body["error"]["message"]
    assert [f.error["status"] for f in proxy.engine.flows.all() if f.mode == "rejected"] == [403]
    proxy2 = await start_proxy(api_key="k3y")
    status, body = await post(proxy2.url, BODY, headers={"x-api-key": "k3y"})
    assert status == 200, "with the key, the key decides"


async def test_the_console_shows_the_socket_and_removes_it_on_exit(tmp_path):
    from conftest import make_settings
    from test_console import rendered, until
    from tui_proxy.console.app import ProxyConsole

    path = tmp_path / "c" / "proxy.sock"
    app = ProxyConsole(make_settings(tmp_path, socket=str(path)), run_doctor=False,
                       screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: f"unix:{path}" in rendered(app.query_one("#status"), 400))
        assert app.sub_title == f"{app.server.url} and unix:{path}"
        assert stat.S_IMODE(path.lstat().st_mode) == 0o600
    assert not path.exists()
