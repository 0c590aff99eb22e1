"""``llm-dlp audit query`` and ``seen``: which lines match, printed as a table or as JSON lines."""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import json
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from llm_dlp.audit.events import RESPONSE
from llm_dlp.audit.records import AuditEntry, FindingEntry, Unreadable, read_lines


@dataclass(frozen=True, slots=True)
class Filter:
    """Every given criterion must hold; within one criterion, any of its values will do."""

    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive
    tenants: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    decisions: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    hosts: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()

    def matches(self, entry: AuditEntry) -> bool:
        if self.since is not None and entry.time < self.since:
            return False
        if self.until is not None and entry.time >= self.until:
            return False
        return (
            _any(self.tenants, entry.tenant)
            and _any(self.users, entry.user)
            and _any(self.decisions, entry.decision)
            and _any(self.hosts, entry.host)
            and _any(self.models, entry.model)
            and _any(self.events, entry.event)
            and (not (self.kinds or self.rules) or any(self._finding_matches(f) for f in entry.findings))
        )

    def _finding_matches(self, finding: FindingEntry) -> bool:
        # Kind and rule must hold for the same finding: --kind pii --rule email is one question.
        return _any(self.kinds, finding.kind) and _any(self.rules, finding.rule)

    def needles(self) -> list[list[bytes]]:
        """For a cheap test on the raw line before parsing it: each wanted value appears quoted.

        Only ever rejects lines that cannot match; ``matches`` has the final word.
        """
        groups = (self.tenants, self.users, self.decisions, self.kinds, self.rules, self.hosts, self.models, self.events)
        return [[json.dumps(v, ensure_ascii=False).encode() for v in group] for group in groups]


def _any(wanted: frozenset[str], value: str | None) -> bool:
    return not wanted or value in wanted


def select(files: Iterable[Path], where: Filter, unreadable: list[Unreadable] | None = None) -> Iterator[AuditEntry]:
    needles = [group for group in where.needles() if group]
    since, until = _stamp(where.since), _stamp(where.until)
    for path, number, raw in read_lines(files):
        if not all(any(n in raw for n in group) for group in needles):
            continue
        if (since or until) and raw.startswith(_TIME_PREFIX):
            # Lines written by AuditLog start with a fixed-width UTC time, which sorts as text.
            stamp = raw[len(_TIME_PREFIX):len(_TIME_PREFIX) + _STAMP_WIDTH]
            fixed_width = stamp[19:20] == b"." and stamp[-1:] == b"Z"
            if fixed_width and ((since and stamp < since) or (until and stamp >= until)):
                continue
        try:
            entry = AuditEntry.parse(raw)
        except (ValueError, KeyError, TypeError) as exc:
            if unreadable is not None:
                unreadable.append(Unreadable(path, number, str(exc)))
            continue
        if where.matches(entry):
            yield entry


def select_merged(chains: Sequence[Iterable[Path]], where: Filter) -> Iterator[AuditEntry]:
    """``select`` over several chains (the logs of several instances), merged by time: each
    chain is in time order already, so the merge streams without sorting the whole log."""
    return heapq.merge(*(select(files, where) for files in chains), key=lambda entry: entry.time)


_TIME_PREFIX = b'{"time": "'
_STAMP_WIDTH = len("2025-01-01T00:00:00.000000Z")


def _stamp(moment: dt.datetime | None) -> bytes | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()


def newest(entries: Iterable[AuditEntry], limit: int | None) -> list[AuditEntry]:
    return list(entries) if limit is None else list(deque(entries, maxlen=limit))


@dataclass(frozen=True, slots=True)
class Sighting:
    """A line that holds the value, the value's own findings in it, and the request's upstream
    answer when the log holds it (joined by ``request_id``)."""

    entry: AuditEntry
    findings: tuple[FindingEntry, ...]
    answer: AuditEntry | None = None

    @property
    def outcome(self) -> str:
        """What happened to the value, which is not always the request's decision: a value only
        logged may sit in a request redacted for another, and a blocked request sent nothing."""
        decision = self.entry.decision or ""
        actions = sorted({f.action for f in self.findings})
        if decision == "block":
            return "not sent (request blocked)"
        if decision == "error":
            return "not sent (request refused: error)"
        if decision.startswith("would_"):
            return f"sent unchanged (monitor mode; policy: {'/'.join(actions)})"
        return "/".join(_OUTCOMES.get(a, a) for a in actions)


_OUTCOMES = {
    "withhold": "not sent (withheld: the model read a notice instead)",
    "redact": "redacted",
    "log": "sent, logged",
    "allow": "sent (allowed by an exception)",
}

