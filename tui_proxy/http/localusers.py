"""Other users of this machine: who owns the connection, and the proxy's Unix socket.

Loopback is not private: every local account can connect to 127.0.0.1. Two guards:

* **Same-user check** (Linux, on by default): the owner of a loopback TCP connection's client
  end is read from ``/proc/net/tcp`` / ``/proc/net/tcp6`` (the row whose *local* end is the
  connection's peer address and whose remote end is ours; its ``uid`` column), once per
  connection (keep-alive requests reuse it). A connection of another uid is refused with 403
  ``permission_error`` unless ``allow_other_users`` is set or it presents the ``api_key``.
  Root (uid 0) is let through: root can read this user's files and credentials anyway. Over
  the Unix socket the owner comes from ``SO_PEERCRED``. When the owner cannot be told (not
  Linux, ``/proc`` hidden) the ``api_key``, if set, protects; else the request is allowed
  and a note says once that other users cannot be told apart.
* **Unix socket** (``socket`` setting): created mode 0600 in a folder that only its user can
  write to (created 0700), bound under a private temporary name and renamed into place so
  nobody can connect before its mode is set; a stale file from a dead proxy is replaced, a
  live one refused; removed on stop.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
import struct
import sys
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROC_FILES = ("/proc/net/tcp", "/proc/net/tcp6")
# Rows that are not a live socket's: a listener, and TIME_WAIT (whose uid column reads 0).
NOT_LIVE = {"0A", "06"}
# How many /proc/net reads the check has made (a test proves keep-alive reuses one).
lookups = 0


class SocketRefused(OSError):
    """The socket path cannot be used (a live proxy on it, not a socket, an unsafe folder)."""


def _addr(field: str, byteorder: str = sys.byteorder) -> tuple[str, int]:
    """``0100007F:1F90`` → ``('127.0.0.1', 8080)``. The address is the kernel's bytes printed
    as native-endian 32-bit words (so reversed per word on little-endian machines); the port
    is in host order. IPv4-mapped IPv6 addresses come back as IPv4."""
    hexaddr, hexport = field.split(":")
    raw = bytes.fromhex(hexaddr)
    if byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return normalize(str(ipaddress.ip_address(raw))), int(hexport, 16)


def normalize(host: str) -> str:
    """``::ffff:127.0.0.1`` → ``127.0.0.1``; other addresses in their compressed form."""
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def parse_proc_net(text: str, byteorder: str = sys.byteorder
                   ) -> list[tuple[tuple[str, int], tuple[str, int], str, int]]:
    """Rows of ``/proc/net/tcp`` or ``tcp6``: (local, remote, state, uid)."""
    rows = []
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 8:
            continue
        try:
            rows.append((_addr(cols[1], byteorder), _addr(cols[2], byteorder), cols[3],
                         int(cols[7])))
        except ValueError:
            continue
    return rows


def owner_in(text: str, peer: tuple[str, int], ours: tuple[str, int],
             byteorder: str = sys.byteorder) -> int | None:
    """The uid owning the socket whose local end is ``peer`` and remote end ``ours``. Only
    rows whose local port is the peer's are decoded: a busy machine lists thousands."""
    port = f":{peer[1]:04X}"
    for line in text.splitlines()[1:]:
        cols = line.split(None, 8)
        if len(cols) < 8 or not cols[1].endswith(port) or cols[3] in NOT_LIVE:
            continue
        try:
            if _addr(cols[1], byteorder) == peer and _addr(cols[2], byteorder) == ours:
                return int(cols[7])
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class Owner:
    uid: int | None  # None: cannot be told on this system
    why: str = ""  # when uid is None or missing: why not
    missing: bool = False  # the system can tell, but this connection's owner was not found


def tcp_owner(peer: tuple[str, int], ours: tuple[str, int]) -> Owner:
    global lookups
    if not sys.platform.startswith("linux"):
        return Owner(None, f"{sys.platform} has no /proc/net/tcp")
    lookups += 1
    peer, ours = (normalize(peer[0]), peer[1]), (normalize(ours[0]), ours[1])
    readable = False
    for path in PROC_FILES:
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        readable = True
        uid = owner_in(text, peer, ours)
        if uid is not None:
            return Owner(uid)
    if not readable:
        return Owner(None, "/proc/net/tcp cannot be read")
    # Readable, yet no row for the client's end: the client is outside this network
    # namespace (or already gone). Unknown, never assumed to be us.
    return Owner(None, "the client's end of the connection is not in /proc/net/tcp",
                 missing=True)


