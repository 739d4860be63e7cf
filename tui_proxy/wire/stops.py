"""Where the response must end, decided on the proxy's side (the SDK has no option for it).

``StopRules`` is consulted by ``StreamTranslator`` for every SDK stream event, so the SSE and
the JSON paths end alike:

* ``stop_sequences``: text is held back while it could still be the start of a sequence (a
  sequence may span deltas); at a match the text before it is sent and the response ends with
  ``stop_reason: "stop_sequence"`` and ``stop_sequence`` set. The sequence that *completes*
  first wins, as it would while the API generates.
* ``max_tokens``: what reaches the client is counted as it streams -- text, thinking (when
  asked for) and client tool input -- estimated at ``CHARS_PER_TOKEN`` characters per token
  (the CLI's exact usage only arrives at the end of each API call, too late to stop at).
  Output the client never sees (thinking it did not ask for, the CLI's own tool turns in agent
  mode, a web search) does not count. At the limit the delta is cut and the response ends with
  ``stop_reason: "max_tokens"`` and ``output_tokens`` equal to the limit.
* ``tool_choice``: forced (``any`` / ``tool``) -- the response ends after the first matching
  client tool call if anything else follows it (``stop_reason: "tool_use"``); ``none`` -- it
  ends before a client tool call (``end_turn``); ``disable_parallel_tool_use`` -- before a
  second tool call (``tool_use``).

A cut leaves the CLI mid-turn: the driver interrupts it and never reuses that process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tui_proxy.wire.tokens import CHARS_PER_TOKEN


@dataclass(frozen=True)
class Cut:
    reason: str                     # the response's stop_reason
    sequence: str | None = None     # the matched stop sequence
    output_tokens: int | None = None  # what the response reports, when the rule knows


class StopRules:
    def __init__(self, *, stop_sequences: list[str] | tuple[str, ...] = (),
                 max_tokens: int | None = None,
                 tool_choice: dict[str, Any] | None = None) -> None:
        self.sequences = [s for s in stop_sequences if s]
        self.max_tokens = max_tokens
        self.tool_choice = tool_choice or {}
        self.chars = 0  # characters of output the client received
        self._pending: dict[int, str] = {}  # client block index -> held-back text
        self._armed: str | None = None  # a tool call ended: what ends the response next

    @classmethod
    def for_request(cls, request: Any) -> StopRules:
        return cls(stop_sequences=request.stop_sequences, max_tokens=request.max_tokens,
                   tool_choice=request.tool_choice)

    # -- counting -------------------------------------------------------------------------

    @property
    def used_tokens(self) -> int:
        """The estimate of the output tokens the client received."""
        return -(-self.chars // CHARS_PER_TOKEN)

    def call_ended(self) -> None:
        """A message_delta: the API call ended by itself (right after a tool call, say)."""
        self._armed = None

    def budget(self, chars: int, shown: bool = True) -> int:
        """How many of ``chars`` new characters fit under max_tokens (all, without one);
        output the client does not see is not counted."""
        if self.max_tokens is None or not shown:
            return chars
        room = self.max_tokens * CHARS_PER_TOKEN - self.chars
        allowed = max(0, min(chars, room))
        self.chars += allowed
        return allowed

    def max_tokens_cut(self) -> Cut:
        return Cut("max_tokens", output_tokens=self.max_tokens)

    # -- blocks -----------------------------------------------------------------------------

    def before_block(self, block_type: str, client_tool: str | None) -> Cut | None:
        """A new content block starts; ``client_tool`` names a client tool call."""
        armed = self._armed
        if armed == "any block" or (armed == "tool" and client_tool is not None):
            return Cut("tool_use", output_tokens=self.used_tokens)
        if client_tool is not None and self.tool_choice.get("type") == "none":
            return Cut("end_turn", output_tokens=self.used_tokens)
        return None

    def after_block(self, client_tool: str | None) -> None:
        """A block ended; a matching client tool call arms the tool_choice rule."""
        if client_tool is None or self._armed:
            return
        kind = self.tool_choice.get("type")
        if kind == "any" or (kind == "tool" and self.tool_choice.get("name") == client_tool):
            self._armed = "any block"
        elif kind == "auto" and self.tool_choice.get("disable_parallel_tool_use"):
            self._armed = "tool"

    # -- text -------------------------------------------------------------------------------

    def scan(self, index: int, text: str) -> tuple[str, str | None]:
        """(text to send now, matched sequence or None) for new text of block ``index``."""
        if not self.sequences:
            return text, None
        buf = self._pending.pop(index, "") + text
        best: tuple[int, int, str] | None = None  # (end, start, sequence)
        for seq in self.sequences:
            start = buf.find(seq)
            if start != -1:
                candidate = (start + len(seq), start, seq)
                if best is None or candidate[:2] < best[:2]:
                    best = candidate
        if best is not None:
            return buf[:best[1]], best[2]
        hold = 0
        for seq in self.sequences:
            for k in range(min(len(seq) - 1, len(buf)), hold, -1):
                if buf.endswith(seq[:k]):
                    hold = k
                    break
        if hold:
            self._pending[index] = buf[-hold:]
            return buf[:-hold], None
        return buf, None

    def flush(self, index: int) -> str:
        """Held-back text of a block that ends (it was no stop sequence after all)."""
        return self._pending.pop(index, "")
