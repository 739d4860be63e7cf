"""`log` reads spec-shaped journal lines (written here by hand) and `replay` re-sends a
journalled body to a real proxy on the fake CLI."""

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from tui_proxy.cli import main
from tui_proxy.journal.reader import (find_flow, journal_files, load_journal, parse_since,
                                     percentile, select, totals)
from tui_proxy.config.settings import FIELDS

RUN_A, RUN_B = "a1b2c3d4e5f6", "ffee00112233"
NOW = time.time()


def start_rec(run, fid, ts, text="hello", stream=True, model="claude-sonnet-4-5", **extra):
    body = {"model": model, "max_tokens": 50, "stream": stream,
            "messages": [{"role": "user", "content": text}]}
    rec = {"record": "start", "v": 1, "proxy_run": run, "flow_id": fid, "ts": ts,
           "request_id": f"req_{run[:4]}_{fid}", "method": "POST", "path": "/v1/messages",
           "client": "127.0.0.1", "model": model, "stream": stream, "mode": "chat",
           "summary": {"messages": 1, "system_chars": 0, "tools": []}, "body": body}
    rec.update(extra)
    return rec


def end_rec(run, fid, ts, state="done", error_class=None, status=200, ttft=0.2, duration=1.0,
            usage=(10, 5), cost=0.001, message=None, events=None):
    return {"record": "end", "v": 1, "proxy_run": run, "flow_id": fid, "ts": ts,
            "request_id": f"req_{run[:4]}_{fid}", "state": state, "error_class": error_class,
            "error_type": None if state == "done" else "api_error", "status": status,
            "message": message, "model": "claude-sonnet-4-5", "session_id": "sess-1",
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1]} if usage else None,
            "cost_usd": cost, "ttft_s": ttft, "duration_s": duration,
            "options": {"model": "claude-sonnet-4-5", "tools": []},
            "events": events or [{"t": 0.0, "kind": "FlowStarted"},
                                 {"t": ttft or 0.1, "kind": "TextDelta", "count": 5},
                                 {"t": duration, "kind": "FlowFinished"}]}


def day_file(directory: Path, ts: float, n: int = 0) -> Path:
    day = datetime.fromtimestamp(ts).strftime("%Y-%m-%d")
    return directory / (f"journal-{day}.jsonl" if not n else f"journal-{day}.{n}.jsonl")


