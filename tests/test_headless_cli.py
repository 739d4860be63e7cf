"""`claude-proxy-tui --headless --port 0 --cli-path tests/fake_cli/fake_claude`, as a person
runs it: the real console script, the official client, one log line per event, clean exit."""

import os
import re
import signal
import subprocess
import sys

import anthropic
import pytest

from conftest import FAKE_CLAUDE, live_fake_pids

MODEL = "claude-sonnet-5-5"


@pytest.fixture
def headless(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_PROXY_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_proxy", "--headless", "--port", "0", "--cli-path",
         str(FAKE_CLAUDE), "--cwd", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first = proc.stdout.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
    assert match, first + proc.stderr.read() if proc.poll() is not None else first
    yield proc, match.group(1)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_headless_serves_the_official_client_and_logs_each_event(headless):
    proc, url = headless
    client = anthropic.Anthropic(base_url=url, api_key="x", max_retries=0)
    with client.messages.stream(model=MODEL, max_tokens=20,
                                messages=[{"role": "user", "content": "stream me"}]) as stream:
        text = "".join(stream.text_stream)
    assert text == "You said: stream me"
    message = client.messages.create(model=MODEL, max_tokens=20,
                                     messages=[{"role": "user", "content": "json me"}])
    assert message.content[0].text == "You said: json me"
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model=MODEL, max_tokens=20,
                               messages=[{"role": "user", "content": "FAKE:rate_limit"}])
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in out + err
    lines = out.splitlines()
    for pattern in (r"#1 started POST /v1/messages model=claude-sonnet-5-5 stream=yes",
                    r"#1 +CLI started pid=\d+", r"#1 +session [0-9a-f-]{36}",
                    r"#1 +finished done", r"#2 +finished done",
                    r"#3 +ERROR 429 rate_limit_error \[rate_limit\]", r"#3 +finished error",
                    r"shutting down"):
        assert any(re.search(pattern, line) for line in lines), (pattern, out)
    assert not any("text " in line and "#1" in line for line in lines), \
        "per-token lines belong to --debug only"
    assert not live_fake_pids()


def test_bad_settings_exit_2_with_the_reason(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tui_proxy", "--headless", "--cwd",
                           str(tmp_path / "missing")], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2
    assert "cwd: directory does not exist" in proc.stderr


def test_port_in_use_is_reported_not_a_traceback(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "tui_proxy", "--headless", "--port",
                               str(port), "--cli-path", str(FAKE_CLAUDE), "--cwd",
                               str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr
