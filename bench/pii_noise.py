"""Personal-data findings on text that holds none: real code, and agent CLIs' request bodies.

    .venv/bin/python -m bench.pii_noise [--megabytes 10] [--list] [--show 20] [--agents DIR]

Code: Python files of the standard library and of the packages pinned in the test lock
(requirements/test.txt; packages installed by hand beside them, such as the bench's
presidio-evaluator and pandas, are not read), half the bytes from each. The selection is fixed
for one Python and one lock: files are ordered by the
SHA-1 of their path relative to their root (so the order does not follow the alphabet, and one
package added to the lock moves few files) and taken in that order until each half is full.
Left out: test directories and the packages that are word lists of names and addresses
(Faker, presidio-evaluator), whose contents are personal data by design; files over 300 KB
(generated tables). Each file is scanned by itself, as an agent sends one file per tool result.
``--list`` prints the files. Findings that credit an author are counted apart, in a column
of their own: a finding on a line that credits one (``Author:``, ``Copyright``, ``Written by``,
a ``<name@host>``) or on one of the two lines below such a line (an address under its
``Author:`` line). They are real people's names and e-mail addresses: published, but personal
data all the same, which a prompt that carries them sends on; the detector is right to report
them, and the table says how many there are rather than leaving them out. Everything else is
noise: the headline is noise per MB, credits beside it. (A mailing list's or a role's address,
``email-sig@``, ``info@``, is nobody's and the detector drops it.)

Agents: every ``*.json`` request under ``--agents`` (tests/data/agents: recorded Claude Code,
Codex and Gemini CLI requests with no personal data planted, ``{"path", "body", ...}``; a bare
body's path is guessed from its shape) is parsed by the proxy's own adapter for its path and
each prompt segment is scanned, as the proxy does: the detector, then the pipeline's filter of
the request's own tool names (``llm_dlp.tool_names``); the table counts both, the detector's
findings before that filter and the findings left after it. Every finding there is a false
positive.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import sysconfig
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from detectors.pii import PiiDetector
    from llm_dlp.providers import Segment

# A line that credits a person: their name and address are personal data, but published ones.
# A finding on it, or on one of CREDIT_LINES_BELOW lines under it, is a credit.
ATTRIBUTION = re.compile(
    r"(?i:author|copyright|\(c\)|written by|contributed|contact|maintainer|tweaks by|idea of|thanks|credits)"
    r"|<[^<>\s@]+@[^<>\s@]+>|\([^()\s@]+@[^()\s@]+\)"
)
CREDIT_LINES_BELOW = 2
# Directory names whose files are tests, and packages whose files are personal data by design.
SKIPPED_PARTS = frozenset({"test", "tests", "testing", "idle_test", "faker", "presidio_evaluator", "__pycache__"})
MAX_FILE = 300_000


@dataclass(frozen=True)
class CodeFile:
    root: str  # "stdlib" or "site-packages"
    relative: str
    text: str


def code_selection(megabytes: float) -> list[CodeFile]:
    paths = sysconfig.get_paths()
    roots = {"stdlib": Path(paths["stdlib"]), "site-packages": Path(paths["purelib"])}
    budget = int(megabytes * 1_000_000 / len(roots))
    chosen: list[CodeFile] = []
    locked = _locked_files(roots["site-packages"])
    for label, root in roots.items():
        candidates = []
        for path in root.rglob("*.py"):
            relative = path.relative_to(root)
            if label == "stdlib" and relative.parts[0] == "site-packages":
                continue
            if label == "site-packages" and relative.as_posix() not in locked:
                continue
            if SKIPPED_PARTS.intersection(relative.parts) or path.stat().st_size > MAX_FILE:
                continue
            candidates.append(relative.as_posix())
        candidates.sort(key=lambda name: hashlib.sha1(name.encode()).hexdigest())
        taken = 0
        for relative in candidates:
            if taken >= budget:
                break
            text = (root / relative).read_text(encoding="utf-8", errors="replace")
            chosen.append(CodeFile(label, relative, text))
            taken += len(text.encode())
    return chosen


def _locked_files(site_packages: Path) -> set[str]:
    """The files, relative to site-packages, of the distributions pinned in requirements/test.txt."""
    from importlib.metadata import distributions

    lock = Path(__file__).resolve().parents[1] / "requirements" / "test.txt"
    pinned = {_normalized(line.split("==", 1)[0]) for line in lock.read_text().splitlines() if "==" in line and not line.startswith(" ")}
    files: set[str] = set()
    for distribution in distributions(path=[str(site_packages)]):
        if _normalized(distribution.metadata["Name"] or "") in pinned:
            files.update(Path(file).as_posix() for file in distribution.files or ())
    return files


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().strip()


def agent_segments(directory: Path) -> list[tuple[str, str, str]]:
    """(file, segment location, text) of every prompt segment of every body under ``directory``."""
    return [(body, segment.location, segment.text) for body, _, segment in agent_requests(directory)]


def agent_requests(directory: Path) -> list[tuple[str, object, "Segment"]]:
    """(file, request document, segment) of every prompt segment of every body under ``directory``."""
    from llm_dlp.providers import adapter_for

    found = []
    for body in sorted(directory.rglob("*.json")):
        document = json.loads(body.read_text())
        # A recorded request ({"path", "body", ...}, tests/data/agents) or a bare body.
        if isinstance(document, dict) and "body" in document and "path" in document:
            path, document = document["path"], document["body"]
        else:
            path = _guess_path(document)
        if path is None:
            continue
        parsed = adapter_for(path).extract(document)
        found += [(str(body.relative_to(directory)), parsed.document, segment) for segment in parsed.segments]
    return found


def _guess_path(document: object) -> str | None:
    if not isinstance(document, dict):
        return None
    if "contents" in document:
        return "/v1beta/models/gemini-2.5-pro:generateContent"
    if "input" in document and "model" in document:
        return "/v1/responses"
    if "messages" in document and ("system" in document or "anthropic_version" in document or "max_tokens" in document):
        return "/v1/messages"
    if "messages" in document:
        return "/v1/chat/completions"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=10.0, help="MB of code (half stdlib, half packages; 0: none)")
    parser.add_argument("--list", action="store_true", help="print the selected files")
    parser.add_argument("--show", type=int, default=0, help="print up to this many findings per entity, in context")
    parser.add_argument("--agents", type=Path, help="directory of recorded agent request bodies (*.json)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from detectors.pii import PiiDetector

    detector = PiiDetector()
    if args.megabytes > 0:
        code_table(detector, args.megabytes, args.list, args.show)

    if args.agents:
        agent_table(detector, args.agents)


def code_table(detector: "PiiDetector", megabytes: float, listed: bool, show: int) -> None:
    files = code_selection(megabytes)
    size = sum(len(f.text.encode()) for f in files)
    digest = hashlib.sha1("\n".join(f"{f.root}/{f.relative}" for f in files).encode()).hexdigest()[:12]
    print(f"### code: {len(files)} files, {size / 1e6:.2f} MB (selection {digest})\n")
    if listed:
        print("\n".join(f"    {f.root}/{f.relative}" for f in files) + "\n")
    counts: Counter[str] = Counter()
    credits: Counter[str] = Counter()
    shown: Counter[str] = Counter()
    started = time.process_time()
    for code in files:
        for finding in detector.scan(code.text):
            counts[finding.rule] += 1
            credit = credits_an_author(code.text, finding.start, finding.end)
            credits[finding.rule] += credit
            if shown[finding.rule] < show:
                shown[finding.rule] += 1
                context = code.text[max(0, finding.start - 40) : finding.end + 40].replace("\n", "⏎")
                value = code.text[finding.start : finding.end].replace("\n", "⏎")
                print(f"    {'credit' if credit else 'noise '} {finding.rule} {value!r} in {code.relative}: …{context}…")
    seconds = time.process_time() - started
    print("\n| entity | findings | per MB | of them credits (real authors' names, addresses) | noise | noise per MB |")
    print("|---|---|---|---|---|---|")
    for entity, count in counts.most_common():
        rest = count - credits[entity]
        print(f"| {entity} | {count} | {count / size * 1e6:.1f} | {credits[entity]} | {rest} | {rest / size * 1e6:.1f} |")
    total, credited = sum(counts.values()), sum(credits.values())
    print(f"| total | {total} | {total / size * 1e6:.1f} | {credited} ({credited / size * 1e6:.1f}/MB) | {total - credited} "
          f"| **{(total - credited) / size * 1e6:.1f}** |\n")
    print(f"scan CPU time {seconds:.1f} s ({size / seconds / 1e6:.1f} MB/s)\n")


def credits_an_author(text: str, start: int, end: int) -> bool:
    """Is the finding at ``start:end`` on a line that credits an author, or at most
    CREDIT_LINES_BELOW lines under one?"""
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    first = text.rfind("\n", 0, start) + 1
    for _ in range(CREDIT_LINES_BELOW):
        if first == 0:
            break
        first = text.rfind("\n", 0, first - 1) + 1
    return ATTRIBUTION.search(text, first, line_end) is not None


def agent_table(detector: "PiiDetector", directory: Path) -> None:
    from llm_dlp.tool_names import without_tool_names

    requests = agent_requests(directory)
    bodies = len({body for body, _, _ in requests})
    detected: Counter[str] = Counter()
    left: Counter[str] = Counter()
    print(f"### agents: {bodies} request bodies, {len(requests)} segments, "
          f"{sum(len(segment.text) for _, _, segment in requests) / 1e3:,.0f} K characters\n")
    for body, document, segment in requests:
        found = detector.scan(segment.text)
        kept = without_tool_names(document, [segment], [found])[0]
        for finding in found:
            detected[finding.rule] += 1
            left[finding.rule] += finding in kept
            note = "" if finding in kept else " (a declared tool's name: dropped)"
            print(f"    {finding.rule} {segment.text[finding.start:finding.end]!r} in {body} {segment.location}{note}")
    print("\n| entity | detector findings | after the tool-name filter |\n|---|---|---|")
    for entity, count in detected.most_common():
        print(f"| {entity} | {count} | {left[entity]} |")
    print(f"| total | {sum(detected.values())} | {sum(left.values())} |\n")


if __name__ == "__main__":
    main()
