"""Layers point one way: detectors ← llm_dlp (the core) ← addons.

A detector knows nothing of the core, and the core nothing of the addons, so each can be read,
tested and replaced without the layer above it. Checked statically: every import statement,
wherever it sits (inside functions too), of every module in the lower layers.
"""

from __future__ import annotations

import ast

import pytest

from llm_dlp.testing.proxyrun import REPO

FORBIDDEN = {
    "llm_dlp": {"addons"},
    "detectors": {"addons", "llm_dlp"},
}


def imported_packages(source: str) -> set[str]:
    """The top-level package of every absolute import in ``source``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def violations(layer: str) -> list[str]:
    return [
        f"{path.relative_to(REPO)} imports {package}"
        for path in sorted((REPO / layer).rglob("*.py"))
        for package in sorted(imported_packages(path.read_text(encoding="utf-8")) & FORBIDDEN[layer])
    ]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_module_imports_a_layer_above_it(layer):
    assert (REPO / layer).is_dir()
    assert violations(layer) == []


def test_the_check_sees_imports_in_every_form():
    source = "import addons.dlp\nfrom addons import x\ndef f():\n    from llm_dlp.pipeline import P\nfrom . import y\n"
    assert imported_packages(source) == {"addons", "llm_dlp"}


def test_every_core_module_imports_first_in_a_fresh_interpreter():
    """An import cycle shows only when a module of the cycle is imported first (the answer side's
    restorers and the request side's formats once needed each other half-initialised), so each
    module of the core is imported on its own, in one child interpreter per module."""
    import subprocess
    import sys

    modules = sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts)
        for path in (REPO / "llm_dlp").rglob("*.py")
        if path.name != "__main__.py" and "testing" not in path.parts
    )
    modules = [m.removesuffix(".__init__") for m in modules]
    script = (
        "import subprocess, sys\n"
        "failed = [m for m in sys.argv[1:] if subprocess.run([sys.executable, '-c', 'import ' + m],"
        " capture_output=True).returncode]\n"
        "print('\\n'.join(failed))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, *modules], capture_output=True, text=True, cwd=REPO, timeout=900)
    assert result.stdout.split() == [], result.stdout
