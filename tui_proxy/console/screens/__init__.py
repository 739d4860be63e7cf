"""Screens and dialogs over the main console: flow detail, confirm, help."""
