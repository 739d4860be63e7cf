"""The code's contract, checked in CI through the README's one test command: the layers
(import-linter: console | commands | headless > host > http > journal > sdk > core > wire >
config, Textual only in the console), ruff, and mypy (strict on core, wire and config), all
configured in pyproject.toml. Each tool's own output is the failure message.

tests/test_core_headless.py stays: it proves at run time what lint-imports proves statically."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _check(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_layers_hold() -> None:
    # import-linter has no `python -m` entry of its own; its CLI function is called directly.
    _check(_run("-c", "import sys; from importlinter.cli import lint_imports_command as c; "
                      "sys.exit(c())"))


def test_ruff_is_clean() -> None:
    _check(_run("-m", "ruff", "check", "tui_proxy", "tests", "bench"))


def test_mypy_is_clean() -> None:
    _check(_run("-m", "mypy"))
