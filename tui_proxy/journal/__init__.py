"""The request journal: its writer and its reader."""
