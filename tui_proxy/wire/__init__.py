"""The Anthropic Messages API wire format: requests, history, SSE and errors. No SDK here."""
