"""The HTTP face: routes, who may call, sinks that write a flow to a client."""
