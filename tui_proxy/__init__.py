"""claude-proxy-tui: the Anthropic Messages API, fulfilled by the Claude Agent SDK.

The core (everything but ``tui_proxy.console``) never imports Textual: the console is
one subscriber of the engine's event bus among several (headless log, journal, tests).
"""

__version__ = "0.1.0"
