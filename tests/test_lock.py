"""The lock files in requirements/ are the only source of installed versions.

These fail when pyproject.toml and the lock disagree (re-run scripts/lock.sh), or when the
environment the suite runs in holds a version the lock does not name.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from lock_header import dependency_digest  # noqa: E402

SETS = {"run": (), "test": ("test",), "bench": ("bench", "test")}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def _pins(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / f"{name}.txt").read_text(encoding="utf-8")
    return {canonicalize_name(m.group(1)): m.group(2) for m in PIN.finditer(text)}


def _declared(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"])
    for extra in extras:
        declared += project["optional-dependencies"][extra]
    return [Requirement(r) for r in declared]


@pytest.mark.parametrize("name", SETS)
def test_lock_was_made_from_the_current_pyproject(name: str) -> None:
    first_line = (ROOT / "requirements" / f"{name}.txt").read_text(encoding="utf-8").splitlines()[0]
    assert first_line == f"# pyproject-dependencies-sha256: {dependency_digest()}", (
        f"requirements/{name}.txt is older than pyproject.toml's dependencies: run scripts/lock.sh"
    )


@pytest.mark.parametrize("name,extras", SETS.items())
def test_every_declared_dependency_is_pinned_within_its_range(name: str, extras: tuple[str, ...]) -> None:
    pins = _pins(name)
    for requirement in _declared(extras):
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is declared but not in requirements/{name}.txt"
        assert requirement.specifier.contains(pinned, prereleases=True), (
            f"{requirement.name}=={pinned} in requirements/{name}.txt does not satisfy {requirement}"
        )


@pytest.mark.parametrize("name", SETS)
def test_every_pin_carries_a_hash(name: str) -> None:
    text = (ROOT / "requirements" / f"{name}.txt").read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    unhashed = [e.split()[0] for e in entries if "==" in e and "--hash=sha256:" not in e]
    assert not unhashed, f"pins without a hash in requirements/{name}.txt: {unhashed}"


def test_the_three_sets_pin_identical_versions() -> None:
    run, test, bench = (_pins(n) for n in SETS)
    for package, version in run.items():
        assert test.get(package) == version == bench.get(package), package


def test_this_environment_was_installed_from_the_lock() -> None:
    pins = _pins("test")
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in importlib.metadata.distributions()
        if d.metadata["Name"] and canonicalize_name(d.metadata["Name"]) != "llm-dlp"
    }
    wrong = {p: (v, pins.get(p)) for p, v in installed.items() if p in pins and pins[p] != v}
    assert not wrong, f"installed versions differ from requirements/test.txt (installed, locked): {wrong}"
    missing = set(pins) - set(installed)
    assert not missing, f"locked but not installed: {sorted(missing)}"
