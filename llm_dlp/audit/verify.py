"""``llm-dlp audit verify``: walk the chain across files and name the first line that breaks it.

Logs of several proxy instances are several chains (``rotation.resolve_chains``): each is walked
on its own, and ``ChainSet`` says whether all of them hold. Two valid chains read as one would
look like a break at the first line of the second.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llm_dlp.audit.chain import GENESIS, PURGE_EVENT, ChainState, SealedLine, mac_of, open_line


@dataclass(frozen=True, slots=True)
class Problem:
    file: Path
    line: int  # 1-based, within ``file``
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(slots=True)
class Verification:
    files: list[Path]
    lines: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_time: str | None = None
    purged_before: int | None = None  # the chain starts after a recorded purge of seq 1..this
    problem: Problem | None = None
    anchors: set[tuple[int, str]] = field(default_factory=set)
    instances: set[str] = field(default_factory=set)  # the proxy instances that wrote its lines

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def chains(self) -> int:
        return 1


@dataclass(frozen=True, slots=True)
class ChainSet:
    """Several chains, each verified on its own: the logs of a fleet."""

    results: tuple[Verification, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def chains(self) -> int:
        return len(self.results)

    @property
    def lines(self) -> int:
        return sum(r.lines for r in self.results)

    @property
    def problem(self) -> Problem | None:
        return next((r.problem for r in self.results if r.problem is not None), None)

    @property
    def instances(self) -> list[str]:
        return sorted({i for r in self.results for i in r.instances})


def verify_chains(chains: Sequence[Sequence[Path]], key: bytes,
                  head_of: Callable[[list[Path]], ChainState | None] = lambda files: None) -> Verification | ChainSet:
    """Each chain walked on its own (``head_of`` finds its kept head); one chain is returned as is."""
    results = tuple(verify(list(files), key, head_of(list(files))) for files in chains)
    return results[0] if len(results) == 1 else ChainSet(results)


def verify(files: Sequence[Path], key: bytes, head: ChainState | None = None) -> Verification:
    """Walk the chain; ``head`` is the head the writer kept apart (chain.py), if any, to tell
    a log that ends early."""
    result = Verification(list(files))
    start: tuple[Path, int, SealedLine] | None = None
    previous: ChainState | None = None
    end: tuple[Path, int] = (files[-1] if files else Path("-"), 0)  # where the log ends
    for path, number, raw in _numbered_lines(files):
        end = (path, number)
        result.lines += 1
        try:
            line = open_line(raw)
        except ValueError as exc:
            _first(result, path, number, f"not a sealed audit line ({exc}): edited, inserted or torn")
            previous = None
            continue
        if mac_of(key, line.body) != line.mac:
            _first(result, path, number, f"seq {line.seq}: content does not match its MAC: the line was edited or forged")
            previous = None
            continue
        # A line with a valid MAC was written by the key holder, even after a problem: its purge
        # record still tells where a purged log legitimately begins.
        if isinstance(line.fields.get("instance"), str):
            result.instances.add(line.fields["instance"])
        if line.fields.get("event") == PURGE_EVENT:
            result.anchors.add((line.fields.get("anchor_seq"), line.fields.get("anchor_mac")))
        if result.lines == 1:
            start = (path, number, line)  # only a valid first line can be judged as the start
        elif previous is not None:
            broken = _link_problem(previous, line)
            if broken:
                _first(result, path, number, broken)
        previous = ChainState(line.seq, line.mac)
        result.first_seq = line.seq if result.first_seq is None else result.first_seq
        result.last_seq = line.seq
        result.last_time = line.fields.get("time")
    if start is not None:
        _check_start(result, *start)
    if head is not None and head.seq and result.problem is None:
        _check_end(result, previous, head, *end)
    return result


def _check_end(result: Verification, last: ChainState | None, head: ChainState, path: Path, number: int) -> None:
    last_seq = last.seq if last is not None else 0
    if last_seq > head.seq or (last_seq == head.seq and last is not None and last.mac == head.mac):
        return  # a writer without a head (a test, an old version) may have added lines: fine
    if last_seq < head.seq:
        reason = (f"the log ends at seq {last_seq}, but its writer recorded seq {head.seq}: "
                  f"{head.seq - last_seq} line(s) cut off the end (or lost in a crash without --audit-fsync)")
    else:
        reason = f"seq {last_seq} is not the line its writer recorded last (MAC differs): the last line was replaced"
    result.problem = Problem(path, number, reason)



def _link_problem(previous: ChainState, line: SealedLine) -> str | None:
    expected = previous.seq + 1
    if line.seq == expected and line.prev == previous.mac:
        return None
    if line.seq > expected:
        missing = line.seq - expected
        return (f"expected seq {expected}, found seq {line.seq}: {missing} line(s) missing here "
                "(deleted, or moved elsewhere)")
    if line.seq < expected:
        return f"seq {line.seq} follows seq {previous.seq}: lines were reordered, duplicated or inserted"
    return f"seq {line.seq} does not link to the line before it (prev MAC differs): lines were replaced"


def _check_start(result: Verification, path: Path, number: int, line: SealedLine) -> None:
    if line.seq == 1 and line.prev == GENESIS:
        return
    if (line.seq - 1, line.prev) in result.anchors:
        result.purged_before = line.seq - 1
        return
    # The start precedes any other problem in the walk, so it is the first bad line.
    result.problem = Problem(
        path, number,
        f"the log begins at seq {line.seq}: earlier lines are missing and no purge event records their removal",
    )


def _first(result: Verification, path: Path, number: int, reason: str) -> None:
    if result.problem is None:
        result.problem = Problem(path, number, reason)


def _numbered_lines(files: Sequence[Path]) -> Iterator[tuple[Path, int, bytes]]:
    for path in files:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                yield path, number, raw.rstrip(b"\n")


def describe(result: Verification | ChainSet) -> str:
    if isinstance(result, ChainSet):
        verdict = "OK" if result.ok else "FAILED"
        lines = [f"{verdict}: {result.chains} chains, each verified on its own"]
        lines += [f"  {_chain_name(r)}: {describe(r)}" for r in result.results]
        return "\n".join(lines)
    if result.problem is not None:
        return f"FAILED: {result.problem}"
    span = f"seq {result.first_seq}..{result.last_seq}" if result.lines else "no lines"
    purged = f", seq 1..{result.purged_before} purged by record" if result.purged_before else ""
    return (f"OK: {result.lines} lines in {len(result.files)} file(s), {span}{purged}, "
            f"last line at {result.last_time}")


def _chain_name(result: Verification) -> str:
    where = str(result.files[-1]) if result.files else "-"
    return f"{where} (instance {', '.join(sorted(result.instances))})" if result.instances else where


def as_json(result: Verification | ChainSet) -> str:
    if isinstance(result, ChainSet):
        return json.dumps({"ok": result.ok, "chains": [json.loads(as_json(r)) for r in result.results]})
    return json.dumps({
        "ok": result.ok,
        "files": [str(f) for f in result.files],
        "lines": result.lines,
        "first_seq": result.first_seq,
        "last_seq": result.last_seq,
        "last_time": result.last_time,
        "purged_before": result.purged_before,
        "instances": sorted(result.instances),
        "problem": None if result.problem is None else {
            "file": str(result.problem.file), "line": result.problem.line, "reason": result.problem.reason},
    })
