"""Start the CLI so that it dies with the proxy (run as a script: no package imports).

    python -I -S launcher.py PROXY_PID -- CLI ARGS...

Linux: set PR_SET_PDEATHSIG(SIGKILL) and exec the CLI (same pid). Elsewhere: run the CLI as
a child, forward SIGTERM/SIGINT to it, and kill it when the proxy (PROXY_PID) is gone.
"""

import os
import signal
import subprocess
import sys
import time


def main() -> int:
    proxy_pid = int(sys.argv[1])
    argv = sys.argv[sys.argv.index("--") + 1:]
    if sys.platform.startswith("linux"):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != proxy_pid:  # the proxy died before we got here
            return 1
        os.execvp(argv[0], argv)
    child = subprocess.Popen(argv)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, _f: child.send_signal(s))
    while child.poll() is None:
        if os.getppid() != proxy_pid:
            child.kill()
            break
        time.sleep(0.2)
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
