"""The recorded agent bodies stay usable: each parses with its adapter and turn 2 holds the read file."""

from __future__ import annotations

import json

import pytest

from llm_dlp.providers import adapter_for
from tests.agents import clients
from tests.agents.record import OUT

FIXTURES = sorted(OUT.glob("*.json"))


def test_every_cli_has_two_turns():
    names = {p.name for p in FIXTURES}
    for cli in clients.ALL:
        assert {f"{cli.name}-turn1.json", f"{cli.name}-turn2.json"} <= names


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_parses_with_its_adapter(path):
    fixture = json.loads(path.read_text())
    parsed = adapter_for(fixture["path"]).extract(fixture["body"])
    assert parsed.segments
    if path.stem.endswith("turn2"):
        assert any(clients.NOTE.strip() in segment.text for segment in parsed.segments)
