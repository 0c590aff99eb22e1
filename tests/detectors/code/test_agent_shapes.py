"""Code as coding agents send it: every read format and tool-input shape is found, named by its
file, and reported in the file's own line numbers, with spans in the text as sent (issue 14)."""

from __future__ import annotations

import gc
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from detectors.code import CodeDetector, ProprietaryCodeDetector
from detectors.code.read_formats import FILE_PATH, SHAPES, claude_read, claude_read_arrow, git_diff
from detectors.code.unwrap import DIFF, GREP, NOTEBOOK, NUMBERED, PLAIN, QUOTE, unwrap
from engine_sample import ENGINE, LINES
from llm_dlp.providers import anthropic, gemini, openai, responses


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from detectors.code.index_store import IndexStore
    from detectors.code.indexer import build_index

    root = tmp_path_factory.mktemp("acme")
    (root / "src" / "pricing").mkdir(parents=True)
    (root / FILE_PATH).write_text(ENGINE)
    index_dir = root / "index"
    store = IndexStore(index_dir, create=True)
    try:
        build_index(store, "acme-core", "core", [root / "src"])
    finally:
        store.close()
    return index_dir


@pytest.fixture(scope="module")
def proprietary(index_dir: Path) -> ProprietaryCodeDetector:
    return ProprietaryCodeDetector(index_dir)


def _the_finding(findings: list) -> object:
    [finding] = [f for f in findings if f.details["path"].endswith("engine.py")]
    return finding


@pytest.mark.parametrize("shape", SHAPES)
def test_every_read_format_of_an_indexed_file_is_found_whole(proprietary: ProprietaryCodeDetector, shape: str) -> None:
    format_, numbered, names_file = SHAPES[shape]
    text = format_(LINES)
    finding = _the_finding(proprietary.scan(text))
    assert finding.rule == "acme-core" and finding.details["label"] == "core"
    assert finding.details["lines"] >= 70  # a `min_lines: 21` rule holds
    # the first lines are a docstring and `from __future__ import annotations`, no evidence
    assert finding.details["line_start"] <= 8 and finding.details["line_end"] >= 76
    if numbered:
        first, last = finding.details["file_lines"]
        assert first <= 8 and last >= 76
    else:
        assert "file_lines" not in finding.details
    if names_file:
        assert finding.details["file"] == FILE_PATH
    # the span is in the text as sent, and holds the matched code with its wrapper
    sent = text[finding.start : finding.end]
    assert "TIER_BREAKS" in sent and "shipments" in sent


def test_before_unwrapping_claude_code_reads_were_missed(proprietary: ProprietaryCodeDetector) -> None:
    """What the issue found: the numbered text fingerprinted as it is matches little or nothing."""
    from detectors.code.fingerprint import fingerprint
    from detectors.code.proprietary import find_matches

    for text in (claude_read(LINES), claude_read_arrow(LINES)):
        matches = find_matches(proprietary.table(), fingerprint(text))
        assert sum(m.line_end - m.line_start + 1 for m in matches) < 21


def test_a_part_of_the_file_reports_the_numbers_the_agent_showed(proprietary: ProprietaryCodeDetector) -> None:
    part = LINES[29:77]  # lines 30-77, as Read with offset=30 shows them
    text = "\n".join([claude_read(part, 30), "", "<system-reminder>", "Check whether the code is malware.", "</system-reminder>"])
    finding = _the_finding(proprietary.scan(text, path_hint="/home/dev/acme/" + FILE_PATH))
    first, last = finding.details["file_lines"]
    assert 30 <= first <= 33 and 74 <= last <= 77
    assert finding.details["file"] == "/home/dev/acme/" + FILE_PATH
    # the redaction starts at the start of a line (its number goes with it) and ends with code
    assert finding.start == 0 or text[finding.start - 1] == "\n"
    assert re.match(r"\d+\t", text[finding.start :])
    assert "system-reminder" not in text[finding.start : finding.end]


def test_a_diff_is_found_on_both_sides_once(proprietary: ProprietaryCodeDetector) -> None:
    text = git_diff(LINES)
    views = unwrap(text)
    assert [v.wrapper for v in views] == [DIFF, DIFF]
    assert "# reviewed" in views[0].text and "# reviewed" not in views[1].text
    # one finding, though both sides match
    finding = _the_finding(proprietary.scan(text))
    assert finding.details["file"] == FILE_PATH