_RESPONSE_EVENT = json.dumps(RESPONSE).encode()


def seen(files: Iterable[Path], fingerprint: str) -> list[Sighting]:
    """Lines whose findings carry this value hash (the value itself was never written), each
    with its request's answer line, which follows it in the log."""
    needle = json.dumps(fingerprint).encode()
    found: list[Sighting] = []
    waiting: dict[str, int] = {}  # request_id -> index in ``found`` of a sighting still without its answer
    for _path, _number, raw in read_lines(files):
        if needle in raw:
            entry = AuditEntry.parse(raw)
            own = tuple(f for f in entry.findings if f.value_hash == fingerprint)
            if own:
                if entry.request_id and entry.status is None:  # forwarded: an answer line will follow
                    waiting[entry.request_id] = len(found)
                found.append(Sighting(entry, own))
        elif waiting and _RESPONSE_EVENT in raw and any(json.dumps(r).encode() in raw for r in waiting):
            answer = AuditEntry.parse(raw)
            index = waiting.pop(answer.request_id or "", None)
            if index is not None:
                found[index] = dataclasses.replace(found[index], answer=answer)
    return found


SEEN_COLUMNS = ("time", "tenant", "user", "host", "finding", "what happened to it", "upstream", "where")


def seen_table(sightings: Iterable[Sighting]) -> str:
    rows = [(
        s.entry.time.strftime("%Y-%m-%d %H:%M:%S"),
        s.entry.tenant or "-",
        s.entry.user or "-",
        s.entry.host or "-",
        ", ".join(sorted({f"{f.kind}/{f.rule}" for f in s.findings})),
        s.outcome,
        Row(s.entry, s.answer).status,
        ", ".join(sorted({f.location for f in s.findings})) or "-",
    ) for s in sightings]
    return _aligned(SEEN_COLUMNS, rows)


# -- printing ---------------------------------------------------------------------------------

COLUMNS = ("time", "tenant", "user", "decision", "status", "host", "model", "findings")


@dataclass(frozen=True, slots=True)
class Row:
    """A line as the table shows it: a decision together with its upstream answer's line (joined
    by ``request_id``) when the selection holds both, so a request stays one row."""

    entry: AuditEntry
    answer: AuditEntry | None = None

    @property
    def status(self) -> str:
        entry = self.entry
        if entry.is_decision and entry.status is not None:
            return f"{entry.status} proxy"  # the proxy answered the client itself
        answer = self.answer if entry.is_decision else entry if entry.is_response else None
        if answer is None:
            return "-"
        return str(answer.status) if answer.status is not None and answer.error is None else "failed"


def request_rows(entries: Iterable[AuditEntry]) -> list[Row]:
    """One row per request, and one per other line; an answer whose decision line is not in
    ``entries`` (filtered out, or in an older file) keeps a row of its own."""
    entries = list(entries)
    decided = {e.request_id for e in entries if e.is_decision and e.request_id}
    answers = {e.request_id: e for e in entries if e.is_response and e.request_id in decided}
    return [Row(e, answers.get(e.request_id) if e.is_decision else None)
            for e in entries if not (e.is_response and e.request_id in decided)]


def table(entries: Iterable[AuditEntry], limit: int | None = None) -> str:
    shown = request_rows(entries)
    return _aligned(COLUMNS, [_row(r) for r in (shown if limit is None else shown[-limit:])])


def _aligned(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    if not rows:
        return "(no matching lines)"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(columns)]
    widths[-1] = len(columns[-1])  # the last column runs free instead of padding every row
    lines = ["  ".join(h.ljust(w) for h, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def _row(row: Row) -> tuple[str, ...]:
    entry = row.entry
    return (
        entry.time.strftime("%Y-%m-%d %H:%M:%S"),
        entry.tenant or "-",
        entry.user or "-",
        entry.decision or entry.event,
        row.status,
        entry.host or "-",
        entry.model or "-",
        finding_summary(entry) or "-",
    )


def finding_summary(entry: AuditEntry) -> str:
    counts: Counter[str] = Counter()
    for finding in entry.findings:
        counts[f"{finding.kind}/{finding.rule}"] += finding.count
    text = ", ".join(name if n == 1 else f"{name} x{n}" for name, n in counts.most_common())
    if entry.already_recorded:
        text += f"{' ' if text else ''}(+{entry.already_recorded} recorded earlier)"
    return text


def json_lines(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """The lines exactly as written, MAC included, so a filtered extract can still be checked."""
    for entry in entries:
        yield entry.raw.decode("utf-8")
