"""The console's widgets, one concern per file."""
