"""The engine never imports Textual: the console is one subscriber among several."""

import subprocess
import sys
from pathlib import Path

import tui_proxy

CORE_MODULES = sorted(
    "tui_proxy." + ".".join(p.relative_to(Path(tui_proxy.__file__).parent).with_suffix("").parts)
    for p in Path(tui_proxy.__file__).parent.rglob("*.py")
    if "console" not in p.parts and p.name != "__main__.py"
)


def test_core_module_list_is_not_empty():
    assert "tui_proxy.core.engine" in CORE_MODULES and "tui_proxy.http.server" in CORE_MODULES


def test_importing_the_core_does_not_import_textual():
    code = (
        "import importlib, sys\n"
        f"mods = {CORE_MODULES!r}\n"
        "for m in mods:\n"
        "    importlib.import_module(m.removesuffix('.__init__'))\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(len(mods), bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, f"core imported textual: {proc.stdout} {proc.stderr}"
