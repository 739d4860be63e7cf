"""Issue 13 item 6: a journal that cannot be written costs bounded memory, loses records with a
count everyone can see (a note, /health, /metrics, the status bar), and writes again when it
can; a full disk leaves no cut line for the reader."""

import errno
import json

import aiohttp
import anthropic

from conftest import eventually
from tui_proxy.console.widgets.status_bar import StatusFacts, render_status
from tui_proxy.journal.writer import loss_of, loss_text
from tui_proxy.journal.reader import load_journal

MODEL = "claude-sonnet-5-5"


async def ask(client, text: str) -> None:
    await client.messages.create(model=MODEL, max_tokens=20,
                                 messages=[{"role": "user", "content": text}])


async def observed(proxy) -> tuple[dict, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(proxy.url + "/health") as resp:
            health = await resp.json()
        async with session.get(proxy.url + "/metrics") as resp:
            metrics = await resp.text()
    return health, metrics


async def test_an_unwritable_journal_is_bounded_counted_shown_and_recovers(start_proxy, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the journal's folder should be")
    folder = blocker / "journal"  # cannot be created, even by root
    proxy = await start_proxy(journal_dir=str(folder))
    journal = proxy.server.journal
    journal.max_records, journal.max_backlog_bytes, journal.retry_s = 6, 300_000, 0.2
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    big = "x" * 100_000
    for i in range(12):
        await ask(client, f"{big} {i}")
    loss = loss_of(proxy.engine)
    await eventually(lambda: loss.dropped >= 18, what="records dropped")
    assert loss.failing is not None and loss.errors >= 1
    assert loss.backlog <= 6 and loss.backlog_bytes <= 300_000, "the backlog stays bounded"
    health, metrics = await observed(proxy)
    assert health["journal_dropped"] == loss.dropped >= 18 and health["journal_errors"] >= 1
    assert f"claude_proxy_journal_dropped_records_total {loss.dropped}" in metrics
    notes = [e for e in proxy.collect() if e.kind == "note" and "journal" in e.message]
    assert notes and "cannot write" in notes[0].message and notes[0].level == "error"
    shown = loss_text(loss)
    assert shown.startswith("journal FAILING") and f"{loss.dropped} lost" in shown
    facts = StatusFacts(url="u", mode="chat", permission_mode="default", cwd="/", cli="c",
                        login="yes", in_flight=0, queued=0, per_minute=0, parked=0, warm=0,
                        mcp_timeout_s=1, rate=None, now=0, follow=True, stream_all=False,
                        filter_text="", screenshots="s", journal=shown)
    assert shown in render_status(facts).plain

    blocker.unlink()  # the folder can be made now: the journal writes again by itself
    await ask(client, "after")
    # the writer thread clears the failure; the note follows on the loop a moment later
    await eventually(lambda: loss.failing is None and loss.backlog == 0 and any(
        "writing to" in e.message and "again" in e.message
        for e in proxy.collect() if e.kind == "note"), what="recovery, and its note")
    await proxy.server.stop()
    journal_read = load_journal(folder)
    assert journal_read.bad_lines == 0
    assert any(f.start and f.start["body"]["messages"][0]["content"] == "after"
               for f in journal_read.flows)
    assert len(journal_read.flows) <= 6 + 1, "only what the bounded backlog kept"
    assert loss_text(loss) == f"journal {loss.dropped} lost"


def filling_disk(journal, fail_times: int):
    """os.write on a disk that fills up: a short write (half), then ENOSPC, ``fail_times``."""
    state = {"left": fail_times, "short": False}
    real = journal._syswrite

    def write(fd, data):
        if state["short"]:
            state["short"] = False
            raise OSError(errno.ENOSPC, "No space left on device")
        if state["left"] > 0 and len(data) > 1:
            state["left"] -= 1
            state["short"] = True
            return real(fd, bytes(data[: len(data) // 2]))
        return real(fd, data)
    return write


async def test_a_full_disk_leaves_no_cut_line_and_loses_nothing_it_kept(start_proxy, tmp_path):
    folder = tmp_path / "journal"
    proxy = await start_proxy(journal_dir=str(folder))
    journal = proxy.server.journal
    journal.retry_s = 0.1
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    await ask(client, "before")
    await eventually(lambda: journal.written == 2, what="first flow written")
    journal._syswrite = filling_disk(journal, 2)
    await ask(client, "during")
    await eventually(lambda: loss_of(proxy.engine).errors >= 2, what="two failed writes")
    await ask(client, "after")
    await eventually(lambda: journal.written == 6, what="all written once space is back")
    for line in (folder.glob("journal-*.jsonl").__next__()).read_text().splitlines():
        json.loads(line)  # every line whole
    read = load_journal(folder)
    assert read.bad_lines == 0 and len(read.flows) == 3
    assert all(f.start and f.end for f in read.flows)


async def test_a_cut_line_that_cannot_be_undone_is_skipped_with_a_count(start_proxy, tmp_path):
    folder = tmp_path / "journal"
    proxy = await start_proxy(journal_dir=str(folder))
    journal = proxy.server.journal
    journal.retry_s = 0.1

    def no_truncate(fd, size):
        raise OSError(errno.EIO, "I/O error")
    journal._systruncate = no_truncate
    journal._syswrite = filling_disk(journal, 1)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="x", max_retries=0)
    await ask(client, "one")
    await ask(client, "two")
    await eventually(lambda: journal.written >= 4, what="written after the cut")
    await proxy.server.stop()
    read = load_journal(folder)
    assert read.bad_lines == 1, "the cut line is its own line, counted, not glued to the next"
    assert len(read.flows) == 2 and all(f.start and f.end for f in read.flows)
