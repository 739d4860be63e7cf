"""Everything that touches claude-agent-sdk: locating the CLI, options, the process
transport, hooks, failure classification and the per-flow driver."""
