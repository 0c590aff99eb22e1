"""Stack traces are found whole, from real runtimes' output, and never in ordinary code."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from detectors.code.stack_traces import stack_trace_rows

TRACES = sorted((Path(__file__).resolve().parent.parent / "data" / "stack_traces").glob("*.txt"))
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def test_the_corpus_is_there() -> None:
    runtimes = {path.name.split("-")[0] for path in TRACES} | {
        path.name.split("-")[1] for path in TRACES if path.name.startswith("handwritten")
    }
    assert {"python", "java", "node", "rust", "go", "csharp", "ruby", "php"} <= runtimes


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.stem)
def test_every_trace_is_found_nearly_whole(path: Path) -> None:
    lines = path.read_text().split("\n")
    rows = stack_trace_rows(lines)
    text_rows = [i for i, line in enumerate(lines) if line.strip()]
    missed = [i for i in text_rows if not rows[i]]
    # One line may be left out: an error line in a shape no rule knows (a Rails error summary).
    assert len(missed) <= 1, [lines[i] for i in missed]


def _stdlib_modules_without_traces(count: int) -> list[Path]:
    """The largest standard-library modules whose text holds no trace (doctests often do)."""
    modules = sorted(STDLIB.glob("*.py"), key=lambda p: p.stat().st_size, reverse=True)
    clean = [p for p in modules if "Traceback" not in p.read_text(errors="replace")]
    return clean[:count]


def test_ordinary_code_has_no_trace() -> None:
    modules = _stdlib_modules_without_traces(40)
    assert len(modules) == 40
    for module in modules:
        lines = module.read_text(errors="replace").split("\n")
        marked = [line for line, row in zip(lines, stack_trace_rows(lines)) if row]
        assert marked == [], module.name


def test_one_frame_like_line_is_not_a_trace() -> None:
    lines = [
        "function report(err) {",
        '  console.log("    at handler (server.js:10:5)");',
        "  return err;",
        "}",
    ]
    assert not any(stack_trace_rows(lines))
    assert not any(stack_trace_rows(['    at foo (bar.js:1:2)']))


def test_code_around_a_trace_is_not_marked() -> None:
    trace = (TRACES[0].parent / "python-17.txt").read_text().rstrip("\n").split("\n")
    code = ["def load(d, k):", "    return d[k]", ""]
    after = ["", "def main():", "    return load({}, 'b')"]
    rows = stack_trace_rows(code + trace + after)
    assert rows[: len(code)] == [False] * len(code)
    assert rows[-len(after) :] == [False] * len(after)
    assert all(rows[len(code) : len(code) + len(trace)])


@pytest.fixture(scope="module")
def code_detector():
    from detectors.code import CodeDetector

    return CodeDetector()


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.stem)
def test_a_pasted_trace_is_not_reported_as_code(code_detector, path: Path) -> None:
    trace = path.read_text()
    assert code_detector.scan(trace) == []
    assert code_detector.scan(f"It fails with:\n```python\n{trace}```\n") == []


def test_code_and_traces_in_one_prompt(code_detector) -> None:
    python_trace = (TRACES[0].parent / "python-17.txt").read_text()
    node_trace = (TRACES[0].parent / "node-01.txt").read_text()
    prompt = (
        f"Here is my function:\n\ndef load(d, k):\n    return d[k]\n\nand running it prints\n\n{python_trace}\n"
        f"The front end does this:\n```js\nconst a = {{}};\nconsole.log(a.b.c);\n```\nwhich gives\n```\n{node_trace}```\n"
    )
    found = [(f.rule, f.value(prompt)) for f in code_detector.scan(prompt)]
    assert found == [
        ("python", "def load(d, k):\n    return d[k]"),
        ("javascript", "const a = {};\nconsole.log(a.b.c);"),
    ]


def test_marker_screen_keeps_every_marker_line() -> None:
    """Only lines the screen passes are matched against the marker pattern: on the
    trace corpus and on standard-library code (doctests hold traces), every line the pattern
    matches passes the screen, so the rows are the ones a match on every line gives."""
    from detectors.code.stack_traces import _MARKER, _marker_candidates_of

    texts = [path.read_text() for path in TRACES]
    texts += [path.read_text(errors="replace") for path in sorted(STDLIB.glob("*.py"))[:120]]
    matched = 0
    for text in texts:
        lines = text.split("\n")
        every = [i for i, line in enumerate(lines) if _MARKER.match(line)]
        assert set(every) <= set(_marker_candidates_of(lines, text))
        matched += len(every)
    assert matched > 250



def test_the_whole_text_screen_is_the_alternation_it_replaced() -> None:
    import re

    from detectors.code.stack_traces import may_hold_trace

    alternation = re.compile(
        r"Traceback \(most|\n\s+at \S|goroutine \d|panicked at|:\d+:in [`']|Stack trace:|\n#\d+ |"
        r"stack backtrace:|--- End of"
    )
    texts = [path.read_text() for path in TRACES]
    texts += [path.read_text(errors="replace") for path in sorted(STDLIB.glob("*.py"))[:150]]
    texts += ["x\n  at y", "goroutine x", "goroutine 1", "a:12:in `b'", "\n#1 x", "#1 x", "at x", ""]
    verdicts = [may_hold_trace(text) for text in texts]
    assert verdicts == [alternation.search("\n" + text) is not None for text in texts]
    assert any(verdicts) and not all(verdicts)
