"""The Textual operations console: one subscriber of the engine's event bus.

Only this package imports Textual; the engine never does (a test checks it).
"""
