"""A short chaos soak (bench/chaos_soak.py runs the long one): faults and disconnects, and
nothing is lost: no malformed stream, no CLI or connection left, a journal record per flow."""

import sys
from pathlib import Path

from conftest import SESSION_LOG

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from chaos_soak import soak  # noqa: E402


async def test_short_chaos_soak_loses_nothing(tmp_path):
    r = await soak(requests=60, concurrency=8, seed=7, work=tmp_path, log=SESSION_LOG)
    assert r["malformed_sse"] == []
    assert r["orphans"] == [] and r["cli_processes"] >= 50
    assert r["open_connections"] == 0
    assert r["journal_starts"] == r["journal_ends"] == 60
    tally = r["tally"]
    assert sum(tally.values()) == 60, tally
    assert not any(k.startswith("client failure") for k in tally), tally
    assert tally["completed"] >= 30 and tally.get("disconnected", 0) == r["disconnects"]
    faults = r["faults"]
    assert sum(n for f, n in faults.items() if f != "none") >= 5, "the seed asks for faults"
    assert sum(r["journal_states"].values()) == 60


async def test_short_chaos_soak_with_startup_hangs_unwritable_journal_and_parked_burst(tmp_path):
    """The issue 13 faults in a short run: every invariant bench/chaos_soak.py checks holds."""
    from chaos_soak import check
    r = await soak(requests=60, concurrency=6, seed=3, work=tmp_path, log=SESSION_LOG,
                   startup_share=0.15, startup_limit_s=2.0, journal_fault=(0.2, 0.6),
                   journal_backlog=8, max_parked=2, parked_burst=5)
    assert check(r) == []
    assert len(r["startups"]) >= 3, "the seed asks for start-up hangs"
    assert r["journal_fault"]["dropped"] > 0 and r["journal_fault"]["written_after_recovery"]
    assert r["parked"]["max_parked_seen"] <= 2 and r["parked"]["cli_live_after"] <= 2
