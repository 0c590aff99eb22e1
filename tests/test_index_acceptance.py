"""Issue 5 acceptance: index some installed packages, then find excerpts of them in prompts.

Excerpts of 15-40 lines from indexed standard-library packages must be found verbatim,
reformatted and with identifiers renamed, reporting the right file and lines; excerpts from
packages that were not indexed must not be found.
"""

from __future__ import annotations

import random
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from detectors.code import ProprietaryCodeDetector
from detectors.code.edits import reformat, rename_identifiers
from detectors.code.index_store import IndexStore
from detectors.code.indexer import build_index
from detectors.code.tokenizer import tokenize

STDLIB = Path(sysconfig.get_paths()["stdlib"])
INDEXED = ["json", "email", "http", "logging", "importlib", "multiprocessing", "urllib", "argparse.py", "typing.py"]
NOT_INDEXED = ["xml", "asyncio", "csv.py", "unittest"]
# An excerpt must carry this many normalised tokens to be "code" (not mostly docstring).
MIN_EXCERPT_TOKENS = 80


@dataclass(frozen=True)
class Excerpt:
    path: str  # relative to STDLIB
    first_line: int  # 1-based
    code: str

    @property
    def last_line(self) -> int:
        return self.first_line + self.code.count("\n")


def excerpts(names: list[str], count: int, seed: int) -> list[Excerpt]:
    rng = random.Random(seed)
    files = sorted(p for name in names for p in ([STDLIB / name] if name.endswith(".py") else (STDLIB / name).rglob("*.py")))
    result: list[Excerpt] = []
    while len(result) < count:
        path = rng.choice(files)
        lines = path.read_text(encoding="utf-8").splitlines()
        size = rng.randint(15, 40)
        if len(lines) < size:
            continue
        start = rng.randrange(0, len(lines) - size + 1)
        code = "\n".join(lines[start : start + size])
        if len(tokenize(code).codes) >= MIN_EXCERPT_TOKENS:
            result.append(Excerpt(str(path.relative_to(STDLIB)), start + 1, code))
    return result


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> ProprietaryCodeDetector:
    index_dir = tmp_path_factory.mktemp("code-index")
    store = IndexStore(index_dir, create=True)
    report = build_index(store, "stdlib-core", "core", [STDLIB / name for name in INDEXED])
    store.close()
    assert report.indexed > 90
    return ProprietaryCodeDetector(index_dir)


def _prompt(code: str) -> str:
    return f"Can you explain what this does and whether it has a bug?\n\n```python\n{code}\n```\n\nThanks."


def _found(detector: ProprietaryCodeDetector, excerpt: Excerpt, code: str) -> bool:
    prompt = _prompt(code)
    for finding in detector.scan(prompt):
        details = finding.details
        same_file = f"{details['repository']}/{details['path']}".endswith(excerpt.path)
        overlaps = details["line_start"] <= excerpt.last_line and details["line_end"] >= excerpt.first_line
        if same_file and overlaps:
            assert finding.rule == "stdlib-core" and details["label"] == "core"
            assert 0 < details["coverage"] <= 1 and details["lines"] >= 1
            assert prompt.find("```python\n") < finding.start < finding.end
            assert finding.start < prompt.find("\n```\n\nThanks")
            return True
    return False


EDITS = {
    "verbatim": lambda code, rng: code,
    "reformatted": reformat,
    "renamed": rename_identifiers,
}


@pytest.mark.parametrize("edit", EDITS)
def test_excerpts_of_indexed_packages_are_found(detector: ProprietaryCodeDetector, edit: str) -> None:
    rng = random.Random(7)
    sample = excerpts(INDEXED, 60, seed=11)
    missed = [e for e in sample if not _found(detector, e, EDITS[edit](e.code, rng))]
    # Targets (99% / 99% / 95%) are measured on a larger sample by bench/code_detection.py; here a
    # regression guard: at most one miss in 60.
    assert len(missed) <= 1, [(e.path, e.first_line) for e in missed]


def test_excerpts_of_packages_not_indexed_are_not_found(detector: ProprietaryCodeDetector) -> None:
    rng = random.Random(3)
    sample = excerpts(NOT_INDEXED, 80, seed=13)
    for edit in EDITS.values():
        hits = [(e.path, e.first_line) for e in sample if detector.scan(_prompt(edit(e.code, rng)))]
        assert hits == []


def test_prose_is_not_found(detector: ProprietaryCodeDetector) -> None:
    licence = (STDLIB.parent.parent / "lib" / "python3.12" / "LICENSE.txt")
    text = licence.read_text() if licence.exists() else ""
    assert detector.scan(text[:20000]) == []