def write(path: Path, records, tail: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for rec in records:
            handle.write(json.dumps(rec) + "\n")
        handle.write(tail)


@pytest.fixture
def journal(tmp_path):
    """Three days: an old day, and today split over an overflow file; two proxy runs."""
    d = tmp_path / "journal"
    old = NOW - 3 * 86400
    write(day_file(d, old), [start_rec(RUN_A, 1, old), end_rec(RUN_A, 1, old + 1, ttft=0.9,
                                                               duration=1.0)])
    today = NOW - 600
    write(day_file(d, today), [
        start_rec(RUN_A, 2, today),
        end_rec(RUN_A, 2, today + 30, ttft=0.1, duration=30.0, usage=(100, 200), cost=0.05),
        start_rec(RUN_A, 3, today + 40, text="FAKE:rate_limit"),
        end_rec(RUN_A, 3, today + 41, state="error", error_class="rate_limit", status=429,
                ttft=None, usage=None, cost=None, message="Rate limited (five_hour limit)"),
        start_rec(RUN_A, 4, today + 50),  # never ended: the proxy died — lost
    ], tail="{not json\n")
    write(day_file(d, today, 1), [
        start_rec(RUN_B, 1, today + 100),
        end_rec(RUN_B, 1, today + 102, ttft=0.3, duration=2.0, usage=(7, 3), cost=0.002),
        start_rec(RUN_B, 2, today + 110, body_truncated=True, body=None),
        end_rec(RUN_B, 2, today + 111, state="cancelled", error_class="cancelled", status=499,
                ttft=None, usage=None, cost=None),
    ], tail='{"record": "end", "v": 1, "proxy_ru')  # a crash cut the last line
    (d / "notes.txt").write_text("not a journal file")
    return d


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for f in FIELDS:
        if f.env:
            monkeypatch.delenv(f.env, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")


def test_files_are_read_in_order_and_flows_joined(journal):
    names = [p.name for p in journal_files(journal)]
    assert names[-2:] == [day_file(journal, NOW - 600).name, day_file(journal, NOW - 600, 1).name]
    loaded = load_journal(journal)
    assert loaded.bad_lines == 2
    keys = [f.key for f in loaded.flows]
    assert keys == [f"{RUN_A}:1", f"{RUN_A}:2", f"{RUN_A}:3", f"{RUN_A}:4", f"{RUN_B}:1",
                    f"{RUN_B}:2"]
    states = {f.key: f.state for f in loaded.flows}
    assert states[f"{RUN_A}:4"] == "lost" and states[f"{RUN_A}:3"] == "error"
    assert [f.key for f in find_flow(loaded.flows, "1")] == [f"{RUN_A}:1", f"{RUN_B}:1"]
    assert [f.key for f in find_flow(loaded.flows, "ffee:1")] == [f"{RUN_B}:1"]


def test_totals_filters_and_percentiles(journal):
    flows = load_journal(journal).flows
    t = totals(flows)
    assert t["requests"] == 6 and t["ok"] == 3
    assert t["errors"] == {"cancelled": 1, "lost": 1, "rate_limit": 1}
    assert t["tokens"]["input_tokens"] == 10 + 100 + 7
    assert t["tokens"]["output_tokens"] == 5 + 200 + 3
    assert t["cost_usd"] == pytest.approx(0.053)
    assert (t["ttft_p50_s"], t["ttft_p95_s"]) == (0.3, 0.9)
    assert [f.flow_id for f in select(flows, failed=True)] == [3, 4, 2]
    assert [f.key for f in select(flows, slow=2.0)] == [f"{RUN_A}:2", f"{RUN_B}:1"]
    assert percentile([1, 2, 3, 4], 50) == 2 and percentile([], 50) is None
    assert percentile(list(range(1, 101)), 95) == 95


def test_since_relative_and_iso(journal):
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("30m", now=0.0) == -1800
    assert parse_since("1d", now=0.0) == -86400
    assert parse_since("2025-01-31T14:00") == datetime(2025, 1, 31, 14).timestamp()
    assert parse_since("2025-01-31") == datetime(2025, 1, 31).timestamp()
    with pytest.raises(ValueError, match="relative time"):
        parse_since("yesterday")
    recent = load_journal(journal, since=parse_since("1h"))
    assert len(recent.flows) == 5 and all(f.ts >= NOW - 3600 for f in recent.flows)
    assert day_file(journal, NOW - 3 * 86400) not in recent.files


def test_log_command_table_json_and_timeline(journal, capsys):
    assert main(["log", "--journal-dir", str(journal)]) == 0
    out = capsys.readouterr().out
    assert "requests 6 (3 ok)" in out and "rate_limit 1" in out and "lost 1" in out
    assert "p50 300ms p95 900ms" in out and "$0.0530" in out
    assert "Rate limited (five_hour limit)" in out and "2 unreadable journal lines" in out

    assert main(["log", "--journal-dir", str(journal), "--failed", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["flow_id"], r["state"], r["error_class"]) for r in rows] == [
        (3, "error", "rate_limit"), (4, "lost", "lost"), (2, "cancelled", "cancelled")]
    assert rows[2]["body_truncated"] is True and "body" not in rows[0]

    assert main(["log", "--journal-dir", str(journal), "--slow", "5", "--json"]) == 0
    assert [json.loads(x)["flow_id"] for x in capsys.readouterr().out.splitlines()] == [2]

    assert main(["log", "--journal-dir", str(journal), "--flow", f"{RUN_A[:4]}:2"]) == 0
    out = capsys.readouterr().out
    assert f"flow 2  run {RUN_A}" in out and "TextDelta" in out and "count=5" in out
    assert "took 30.0s, first token 100ms" in out and "req_a1b2_2" in out

    assert main(["log", "--journal-dir", str(journal), "--flow", "1"]) == 0
    assert "2 proxy runs have flow 1" in capsys.readouterr().out
    assert main(["log", "--journal-dir", str(journal), "--flow", "4"]) == 0
    assert "lost" in capsys.readouterr().out
    assert main(["log", "--journal-dir", str(journal), "--flow", "99"]) == 1


def test_log_without_a_journal_and_bad_since(tmp_path, capsys):
    assert main(["log", "--journal-dir", str(tmp_path / "none")]) == 1
    assert "no journal in" in capsys.readouterr().err
    assert main(["log", "--journal-dir", str(tmp_path), "--since", "soon"]) == 2
    assert "--since" in capsys.readouterr().err


async def test_replay_resends_the_journalled_body_to_the_proxy(journal, start_proxy, capfd):
    proxy = await start_proxy()
    today = NOW - 60
    write(day_file(journal, today, 2), [
        start_rec("cafe0001", 7, today, text="FAKE:tokens=4", stream=True),
        start_rec("cafe0001", 8, today + 1, text="FAKE:tokens=2", stream=False),
        start_rec("cafe0001", 9, today + 2, text="FAKE:overloaded"),
        start_rec("cafe0001", 10, today + 3, body=None),
    ])
    base = ["--journal-dir", str(journal), "--url", proxy.url]

    assert await asyncio.to_thread(main, ["replay", "7", *base]) == 0
    out, err = capfd.readouterr()
    assert out == "tok0 tok1 tok2 tok3\n"
    assert "replaying flow cafe0001:7 (claude-sonnet-4-5, 1 messages)" in err
    assert "HTTP 200" in err and "stop_reason end_turn" in err

    assert await asyncio.to_thread(main, ["replay", "cafe:8", *base]) == 0
    assert capfd.readouterr().out == "tok0 tok1\n"

    assert await asyncio.to_thread(main, ["replay", "9", *base]) == 1
    err = capfd.readouterr().err
    assert "HTTP 529" in err and "overloaded_error" in err

    # the proxy really ran them: three flows reached the engine
    assert proxy.kinds().count("flow_started") == 3


async def test_replay_refuses_truncated_absent_and_unknown(journal, capfd):
    today = NOW - 60
    write(day_file(journal, today, 2), [start_rec("cafe0001", 10, today, body=None)])
    base = ["--journal-dir", str(journal), "--url", "http://127.0.0.1:9"]
    assert await asyncio.to_thread(main, ["replay", f"{RUN_B}:2", *base]) == 2
    assert "body_truncated" in capfd.readouterr().err
    assert await asyncio.to_thread(main, ["replay", "10", *base]) == 2
    assert "holds no request body" in capfd.readouterr().err
    assert await asyncio.to_thread(main, ["replay", "77", *base]) == 2
    assert "no flow 77" in capfd.readouterr().err
    assert await asyncio.to_thread(main, ["replay", "1", *base]) == 2  # nobody listens on :9
    assert "no proxy at http://127.0.0.1:9" in capfd.readouterr().err


def test_log_json_honours_limit(journal, capsys):
    assert main(["log", "--journal-dir", str(journal), "--json", "--limit", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["proxy_run"], r["flow_id"]) for r in rows] == [(RUN_B, 1), (RUN_B, 2)], \
        "the latest 2 flows, as the table shows them"
    # without --limit, JSON is an export: every flow, not the table's 50 rows
    many = journal.parent / "many"
    write(day_file(many, NOW - 60), [rec for i in range(1, 61)
                                     for rec in (start_rec(RUN_A, i, NOW - 60 + i),
                                                 end_rec(RUN_A, i, NOW - 59 + i))])
    assert main(["log", "--journal-dir", str(many), "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 60
    assert main(["log", "--journal-dir", str(many)]) == 0
    assert "(latest 50 of 60 shown" in capsys.readouterr().out


def test_log_flow_labels_are_plain_text(journal, capsys):
    # rich would render ":ID:" as an emoji code ("RUN🆔")
    assert main(["log", "--journal-dir", str(journal), "--flow", "1"]) == 0
    out = capsys.readouterr().out
    assert "RUN:ID" in out and "\U0001f194" not in out


@pytest.mark.parametrize("extra", [["--json"], ["--limit", "0"]])
def test_log_into_a_closed_pipe_exits_quietly(tmp_path, extra):
    """`log --json | head -1`: the reader goes away; no BrokenPipeError traceback."""
    import subprocess
    import sys

    big = tmp_path / "big"
    write(day_file(big, NOW - 60), [rec for i in range(1, 2001)
                                    for rec in (start_rec(RUN_A, i, NOW - 60),
                                                end_rec(RUN_A, i, NOW - 59))])
    proc = subprocess.Popen([sys.executable, "-m", "tui_proxy", "log", "--journal-dir", str(big),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**__import__("os").environ, "COLUMNS": "120"})
    assert proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does after its line
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert not any(s in err for s in ("Traceback", "BrokenPipe", "Exception ignored")), err
    assert proc.returncode == 141, "128 + SIGPIPE, as a CLI tool killed by SIGPIPE exits"
