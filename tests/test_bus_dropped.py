"""A subscriber that falls behind loses its oldest events, counted, and can tell how many
since it last asked (what the console and headless printer report)."""

from __future__ import annotations

from tui_proxy.core.bus import EventBus
from tui_proxy.core.events import Note


def test_drops_are_counted_and_told_once() -> None:
    bus = EventBus()
    slow, roomy = bus.subscribe(maxlen=3, name="slow"), bus.subscribe(maxlen=100, name="roomy")
    assert bus.subscriptions == (slow, roomy)
    for n in range(10):
        bus.publish(Note(None, "info", str(n)))
    assert [e.message for e in slow.drain()] == ["7", "8", "9"]  # the newest kept
    assert (slow.dropped, roomy.dropped) == (7, 0)
    assert slow.take_dropped() == 7 and slow.take_dropped() == 0
    bus.publish(Note(None, "info", "a"))
    assert slow.take_dropped() == 0  # room again: nothing lost
    for n in range(5):
        bus.publish(Note(None, "info", str(n)))
    assert slow.take_dropped() == 3 and slow.dropped == 10
    slow.close()
    assert bus.subscriptions == (roomy,)
