"""A flow's state has one writer, Flow.transition(): how a flow ended is never rewritten."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from tui_proxy.core.flow import Flow, FlowState

ROOT = Path(__file__).resolve().parent.parent


def _flow() -> Flow:
    return Flow(id=1, request_id="req_1", method="POST", path="/v1/messages", client="t",
                model="m", stream=True, mode="agent", summary={})


def test_a_run_moves_forward_and_stamps_its_end() -> None:
    flow = _flow()
    assert flow.state is FlowState.QUEUED
    assert flow.transition(FlowState.STARTING) and flow.transition(FlowState.STREAMING)
    assert flow.finished_mono is None
    assert flow.transition(FlowState.DONE)
    assert flow.state is FlowState.DONE and flow.finished_mono is not None


def test_a_terminal_state_is_final() -> None:
    flow = _flow()
    flow.transition(FlowState.TIMED_OUT)
    ended = flow.finished_mono
    for late in (FlowState.ERROR, FlowState.CANCELLED, FlowState.STREAMING, FlowState.DONE):
        assert flow.transition(late) is False
    assert flow.state is FlowState.TIMED_OUT and flow.finished_mono == ended


def test_a_parked_flow_ends_when_answered_or_released() -> None:
    answered, released = _flow(), _flow()
    for flow in (answered, released):
        flow.transition(FlowState.PARKED)
        assert flow.finished_mono is not None  # its run is over; its CLI waits
    assert answered.transition(FlowState.DONE) and released.transition(FlowState.CANCELLED)
    assert (answered.state, released.state) == (FlowState.DONE, FlowState.CANCELLED)


def test_state_cannot_be_assigned() -> None:
    flow = _flow()
    with contextlib.suppress(AttributeError):
        flow.state = FlowState.DONE  # type: ignore[misc]
    assert flow.state is FlowState.QUEUED


def test_no_module_writes_a_flow_state_directly() -> None:
    writes = []
    for path in (ROOT / "tui_proxy").rglob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bflow\._?state\s*=[^=]", line) and path.name != "flow.py":
                writes.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert writes == []