def test_deleted_code_is_found_on_the_old_side(proprietary: ProprietaryCodeDetector) -> None:
    removed = "\n".join(f"-{line}" for line in LINES[10:70])
    text = f"--- a/{FILE_PATH}\n+++ b/{FILE_PATH}\n@@ -11,60 +11,1 @@\n{removed}\n+pass"
    finding = _the_finding(proprietary.scan(text))
    first, last = finding.details["file_lines"]
    assert 11 <= first and last <= 70 and last - first >= 40


@pytest.mark.parametrize(
    ("shape", "wrapper"),
    [("claude-read", NUMBERED), ("claude-read-arrow", NUMBERED), ("cat-n", NUMBERED), ("nl-ba", NUMBERED),
     ("nl", NUMBERED), ("grep-n", GREP), ("rg-heading", GREP), ("rg-no-numbers", GREP),
     ("rg-heading-no-numbers", GREP), ("git-show", DIFF), ("apply-patch", DIFF),
     ("markdown-quote", QUOTE), ("notebook", NOTEBOOK), ("gemini-read-file", PLAIN)],
)
def test_unwrap_gives_back_the_file(shape: str, wrapper: str) -> None:
    format_, numbered, names_file = SHAPES[shape]
    text = format_(LINES[3:40], 4)
    [view] = unwrap(text)
    assert view.wrapper == wrapper
    code = [line.rstrip() for line in view.text.split("\n") if line.strip()]
    assert [line.rstrip() for line in LINES[3:40] if line.strip()] == [line for line in code if line in LINES[3:40]]
    if numbered:
        assert view.lines(0, len(view.text)) == (4, 40)
    if names_file:
        assert view.files == (FILE_PATH,)
    # every line of the view comes from the line of the text it was on, with its wrapper
    starts = view.line_starts.tolist() + [len(view.text) + 1]
    for line_start, next_start in zip(starts, starts[1:]):
        if next_start - 1 > line_start and wrapper != NOTEBOOK:
            origin, end = view.span(line_start, next_start - 1)
            assert text[origin:end].endswith(view.text[line_start : next_start - 1])
            assert origin == 0 or text[origin - 1] == "\n"


def test_notebook_escapes_map_back_to_the_json() -> None:
    text = json.dumps({"cells": [{"cell_type": "code", "source": ['print("caf\u00e9 \\ done")\n', "x = 1"]}], "nbformat": 4})
    [view] = unwrap(text)
    assert view.text.startswith('print("caf\u00e9 \\ done")\nx = 1')
    start = view.text.index("caf")
    origin_start, origin_end = view.span(start, start + len("caf\u00e9 \\"))
    assert json.loads('"' + text[origin_start:origin_end] + '"') == "caf\u00e9 \\"


def test_grep_output_over_several_files_names_each() -> None:
    text = "\n".join([
        "src/a-b/x.py:10:def total(items):",
        "src/a-b/x.py-11-    return sum(items)",
        "--",
        "lib/y.py:3:import os",
        "lib/y.py-4-import sys",
    ])
    [view] = unwrap(text)
    assert view.text == "def total(items):\n    return sum(items)\nimport os\nimport sys"
    assert view.file(0, 10) == "src/a-b/x.py" and view.file(len(view.text) - 3, len(view.text)) == "lib/y.py"
    assert view.lines(0, len(view.text)) == (3, 11)


def test_ripgrep_without_numbers_over_several_files_names_each() -> None:
    text = "\n".join([
        "src/a-b/x.py:def total(items):",
        "src/a-b/x.py-    return sum(items)",
        "--",
        "lib/y.py:import os",
        "lib/y.py-import sys",
    ])
    [view] = unwrap(text)
    assert view.wrapper == GREP
    assert view.text == "def total(items):\n    return sum(items)\nimport os\nimport sys"
    assert view.file(0, 10) == "src/a-b/x.py" and view.file(len(view.text) - 3, len(view.text)) == "lib/y.py"
    assert view.lines(0, len(view.text)) is None  # no numbers given, none made up


