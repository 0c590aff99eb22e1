"""Every detector takes time linear in its input, whatever the input's shape.

Each adversarial shape (``llm_dlp.testing.shapes``) is scanned at 10 KB and at 100 KB; the
100 KB scan may cost at most ``MAX_RATIO`` times the 10 KB one (10 is linear; the slack
absorbs fixed costs and noise). CPU time in this process, best of three, so a loaded machine
slows both sides alike. A quadratic path shows up as a ratio near 100.
"""

from __future__ import annotations

import sysconfig
import time
from pathlib import Path

import pytest

from detectors.code import CodeDetector, ProprietaryCodeDetector
from detectors.pii import PiiDetector
from detectors.secrets import SecretDetector
from llm_dlp.testing.shapes import SHAPES, shape

SMALL, LARGE = 10_000, 100_000
MAX_RATIO = 30  # linear is 10; quadratic would be 100. Headroom for a loaded 2-core machine.
# Below this much CPU for the large text, a ratio says more about timer noise than about growth.
NEGLIGIBLE_S = 0.005


def _cpu_seconds(detector, text: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        detector.scan(text)
        best = min(best, time.process_time() - started)
    return best


@pytest.fixture(scope="module")
def detectors(tmp_path_factory) -> dict:
    from detectors.code.index_store import IndexStore
    from detectors.code.indexer import build_index

    root = tmp_path_factory.mktemp("linear")
    source = root / "src"
    source.mkdir()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in ("json/decoder.py", "csv.py"):
        (source / name.replace("/", "_")).write_text((stdlib / name).read_text())
    store = IndexStore(root / "index", create=True)
    try:
        build_index(store, "repo", "core", [source])
    finally:
        store.close()
    built = {
        "secrets": SecretDetector(),
        "pii": PiiDetector(),
        "code": CodeDetector(),
        "code (no languages)": CodeDetector(identify_languages=False),
        "proprietary_code": ProprietaryCodeDetector(root / "index"),
    }
    for detector in built.values():
        detector.scan("warm up: call 415-555-0123\nx = compute(a, b)\ny = x + 1\n")
    return built


@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("detector_name", ["secrets", "pii", "code", "code (no languages)", "proprietary_code"])
def test_time_grows_linearly_with_the_input(detectors, detector_name: str, name: str) -> None:
    detector = detectors[detector_name]
    small = _cpu_seconds(detector, shape(name, SMALL))
    large = _cpu_seconds(detector, shape(name, LARGE))
    ratio = large / max(small, 1e-6)
    assert large < NEGLIGIBLE_S or ratio <= MAX_RATIO, f"{detector_name} on {name}: {small * 1000:.1f} ms at 10 KB, {large * 1000:.1f} ms at 100 KB"


def test_the_shapes_are_what_they_say() -> None:
    for name in SHAPES:
        text = shape(name, LARGE)
        assert len(text) == LARGE, name
        assert shape(name, LARGE) == text, name  # deterministic
    assert not any(c.isspace() for c in shape("no whitespace", LARGE))
    assert "\n" not in shape("one-line JSON, 7-11 digit numbers", LARGE)


# What the code detector's line table and unwrapping read (``detectors/code/line_table.py``,
# ``unwrap.py``, ``grep_files.py``), each repeated to the size: docstrings and block comments
# opened and closed, fences, quoted words, inline code, grep paths, nl padding, headings.
CODE_SHAPES = {
    "docstrings": lambda n: ('def f():\n    """Open\n    x = 1\n    """\n    return 1\n' * n)[:n],
    "unclosed docstrings": lambda n: ('x = """a\n' * n)[:n],
    "block comments": lambda n: ("/* a\n * b\n */\nint x = 1;\n" * n)[:n],
    "fences": lambda n: ("```python\nx = 1\n```\ntext\n" * n)[:n],
    "unclosed fences": lambda n: ("```\n" * n)[:n],
    "quoted words": lambda n: ("x = 'the' + 'a' + \"'''\" if y else z;\n" * n)[:n],
    "inline code": lambda n: ("Use `x = f(y)` and :func:`open` here, `a`, `b`;\n" * n)[:n],
    "one long line of words": lambda n: ("The quick brown fox's tail; " * n)[:n],
    "grep paths": lambda n: "".join(f"src/p{i:07}.py:x = {i}\n" for i in range(n // 25))[:n],
    "grep context": lambda n: "".join("a/b.py:x\n" + "a/b.py-" * 30 + "\n" for _ in range(n // 220))[:n],
    "nl padding": lambda n: "".join(f"{i:>6}\tx = {i}\n       \n" for i in range(n // 20))[:n],
    "headings": lambda n: "".join(f"src/p{i:07}.py\nx = 1\n\n" for i in range(n // 25))[:n],
}


@pytest.mark.parametrize("name", sorted(CODE_SHAPES))
@pytest.mark.parametrize("detector_name", ["code", "code (no languages)", "proprietary_code"])
def test_code_detectors_are_linear_on_what_their_line_table_reads(detectors, detector_name: str, name: str) -> None:
    detector = detectors[detector_name]
    small = _cpu_seconds(detector, CODE_SHAPES[name](SMALL))
    large = _cpu_seconds(detector, CODE_SHAPES[name](LARGE))
    ratio = large / max(small, 1e-6)
    assert large < NEGLIGIBLE_S or ratio <= MAX_RATIO, f"{detector_name} on {name}: {small * 1000:.1f} ms at 10 KB, {large * 1000:.1f} ms at 100 KB"
