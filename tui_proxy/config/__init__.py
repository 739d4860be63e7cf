"""Settings: declared once, read from file, env and flags; where things live."""