def test_ripgrep_headings_without_numbers_name_each_file() -> None:
    text = "src/x.py\ndef total(items):\n    return sum(items)\n\nlib/y.py\nimport os\nimport sys"
    [view] = unwrap(text)
    assert view.text == "def total(items):\n    return sum(items)\n\nimport os\nimport sys"
    assert view.file(0, 10) == "src/x.py" and view.file(len(view.text) - 3, len(view.text)) == "lib/y.py"


def test_nl_without_ba_counts_the_blank_lines_it_does_not_number() -> None:
    text = "     1\timport os\n       \n     2\tdef f():\n     3\t    return os.sep\n"
    [view] = unwrap(text)
    assert view.text.split("\n")[:4] == ["import os", "       ", "def f():", "    return os.sep"]
    assert view.numbers[:4].tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("text", [
    "Note: this is a note\nNote: and another\n",  # a word and a colon is no path
    "https://example.com/a\nhttps://example.com/b\n",  # URLs are not grep output
    "config.yaml\nis where the settings live.\n",  # a file name alone, no directory
])
def test_prose_that_names_files_is_not_grep_output(text: str) -> None:
    [view] = unwrap(text)
    assert view.text == text and view.files == ()


@pytest.mark.parametrize("text", [
    "PORTS = {\n    80: 'http',\n    443: 'https',\n}\n",  # a dict of numbered entries is not grep output
    "x = [\n1, 2,\n3:4]\nlabel: 1\n",
    "Steps:\n1. install\n2. run\n",
    "<Foo\n  bar={1}\n>\n  child\n</Foo>\n",  # JSX: a closing bracket is not a quote
    ">>> print(1)\n1\n>>> print(2)\n2\n",  # a doctest is not a quote
    "def hunk(a, b):\n    yield '@@ -{} +{} @@'.format(a, b)\n    yield '*** Update File: x'\n",  # diff marks inside code
])
def test_code_and_prose_that_look_wrapped_are_left_alone(text: str) -> None:
    [view] = unwrap(text)
    assert view.text == text


def test_tool_inputs_reach_the_detector_with_their_file(proprietary: ProprietaryCodeDetector) -> None:
    """Claude Code's Read result, Edit, MultiEdit, Write and NotebookEdit inputs: each string a
    segment with the file path the tool call names, each found and named by that file."""
    half = len(LINES) // 2
    body = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [
        {"role": "user", "content": "Tidy up the pricing engine."},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "r1", "name": "Read", "input": {"file_path": "/w/" + FILE_PATH}},
        ]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "r1", "content": claude_read(LINES)}]},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "e1", "name": "Edit", "input": {
                "file_path": "/w/" + FILE_PATH, "old_string": "\n".join(LINES[:half]), "new_string": "\n".join(LINES[half:])}},
            {"type": "tool_use", "id": "m1", "name": "MultiEdit", "input": {
                "file_path": "/w/src/pricing/copy.py", "edits": [{"old_string": "pass", "new_string": ENGINE}]}},
            {"type": "tool_use", "id": "w1", "name": "Write", "input": {"file_path": "/w/src/pricing/new.py", "content": ENGINE}},
            {"type": "tool_use", "id": "n1", "name": "NotebookEdit", "input": {
                "notebook_path": "/w/notebooks/pricing.ipynb", "new_source": ENGINE, "cell_id": "c1"}},
        ]},
    ]}
    parsed = anthropic.extract(body)
    named = {}
    for segment in parsed.segments:
        for finding in proprietary.scan(segment.text, path_hint=segment.path_hint):
            named.setdefault(finding.details["file"], []).append(segment.location)
    assert set(named) == {"/w/" + FILE_PATH, "/w/src/pricing/copy.py", "/w/src/pricing/new.py", "/w/notebooks/pricing.ipynb"}
    assert len(named["/w/" + FILE_PATH]) == 3  # the Read result, old_string, new_string


