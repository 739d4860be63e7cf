"""The engine: flows, events, the bus, limits, conversations, warm and parked runs."""
