"""The console's model: events in, lines and panel entries out (no screen needed)."""

from tui_proxy.console.model import LINE_CAP, THINKING, ConsoleModel
from tui_proxy.core.events import FileOp, FlowFinished, TextDelta, ThinkingDelta


def test_text_becomes_whole_lines_and_nothing_is_lost():
    model = ConsoleModel()
    pieces = ["Hello ", "world.\nSecond", " line\n", "Third", "\nand ", "the end"]
    model.apply([TextDelta(1, p) for p in pieces])
    assert [ln.text for ln in model.take_new_lines()] == ["Hello world.", "Second line",
                                                         "Third"]
    assert model.pending_line(1).text == "and the end"
    model.apply([FlowFinished(1, "done", "end_turn", 1, 5, None, 1.0, 0.1, None)])
    assert [ln.text for ln in model.take_new_lines()] == ["and the end"]
    assert "".join(p for p in pieces).replace("\n", "") == "".join(
        ln.text for ln in model.texts[1].lines)


def test_long_lines_are_cut_at_a_space_and_thinking_is_its_own_line():
    model = ConsoleModel()
    model.apply([ThinkingDelta(2, "hmm "), TextDelta(2, "word " * 100)])
    lines = model.take_new_lines()
    assert lines[0].kind == THINKING and lines[0].text == "hmm "
    assert all(len(ln.text) <= LINE_CAP for ln in lines)
    assert all(ln.text.endswith("word") for ln in lines[1:])


def test_panels_are_bounded_and_flag_files_outside_the_working_directory():
    model = ConsoleModel()
    model.apply([FileOp(3, "Write", f"/elsewhere/{i}.txt", 10, "ok", 1.0, True)
                 for i in range(2500)])
    entries = model.take_panel("files")
    assert len(entries) == len(model.panels["files"]) == 2000
    assert entries[-1].level == "warning" and "OUTSIDE WORKING DIRECTORY" in entries[-1].text
    assert model.take_panel("files") == []


def test_the_status_bar_shows_the_worst_rate_window_still_in_force():
    import time

    from tui_proxy.console.widgets.status_bar import rate_text
    from tui_proxy.core.events import RateLimitInfo
    now = time.time()
    model = ConsoleModel()
    # A rejection and a later warning in the same second, from two windows.
    model.apply([RateLimitInfo(1, "rejected", "five_hour", 1.0, now + 3600, ts=now),
                 RateLimitInfo(2, "allowed_warning", "seven_day", 0.9, now + 86400, ts=now)])
    assert model.rate.status == "rejected" and model.rate.limit_type == "five_hour"
    assert "LIMITED five-hour" in rate_text(model.rate, now).plain
    # A newer report of the same window replaces it: the warning is now the worst.
    model.apply([RateLimitInfo(3, "allowed", "five_hour", 0.1, now + 3600, ts=now + 1)])
    assert model.rate.status == "allowed_warning" and model.rate.limit_type == "seven_day"
    # A window past its reset time no longer counts.
    model.apply([RateLimitInfo(4, "rejected", "seven_day_opus", 1.0, now - 1, ts=now + 2)])
    assert model.rate.limit_type == "seven_day"
    assert set(model.rate_windows) == {"five_hour", "seven_day", "seven_day_opus"}