def unix_owner(sock: socket.socket | None) -> Owner:
    so_peercred = getattr(socket, "SO_PEERCRED", None)
    if sock is None or so_peercred is None:
        return Owner(None, "SO_PEERCRED is not available")
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, so_peercred, struct.calcsize("3i"))
    except OSError as exc:
        return Owner(None, f"SO_PEERCRED: {exc.strerror}")
    return Owner(struct.unpack("3i", creds)[1])


_cache: weakref.WeakKeyDictionary[Any, Owner] = weakref.WeakKeyDictionary()


def connection_owner(transport: Any) -> Owner | None:
    """The owner of this connection's client end, looked up once per connection; None when
    the peer is not local (a key-protected non-loopback bind: the key guards it)."""
    if transport is None:  # the client is gone already: nothing to tell, nothing to serve
        return Owner(None, "the connection is closed", missing=True)
    try:
        return _cache[transport]
    except KeyError:
        pass
    except TypeError:  # not weak-referenceable
        return _lookup(transport)
    owner = _lookup(transport)
    if owner is not None:
        _cache[transport] = owner
    return owner


def _lookup(transport: Any) -> Owner | None:
    sock = transport.get_extra_info("socket")
    family = getattr(sock, "family", None)
    if family == getattr(socket, "AF_UNIX", None):
        return unix_owner(sock)
    peer = transport.get_extra_info("peername")
    ours = transport.get_extra_info("sockname")
    if not peer or not ours:
        return Owner(None, "the connection has no peer address")
    try:
        if not ipaddress.ip_address(normalize(peer[0])).is_loopback:
            return None
    except ValueError:
        return Owner(None, f"peer address {peer[0]!r}")
    return tcp_owner((peer[0], peer[1]), (ours[0], ours[1]))


def over_unix_socket(transport: Any) -> bool:
    if transport is None or not hasattr(socket, "AF_UNIX"):
        return False
    return getattr(transport.get_extra_info("socket"), "family", None) == socket.AF_UNIX


# ------------------------------------------------------------------ the Unix socket

def _check_folder(folder: Path) -> None:
    """A folder only its user (or root) can write to: anyone else could replace the socket."""
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
        os.chmod(folder, 0o700)
        return
    info = folder.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise SocketRefused(f"cannot use socket folder {folder}: not a directory")
    me = os.geteuid()
    shared = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if info.st_uid not in (me, 0) or (shared and not info.st_mode & stat.S_ISVTX):
        raise SocketRefused(
            f"refusing socket folder {folder}: other users can write to it (mode "
            f"{stat.S_IMODE(info.st_mode):o}, owner uid {info.st_uid}), so they could replace "
            "the socket; use a folder of your own, e.g. $XDG_RUNTIME_DIR/claude-proxy-tui")


def _clear_stale(path: Path) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise SocketRefused(f"cannot listen on socket {path}: a file that is not a socket is "
                            "there; not replacing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)  # left by a proxy that died: nobody answers on it
        return
    except OSError as exc:
        raise SocketRefused(f"cannot listen on socket {path}: {exc.strerror}") from None
    finally:
        probe.close()
    raise SocketRefused(f"cannot listen on socket {path}: another process (a running proxy?) "
                        "is listening on it; stop it or choose another --socket path")


def bind_private_socket(path_text: str) -> tuple[socket.socket, Path, int]:
    """A listening-ready AF_UNIX socket at ``path``, mode 0600 from the first moment anyone
    can reach it; returns (socket, path, inode) — the inode lets stop remove only ours."""
    path = Path(path_text).expanduser().absolute()
    if len(os.fsencode(path)) > 107:
        raise SocketRefused(f"socket path {path} is too long for a Unix socket (107 bytes at "
                            "most); choose a shorter one")
    _check_folder(path.parent)
    _clear_stale(path)
    private = Path(tempfile.mkdtemp(prefix=".cpt-", dir=path.parent))  # 0700
    temp = private / "s"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(temp))
        os.chmod(temp, 0o600)
        os.rename(temp, path)
    except OSError as exc:
        sock.close()
        temp.unlink(missing_ok=True)
        raise SocketRefused(f"cannot listen on socket {path}: {exc.strerror}") from None
    finally:
        os.rmdir(private)
    return sock, path, path.lstat().st_ino


def remove_socket(path: Path, inode: int) -> None:
    """Remove the socket file if it is still the one this proxy made."""
    try:
        if path.lstat().st_ino == inode:
            path.unlink()
    except FileNotFoundError:
        pass
