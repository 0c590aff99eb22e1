"""Bulk personal data: how many people's records a pasted table, JSON array or log holds.

A policy says "block more than N records", so the detector reports each structure once, as a
``PII_RECORDS`` finding spanning it, with ``details = {"records": N, "entities": [...],
"format": "table" | "json" | "lines"}``. A record is a table row, an object of a JSON array or
a line that holds at least one personal-data finding. Tables also name their columns, so a
``name`` column yields PERSON findings even without a model.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Iterator, Sequence

from detectors.pii.light_imports import RecognizerResult

from detectors.base import Finding

RULE = "PII_RECORDS"
# Findings that do not make a line someone's record by themselves: a list of links, of towns,
# of dates or of ZIP+4 examples is no list of people.
_NOT_ABOUT_A_PERSON = frozenset({"DOMAIN_NAME", "LOCATION", "DATE_TIME", "ZIP_CODE", "NRP", "ORGANIZATION", "TITLE", "AGE"})
_DELIMITERS = (",", "\t", "|", ";")
_NAME_HEADER = re.compile(
    r"^\W*(?:(?:full|first|last|given|family|middle|customer|client|contact|patient|employee|"
    r"holder|card_?holder|recipient|sender|owner|person)[ _\-]?name|name|surname|customer|patient|"
    r"employee|recipient|cardholder|contact|姓名|名字|联系人|收件人|收货人|客户|患者|持卡人|户名|员工)\W*$",
    re.IGNORECASE,
)
_NAME_CELL = re.compile(r"^[^\W\d_][^\d@/\\{}<>=:;]{0,48}$")
_JSON_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{}]')
# A table needs a header and at least this many body rows before its columns are trusted.
_MIN_TABLE_ROWS = 2


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Structure:
    format: str
    span: Span
    rows: tuple[Span, ...]


# Anchor for the prefilter: where an array of objects opens.
JSON_ARRAY_ANCHOR = r"\[\s*\{"
# Anchor for the prefilter: where a header naming a name column may be.
# Case-folded; a name word that ends a cell, as _NAME_HEADER wants it.
NAME_HEADER_ANCHOR = (
    r"(?:name|surname|customer|patient|employee|recipient|cardholder|contact"
    r"|姓名|名字|联系人|收件人|收货人|客户|患者|持卡人|户名|员工)[ \t\"'*]*(?:[,\t|;]|\r?\n|$)"
)


def bulk_record_findings(
    text: str, findings: list[Finding], min_records: int, detector: str, array_starts: Sequence[int]
) -> list[Finding]:
    """``PII_RECORDS`` findings; ``array_starts`` are the offsets of ``[{`` (JSON_ARRAY_ANCHOR)."""
    by_start = sorted((f for f in findings if f.rule not in _NOT_ABOUT_A_PERSON), key=lambda f: f.start)
    starts = [f.start for f in by_start]
    covered: list[Span] = []
    reports: list[Finding] = []
    tables = tables_around(text, sorted({line.start for line in _lines_of(text, starts)}))
    # A JSON array is only reported with min_records findings inside; skip the tokenizing if
    # the whole text has fewer.
    arrays = list(find_json_arrays(text, array_starts)) if len(by_start) >= max(min_records, 1) else []
    for structure in [*arrays, *tables]:
        if any(_overlaps(structure.span, other) for other in covered):
            continue
        report = _report(structure, starts, by_start, min_records, detector)
        if report is not None:
            covered.append(structure.span)
            reports.append(report)
    for structure in _pii_lines(text, by_start, covered):
        report = _report(structure, starts, by_start, min_records, detector)
        if report is not None:
            reports.append(report)
    return reports


def table_name_results(text: str, header_hits: list[int], score: float) -> list[RecognizerResult]:
    """PERSON results for cells under a header such as ``name`` or ``姓名``.

    ``header_hits`` are offsets where a name-column word occurs (the prefilter finds them).
    """
    results: list[RecognizerResult] = []
    for table in tables_around(text, sorted({line.start for line in _lines_of(text, sorted(header_hits))})):
        header, *body = table.rows
        delimiter = _delimiter_of(text, header)
        name_columns = [
            i for i, cell in enumerate(text[header.start : header.end].split(delimiter)) if _NAME_HEADER.match(cell.strip())
        ]
        if not name_columns:
            continue
        for row in body:
            for column, (cell_start, cell_end) in enumerate(_cells(text, row, delimiter)):
                cell = text[cell_start:cell_end]
                stripped = cell.strip().strip("\"'")
                if column in name_columns and _NAME_CELL.match(stripped):
                    offset = cell_start + cell.index(stripped)
                    results.append(RecognizerResult("PERSON", offset, offset + len(stripped), max(score, 0.7)))
    return results


def tables_around(text: str, line_starts: list[int]) -> list[Structure]:
    """The tables (runs of >= 3 lines splitting into the same cells) holding these lines.

    A run is maximal, so growing it from any of its lines finds the same run; each line is
    looked at about once, however many of the given lines share a table.
    """
    tables: list[Structure] = []
    reached = -1
    for line_start in line_starts:
        if line_start <= reached:
            continue
        line = _line_of(text, line_start)
        shape = _shape(text[line.start : line.end])
        if shape is None:
            continue
        rows = [line]
        while rows[0].start > 0:
            previous = _line_of(text, rows[0].start - 1)
            if _shape(text[previous.start : previous.end]) != shape:
                break
            rows.insert(0, previous)
        while rows[-1].end < len(text):
            following = _line_of(text, rows[-1].end + 1)
            if _shape(text[following.start : following.end]) != shape:
                break
            rows.append(following)
        reached = rows[-1].end
        if len(rows) > _MIN_TABLE_ROWS:
            tables.append(Structure("table", Span(rows[0].start, rows[-1].end), tuple(rows)))
    return tables


def find_json_arrays(text: str, starts: Sequence[int]) -> Iterator[Structure]:
    """Arrays of objects, each object one row, read from each ``[{`` in ``starts`` (the
    prefilter finds them) to the bracket that closes it; arrays nested inside are found on
    the way."""
    reached = -1
    for start in sorted(starts):
        if start < reached:
            continue
        stack: list[tuple[str, int, list[Span]]] = []
        for token in _JSON_TOKENS.finditer(text, start):
            reached = token.end()
            char = token.group()
            if char in "[{":
                stack.append((char, token.start(), []))
                continue
            if char not in "]}" or not stack:
                continue
            opener, begin, children = stack.pop()
            if (opener, char) not in (("[", "]"), ("{", "}")):
                break  # unbalanced: this is not JSON
            span = Span(begin, token.end())
            if char == "}" and stack and stack[-1][0] == "[":
                stack[-1][2].append(span)
            elif char == "]" and len(children) >= 2:
                yield Structure("json", span, tuple(children))
            if not stack:
                break


def _pii_lines(text: str, findings: list[Finding], covered: list[Span]) -> list[Structure]:
    """Runs of consecutive lines that hold the same kind of finding (logs, JSON Lines, SQL rows)."""
    lines: list[tuple[Span, set[str]]] = []
    for finding, line in zip(findings, _lines_of(text, [finding.start for finding in findings])):
        if lines and lines[-1][0] == line:
            lines[-1][1].add(finding.rule)
        else:
            lines.append((line, {finding.rule}))
    structures: list[Structure] = []
    run: list[Span] = []
    shared: set[str] = set()
    for line, types in lines:
        if any(_overlaps(line, other) for other in covered):
            _close_run(run, structures)
            run, shared = [], set()
            continue
        if run and run[-1].end + 1 == line.start and types & shared:
            run.append(line)
            shared &= types
            continue
        _close_run(run, structures)
        run, shared = [line], set(types)
    _close_run(run, structures)
    return structures


def _close_run(run: list[Span], structures: list[Structure]) -> None:
    if len(run) >= 2:
        structures.append(Structure("lines", Span(run[0].start, run[-1].end), tuple(run)))


def _report(structure: Structure, starts: list[int], by_start: list[Finding], min_records: int, detector: str) -> Finding | None:
    records = sum(1 for row in structure.rows if _count_in(starts, row) > 0)
    if records < min_records:
        return None
    first, last = bisect_left(starts, structure.span.start), bisect_left(starts, structure.span.end)
    entities = sorted({f.rule for f in by_start[first:last]})
    return Finding(
        kind="pii", rule=RULE, start=structure.span.start, end=structure.span.end, confidence=1.0,
        detector=detector, details={"records": records, "entities": entities, "format": structure.format},
    )


def _count_in(starts: list[int], span: Span) -> int:
    return bisect_left(starts, span.end) - bisect_left(starts, span.start)


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _line_of(text: str, position: int) -> Span:
    """The line holding ``position`` (without its newline)."""
    end = text.find("\n", position)
    return Span(text.rfind("\n", 0, position) + 1, len(text) if end < 0 else end)


def _lines_of(text: str, positions: Sequence[int]) -> list[Span]:
    """``_line_of`` each of these ascending positions, each line searched for once: a
    one-line JSON body holds a thousand findings on one line of 100 KB."""
    lines: list[Span] = []
    for position in positions:
        if not lines or not lines[-1].start <= position <= lines[-1].end:
            lines.append(_line_of(text, position))
        else:
            lines.append(lines[-1])
    return lines


def _shape(line: str) -> tuple[str, int] | None:
    for delimiter in _DELIMITERS:
        count = line.count(delimiter)
        if count >= 1:
            return delimiter, count
    return None


def _delimiter_of(text: str, line: Span) -> str:
    shape = _shape(text[line.start : line.end])
    return shape[0] if shape else ","


def _cells(text: str, row: Span, delimiter: str) -> Iterator[tuple[int, int]]:
    start = row.start
    for match in re.finditer(re.escape(delimiter), text[row.start : row.end]):
        yield start, row.start + match.start()
        start = row.start + match.end()
    yield start, row.end
