"""Fixtures shared by the detector tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from detectors.code.index_store import IndexStore
from detectors.code.indexer import build_index

IndexBuilder = Callable[[dict[str, str], str], Path]


@pytest.fixture
def code_index(tmp_path: Path) -> IndexBuilder:
    """Writes ``files`` (name -> text) into a fresh repository and indexes it as ``name`` with
    label ``core``; returns the index directory."""

    def build(files: dict[str, str], name: str = "repo") -> Path:
        source = tmp_path / name
        source.mkdir()
        for file_name, text in files.items():
            (source / file_name).write_text(text)
        index_dir = tmp_path / f"{name}-index"
        store = IndexStore(index_dir, create=True)
        try:
            build_index(store, name, "core", [source])
        finally:
            store.close()
        return index_dir

    return build
