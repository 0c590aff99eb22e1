"""CodeDetector: code regions in prompts, with language, lines and characters; prose stays prose."""

from __future__ import annotations

import pytest

from detectors.code import CodeDetector

PYTHON_QUESTION = """Hi, can you help me fix this function? It crashes when the list is empty.

def mean(values):
    total = sum(values)
    if not values:
        raise ValueError("no values")
    return total / len(values)

The error is a ZeroDivisionError, which I do not understand. Thanks for looking!
"""

PROSE = [
    (
        "The quarterly report is attached. Revenue grew in every region except the north, where the\n"
        "new warehouse opened late. Please review the numbers before Thursday's meeting and send me\n"
        "your comments by the end of the day.\n"
    ),
    (
        "Permission is hereby granted, free of charge, to any person obtaining a copy of this software\n"
        "and associated documentation files (the \"Software\"), to deal in the Software without\n"
        "restriction, including without limitation the rights to use, copy, modify, merge, publish,\n"
        "distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the\n"
        "Software is furnished to do so, subject to the following conditions:\n"
    ),
]

# Reference documentation quotes code inline and marks up its structure; that is still prose.
DOCUMENTATION = [
    # reStructuredText: a directive with its indented description, roles and literals
    (
        ".. function:: copy(src, dst, *, follow_symlinks=True)\n\n"
        "   Copy the file *src* to the file or directory *dst*.  If *dst* specifies a directory,\n"
        "   the file will be copied into *dst* using the base filename from *src*.  Returns the\n"
        "   path to the newly created file; see :func:`copyfile` and ``os.stat()``.\n\n"
        "   .. versionchanged:: 3.3\n"
        "      Added *follow_symlinks* argument.\n"
    ),
    # a heading underlined and overlined with asterisks, then a paragraph
    (
        "*******************\nMultimedia Services\n*******************\n\n"
        "The modules described in this chapter implement algorithms and interfaces that are mainly\n"
        "useful for multimedia applications.  They are available at the discretion of the installation.\n"
    ),
    # Markdown with inline code spans
    (
        "The `timeout` option sets how long `connect()` waits, in milliseconds. When it is `0`,\n"
        "the call waits forever; a negative `timeout` raises `RangeError` before any `socket` is opened.\n"
        "Use `server.close()` from the `'error'` handler to stop listening.\n"
    ),
]


@pytest.fixture(scope="module")
def detector() -> CodeDetector:
    return CodeDetector()


def test_unfenced_python_in_a_question_is_one_region(detector: CodeDetector) -> None:
    findings = detector.scan(PYTHON_QUESTION)
    assert len(findings) == 1
    finding = findings[0]
    assert finding.kind == "code" and finding.rule == "python"
    assert finding.value(PYTHON_QUESTION).startswith("def mean(values):")
    assert finding.value(PYTHON_QUESTION).endswith("return total / len(values)")
    assert finding.details == {"language": "python", "lines": 5, "chars": finding.end - finding.start}


def test_fence_info_string_names_the_language(detector: CodeDetector) -> None:
    text = "Config:\n```yaml\nserver:\n  port: 8080\n  host: example.org\n```\nDone."
    [finding] = detector.scan(text)
    assert finding.rule == "yaml"
    assert finding.value(text) == "server:\n  port: 8080\n  host: example.org"
    assert finding.details["lines"] == 3


def test_unlabelled_fence_is_classified(detector: CodeDetector) -> None:
    text = (
        "Why does this not compile?\n```\n#include <stdio.h>\n\nint main(void) {\n"
        '    int count = 0;\n    for (int i = 0; i < 10; i++) {\n        count += i;\n    }\n'
        '    printf("%d\\n", count);\n    return 0;\n}\n```\n'
    )
    [finding] = detector.scan(text)
    assert finding.rule in {"c", "cpp"}
    assert finding.details["lines"] == 9


def test_numbered_file_listing_uses_the_path_hint(detector: CodeDetector) -> None:
    listing = "\n".join(
        f"{n:>6}→{line}"
        for n, line in enumerate(
            ["package main", "", "import \"fmt\"", "", "func main() {", '\tfmt.Println("hi")', "}"], start=1
        )
    )
    [finding] = detector.scan(listing, path_hint="/repo/cmd/tool/main.go")
    assert finding.rule == "go"
    assert (finding.start, finding.end) == (0, len(listing))
    assert finding.details["lines"] == 5


@pytest.mark.parametrize("text", PROSE)
def test_prose_and_licence_text_are_not_code(detector: CodeDetector, text: str) -> None:
    assert detector.scan(text) == []


@pytest.mark.parametrize("text", DOCUMENTATION)
def test_documentation_markup_and_inline_code_are_not_code(detector: CodeDetector, text: str) -> None:
    assert detector.scan(text) == []


def test_code_quoting_names_in_docstrings_is_still_code(detector: CodeDetector) -> None:
    text = (
        "def parse(raw, strict=False):\n"
        '    """Return the ``Message`` in *raw*; see :func:`load` and `strict`."""\n'
        "    header, _, body = raw.partition(b\"\\r\\n\\r\\n\")\n"
        "    if strict and not header:\n"
        "        raise ValueError(\"no header\")\n"
        "    return Message(header.decode(), body)\n"
    )
    [finding] = detector.scan(text)
    assert finding.rule == "python"
    assert finding.details["lines"] == 6


def test_empty_and_odd_inputs_do_not_raise(detector: CodeDetector) -> None:
    for text in ["", "\n\n", "x", "```", "```python\n", "\r\n".join(["a = 1"] * 3)]:
        detector.scan(text)


def test_the_model_reads_blocks_of_lines_taken_evenly_from_a_long_region() -> None:
    from detectors.code.detector import SAMPLE_BLOCK_LINES, SAMPLE_BLOCKS, _sample

    def by_lines(code: str) -> str:
        lines = code.split("\n")
        if len(lines) <= SAMPLE_BLOCKS * SAMPLE_BLOCK_LINES:
            return code
        step = (len(lines) - SAMPLE_BLOCK_LINES) / (SAMPLE_BLOCKS - 1)
        return "\n".join(line for i in range(SAMPLE_BLOCKS) for line in lines[round(i * step) : round(i * step) + SAMPLE_BLOCK_LINES])

    for count in (1, 35, 36, 37, 48, 100, 1001):
        for end in ("", "\n", "\r\n"):
            code = "\n".join(f"x{i} = {i}  # é" if i % 7 else "" for i in range(count)) + end
            assert _sample(code) == by_lines(code)