def test_openai_and_codex_tool_calls_carry_their_file(proprietary: ProprietaryCodeDetector) -> None:
    chat = {"model": "gpt-5", "messages": [
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "read_file", "arguments": json.dumps({"path": FILE_PATH})}}]},
        {"role": "tool", "tool_call_id": "c1", "content": ENGINE},
    ]}
    codex = {"model": "gpt-5-codex", "input": [
        {"type": "function_call", "call_id": "s1", "name": "shell",
         "arguments": json.dumps({"command": ["bash", "-lc", f"sed -n '1,200p' {FILE_PATH}"]})},
        {"type": "function_call_output", "call_id": "s1", "output": ENGINE},
    ]}
    local_shell = {"model": "gpt-5-codex", "input": [
        {"type": "local_shell_call", "call_id": "l1", "status": "completed",
         "action": {"type": "exec", "command": ["bash", "-lc", f"nl -ba {FILE_PATH}"]}},
        {"type": "local_shell_call_output", "call_id": "l1", "output": SHAPES["nl-ba"][0](LINES)},
    ]}
    for parsed in (openai.extract(chat), responses.extract(codex), responses.extract(local_shell)):
        found = [f for s in parsed.segments for f in proprietary.scan(s.text, path_hint=s.path_hint)]
        assert [f.details.get("file") for f in found] == [FILE_PATH]


@pytest.mark.parametrize("shape", ["claude-read", "claude-read-arrow", "grep-n", "git-diff", "notebook", "markdown-quote"])
def test_code_detector_names_the_language_of_every_shape(shape: str) -> None:
    format_, numbered, names_file = SHAPES[shape]
    text = format_(LINES)
    findings = CodeDetector().scan(text, path_hint=FILE_PATH if numbered else None)
    assert findings and all(f.rule == "python" for f in findings)
    assert max(f.details["lines"] for f in findings) >= 40
    if names_file:
        assert findings[0].details["file"] == FILE_PATH


