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
