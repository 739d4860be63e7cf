"""The command palette offers exactly the console's key actions, by name."""

from __future__ import annotations

from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider


class ConsoleCommands(Provider):
    def _commands(self) -> list[tuple[str, str, str]]:
        out = []
        for binding in self.app.BINDINGS:
            if isinstance(binding, Binding) and binding.action not in ("open_detail",
                                                                        "clear_filter"):
                key = binding.key.replace("slash", "/").replace("question_mark", "?")
                out.append((f"{binding.description} ({key})", binding.action,
                            binding.tooltip or binding.description))
        return out

    async def discover(self) -> Hits:
        for name, action, help_text in self._commands():
            yield DiscoveryHit(name, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in self._commands():
            score = matcher.match(name + " " + help_text)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self.app.run_action, action),
                          help=help_text)