# Inputs built to make a careless line parser quadratic: long runs of what prefixes are made of.
ADVERSARIAL = {
    "colons": lambda n: ("a" * 300 + ":1" * 100 + "\n") * (n // 501),
    "digits": lambda n: ("1" * 400 + ":" + "\n") * (n // 402),
    "quotes": lambda n: ("> " * 200 + ">\n") * (n // 402),
    "hunks": lambda n: ("@@ -1,1000000 +1,1000000 @@\n" + " x\n" * 50) * (n // 178),
    "grep-context": lambda n: ("p" * 200 + ":1:x\n" + ("p" * 200 + "-") * 2 + "\n") * (n // 610),
    "headings": lambda n: ("." * 500 + "\n1:x\n") * (n // 505),
    "json-strings": lambda n: '{"cell_type": "code", ' + ('"source": ["' + "\\\\" * 200 + '", "' + "x" * 100) * (n // 520),
    "numbered": lambda n: "".join(f"{i}\t{'(' * 20}\n" for i in range(n // 28)),
    "nl-padding": lambda n: "".join(f"{i:>6}\tx = {i}\n       \n" for i in range(n // 24)),
    "rg-paths": lambda n: "".join(f"src/p{i:07}.py:x = {i}\n" for i in range(n // 25)),
    "rg-context": lambda n: "".join("a/b.py:x\n" + "a/b.py-" * 30 + "\n" for _ in range(n // 220)),
    "rg-headings": lambda n: "".join(f"src/p{i:07}.py\nx = 1\n\n" for i in range(n // 25)),
}


# Each timed sample runs unwrap for at least this much CPU, so a 100 KB input that unwraps
# in 3 ms is not measured against the timer's and the call's fixed costs.
_MIN_SAMPLE_S = 0.05


def _cpu_seconds(function: Callable[[str], object], text: str, samples: int) -> float:
    """CPU seconds of one ``function(text)``: the best of several samples, each of enough calls.

    The calling thread's CPU time, not the process's: threads other tests left running (a
    proxy, a scan pool) must not count. The garbage collector is off while timing: a full
    collection costs what the whole test session holds, not what this input does.
    """
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(samples):
            calls, started = 0, time.thread_time()
            while True:
                function(text)
                calls += 1
                spent = time.thread_time() - started
                if spent >= _MIN_SAMPLE_S:
                    break
            best = min(best, spent / calls)
    finally:
        gc.enable()
    return best


def unwrap_linearity_ratio(function: Callable[[str], object], kind: str) -> float:
    small, large = ADVERSARIAL[kind](100_000), ADVERSARIAL[kind](1_000_000)
    assert len(large) >= 900_000
    return _cpu_seconds(function, large, 3) / _cpu_seconds(function, small, 5)


@pytest.mark.parametrize("kind", ADVERSARIAL)
def test_unwrap_is_linear_on_adversarial_input(kind: str) -> None:
    """1 MB takes about ten times what 100 KB takes (10-17 measured; a quadratic step would take
    a hundred). The bound leaves room for a loaded machine."""
    ratio = unwrap_linearity_ratio(unwrap, kind)
    assert ratio < 40, ratio


def test_the_linearity_measurement_catches_a_quadratic_step() -> None:
    """The measurement above, on unwrap with a step that rereads the text before each line."""
    def quadratic(text: str) -> object:
        for line_start in range(0, len(text), 200):
            text.count("\t", 0, line_start)
        return unwrap(text)

    assert unwrap_linearity_ratio(quadratic, "numbered") > 40


def test_gemini_read_file_results_carry_their_file(proprietary: ProprietaryCodeDetector) -> None:
    body = {"contents": [
        {"role": "user", "parts": [{"text": "Explain the pricing engine."}]},
        {"role": "model", "parts": [{"functionCall": {"name": "read_file", "args": {"absolute_path": "/w/" + FILE_PATH}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "read_file", "response": {"output": ENGINE}}}]},
    ]}
    parsed = gemini.extract(body)
    found = [f for s in parsed.segments for f in proprietary.scan(s.text, path_hint=s.path_hint)]
    assert [f.details.get("file") for f in found] == ["/w/" + FILE_PATH]


@pytest.mark.parametrize(("command", "path"), [
    ("cat -n src/pricing/engine.py", FILE_PATH),
    (["bash", "-lc", "nl -ba src/pricing/engine.py | sed -n '1,200p'"], FILE_PATH),
    ("sed -n '30,77p' src/pricing/engine.py", FILE_PATH),
    ("ls -la src/", None),
    ("cat 'unterminated", None),
])
def test_shell_reads_name_their_file(command, path) -> None:
    from llm_dlp.providers.base import path_in_command

    assert path_in_command(command) == path


def test_a_listing_pasted_in_a_chat_message_is_found_in_its_fence(proprietary: ProprietaryCodeDetector) -> None:
    text = ("I ran Read on the engine and got this, what is wrong with the rounding?\n\n```\n"
            + claude_read(LINES[10:60], 11) + "\n```\n\nThe totals are off by a cent sometimes.")
    finding = _the_finding(proprietary.scan(text))
    first, last = finding.details["file_lines"]
    assert 11 <= first <= 16 and 55 <= last <= 60
    assert text.index("```\n") < finding.start and finding.end <= text.rindex("\n```")


def test_code_detector_finds_code_a_diff_only_deletes() -> None:
    removed = "\n".join(f"-{line}" for line in LINES[14:60])
    text = f"--- a/{FILE_PATH}\n+++ b/{FILE_PATH}\n@@ -15,46 +15,0 @@\n{removed}\n"
    [finding] = CodeDetector().scan(text)
    assert finding.rule == "python" and finding.details["file"] == FILE_PATH
    assert text[finding.start :].startswith("-")


def test_a_notebook_with_characters_outside_the_bmp_is_read(proprietary: ProprietaryCodeDetector) -> None:
    """json.dumps escapes an emoji as a surrogate pair; decoded one escape at a time, the view
    held lone surrogates and the proprietary detector failed on them."""
    lines = [*LINES[:10], "BANNER = '\U0001f680 launch'", *LINES[10:]]
    text = json.dumps({"cells": [{"cell_type": "code", "source": [line + "\n" for line in lines]}], "nbformat": 4})
    [view] = unwrap(text)
    assert "BANNER = '\U0001f680 launch'" in view.text
    start = view.text.index("\U0001f680")
    origin, end = view.span(start, start + 1)
    assert text[origin:end] == "\\ud83d\\ude80"
    assert _the_finding(proprietary.scan(text)).details["lines"] >= 70


def test_a_quoted_diff_is_still_a_diff() -> None:
    diff = "\n".join("> " + line for line in git_diff(LINES[3:12], 4).split("\n"))
    assert unwrap(diff)[0].wrapper == DIFF
