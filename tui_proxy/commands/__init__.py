"""The subcommands: service, login, log, replay."""
