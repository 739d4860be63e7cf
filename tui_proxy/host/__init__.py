"""What owns the proxy's life: the host, and the checks of the machine it runs on."""
