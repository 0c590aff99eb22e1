"""A 30-turn coding-agent session through the pipeline and the audit log: how big the lines get.

    .venv/bin/python -m bench.audit_session [--turns 30] [--seed 15] [--memory file|process|REDIS_URL]
                                            [--restart-at TURN]

Drives a synthetic, Claude-Code-shaped conversation in process: a system prompt and tool list,
then each turn the agent reads a file (a tool_use and its tool_result) and the whole history is
sent again, as the real client does. Some tool results carry secrets (a .env, a config, a log
line) and personal data (a CSV of 30 customer records, a support log). Every request goes
through ``Pipeline.inspect`` with the bundled default policy and ``AuditLog.record``; a
forwarded request's upstream answer (200) is then recorded as the proxy's addon does.

Prints the audit line sizes (median, mean, max of the decision lines, and of every line the log
holds), the finding entries and counts written, and what ``llm-dlp audit summary`` then says per
finding kind against the number of distinct values that were actually in the conversation.

The audit's memory of recorded findings is the proxy's default, a file in the confdir
(``--memory file``); ``process`` is the in-process memory the proxy used before, a ``redis://``
URL the fleet's. ``--restart-at TURN`` closes the audit log before that turn and opens a new one
on the same confdir and log, as a restarted proxy does: with ``process`` the conversation's
findings are then recorded again. The time spent writing audit lines is printed per line.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import statistics
import sysconfig
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from llm_dlp.audit.chain import load_or_create_chain_key
from llm_dlp.audit.events import ResponseEvent
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.recorded import RecordedFindings, recorded_key
from llm_dlp.audit.recorded_stores import MemoryRecorded, RecordedStore, open_recorded_store
from llm_dlp.audit.query import Filter, select
from llm_dlp.audit.summary import summarize
from llm_dlp.detection import DetectorOptions, DetectorRegistry, build_detectors
from llm_dlp.keys import load_or_create_hasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.testing import secrets_factory as make

ROOT = Path(__file__).resolve().parent.parent
STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Source files the agent "reads": the interpreter's own, so the input does not change when this
# repository's code does, and a before/after comparison reads the same bytes.
SOURCES = ("textwrap.py", "json/decoder.py", "shlex.py", "bisect.py", "fnmatch.py", "glob.py",
           "colorsys.py", "keyword.py", "heapq.py", "string.py", "cmd.py", "this.py")
FIRST_NAMES = ("Maria", "Jonas", "Aisha", "Kenji", "Lucia", "Omar", "Ingrid", "Pedro", "Chen", "Fatima")
LAST_NAMES = ("Schneider", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Novak", "Haddad", "Silva")


@dataclass(frozen=True, slots=True)
class Turn:
    tool_input: dict
    result: str


def session_turns(turns: int, rng: random.Random) -> tuple[list[Turn], set[str]]:
    """The tool calls of the session and the distinct sensitive values planted in them."""
    planted: set[str] = set()
    special = {3: _customers_csv, 5: _dotenv, 9: _config, 14: _support_log, 20: _deploy_output}
    result = []
    for number in range(1, turns + 1):
        if number in special:
            text, values = special[number](rng)
            planted |= values
            result.append(Turn({"file_path": f"/repo/{special[number].__name__.strip('_')}"}, text))
            continue
        source = SOURCES[number % len(SOURCES)]
        lines = (STDLIB / source).read_text(encoding="utf-8").splitlines()[:160]
        body = "\n".join(f"{i + 1:>6}\t{line}" for i, line in enumerate(lines))  # Claude Code's Read shape
        result.append(Turn({"file_path": f"/repo/src/{source}"}, body))
    return result, planted


def _customers_csv(rng: random.Random) -> tuple[str, set[str]]:
    out, values = io.StringIO(), set()
    writer = csv.writer(out)
    writer.writerow(["id", "name", "email", "phone", "city"])
    for i in range(30):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first.lower()}.{last.lower()}{i}@example-mail.com"
        phone = f"+49 30 {rng.randint(1000000, 9999999)}"
        writer.writerow([1000 + i, f"{first} {last}", email, phone, "Berlin"])
        values |= {email, phone}
    return out.getvalue(), values


def _dotenv(_rng: random.Random) -> tuple[str, set[str]]:
    aws, secret, pat = make.aws_access_key_id(), make.aws_secret_access_key(), make.github_pat()
    url, _password = make.database_url()
    text = (f"AWS_ACCESS_KEY_ID={aws}\nAWS_SECRET_ACCESS_KEY={secret}\nGITHUB_TOKEN={pat}\n"
            f"DATABASE_URL={url}\nLOG_LEVEL=debug\n")
    return text, {aws, secret, pat, url}


def _config(_rng: random.Random) -> tuple[str, set[str]]:
    key = make.anthropic_api_key()
    return f'{{"provider": "anthropic", "api_key": "{key}", "timeout": 30}}\n', {key}


def _support_log(rng: random.Random) -> tuple[str, set[str]]:
    emails = {f"user{rng.randint(100, 999)}@customer-{i}.example.org" for i in range(3)}
    lines = [f"2026-11-0{i + 1} 10:0{i}:00 INFO ticket opened by {e}" for i, e in enumerate(sorted(emails))]
    return "\n".join(lines) + "\n", emails


def _deploy_output(_rng: random.Random) -> tuple[str, set[str]]:
    key = make.openai_api_key()
    return f"$ ./deploy.sh\nusing OPENAI_API_KEY={key}\ndeployed 3 services in 41s\n", {key}


def request_body(history: list[dict], system: str, tools: list[dict]) -> bytes:
    body = {"model": "claude-sonnet-4", "max_tokens": 8192, "stream": True,
            "system": [{"type": "text", "text": system}], "tools": tools, "messages": history}
    return json.dumps(body).encode()


class TimedStore:
    """A store of the audit's memory, with the time spent in it (opening a file included)."""

    def __init__(self, store: RecordedStore) -> None:
        self.store, self.seconds = store, 0.0

    def known(self, keys: Sequence[bytes]) -> dict[bytes, float]:
        started = time.perf_counter()
        try:
            return self.store.known(keys)
        finally:
            self.seconds += time.perf_counter() - started

    def mark(self, keys: Sequence[bytes]) -> None:
        started = time.perf_counter()
        try:
            self.store.mark(keys)
        finally:
            self.seconds += time.perf_counter() - started

    def close(self) -> None:
        self.store.close()

    def __len__(self) -> int:
        return len(self.store)


def open_audit(path: Path, confdir: Path, memory: str) -> tuple[AuditLog, TimedStore]:
    """The audit log as the proxy opens it, with its memory of recorded findings in ``memory``."""
    if memory == "process":
        store = TimedStore(MemoryRecorded())
    else:
        vault = memory if memory.startswith(("redis", "unix")) else "memory"  # the proxy's rule: it follows the vault
        store = TimedStore(open_recorded_store(vault, confdir))
    recorded = RecordedFindings(store, key=recorded_key(load_or_create_hasher(confdir).key))
    return AuditLog(path, key=load_or_create_chain_key(confdir), recorded=recorded), store


def run(turns: int, seed: int, directory: Path, memory: str = "file", restart_at: int | None = None) -> dict:
    rng = random.Random(seed)
    confdir = directory / "certs"
    (directory / "no-index").mkdir()  # an empty code index: the session's files are not proprietary
    detectors = build_detectors(DetectorOptions(index_dir=directory / "no-index"))
    pipeline = Pipeline(load_policy_dir(ROOT / "policies", registry=DetectorRegistry.of(detectors)), detectors,
                        load_or_create_hasher(confdir))
    path = directory / "audit.jsonl"
    audit, store = open_audit(path, confdir, memory)
    stores = [store]
    writing = 0.0  # seconds spent in the audit log's record calls
    system = "You are an interactive CLI tool that helps users with software engineering tasks. " * 40
    tools = [{"name": name, "description": f"{name} a file or run a command. " * 20,
              "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}}
             for name in ("Read", "Edit", "Write", "Bash", "Grep", "Glob")]
    calls, planted = session_turns(turns, rng)
    history: list[dict] = [{"role": "user", "content": "Please review this repository and fix the failing tests."}]
    for number, call in enumerate(calls, 1):
        tool_id = f"toolu_{number:04d}"
        history.append({"role": "assistant", "content": [
            {"type": "text", "text": f"Let me read {call.tool_input['file_path']}."},
            {"type": "tool_use", "id": tool_id, "name": "Read", "input": call.tool_input}]})
        history.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool_id, "content": call.result}]})
        info = RequestInfo(request_id=uuid.UUID(int=rng.getrandbits(128)).hex, method="POST",
                           host="api.anthropic.com", path="/v1/messages", provider="anthropic",
                           client_address="10.0.0.7", user="alice", content_type="application/json")
        verdict = pipeline.inspect(info, request_body(history, system, tools)).verdict
        if number == restart_at:
            audit.close()
            audit, store = open_audit(path, confdir, memory)
            stores.append(store)
        started = time.perf_counter()
        audit.record(info, verdict)
        if not verdict.answers_client:  # forwarded: the addon records upstream's answer
            audit.record_event(ResponseEvent(info.request_id, verdict.tenant, info.user, info.host, info.path,
                                             status=200, ms=round(rng.uniform(800, 9000), 1)))
        writing += time.perf_counter() - started
    audit.close()
    return measure(path, planted) | {"write_ms_per_turn": writing * 1000 / max(len(calls), 1),
                                     "memory_ms_per_turn": sum(s.seconds for s in stores) * 1000 / max(len(calls), 1)}


def measure(path: Path, planted: set[str]) -> dict:
    raw = path.read_bytes().splitlines()
    every = [len(line) + 1 for line in raw]
    decisions = [line for line in raw if b'"event": "dlp.decision"' in line]
    sizes = [len(line) + 1 for line in decisions]
    parsed = [json.loads(line) for line in decisions]
    entries = sum(len(line.get("findings") or ()) for line in parsed)
    counted = sum(f.get("count", 1) for line in parsed for f in line.get("findings") or ())
    by_key: Counter[str] = Counter()
    for line in parsed:
        for f in line.get("findings") or ():
            by_key[f["kind"]] += 1
    summary = summarize(select([path], Filter()))
    # What the bytes are: the findings array against the rest of the line.
    finding_bytes = sum(len(json.dumps(f, ensure_ascii=False)) + 2 for line in parsed for f in line.get("findings") or ())
    distinct = {f["value_hash"] for line in parsed for f in line.get("findings") or ()}
    return {
        "lines": len(decisions),
        "median": statistics.median(sizes),
        "mean": statistics.fmean(sizes),
        "max": max(sizes),
        "total": sum(sizes),
        "entries": entries,
        "finding_share": finding_bytes / max(sum(sizes), 1),
        "bytes_per_finding": finding_bytes / max(entries, 1),
        "counted": counted,
        "summary_kinds": dict(summary.kinds.most_common()),
        "distinct_hashes": len(distinct),
        "planted": len(planted),
        "decisions": dict(Counter(line["decision"] for line in parsed)),
        "turn_sizes": sizes,
        "all_lines": len(every),
        "all_median": statistics.median(every),
        "all_max": max(every),
        "answer_lines": len(answers := [len(line) + 1 for line in raw if b'"event": "dlp.response"' in line]),
        "answer_median": statistics.median(answers) if answers else 0,
        "log_bytes": sum(every),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--memory", default="file",
                        help="the audit's memory of recorded findings: file (the proxy's default), process, or a redis:// URL")
    parser.add_argument("--restart-at", type=int, metavar="TURN", help="reopen the audit log before this turn")
    args = parser.parse_args()
    if args.memory not in ("file", "process") and not args.memory.startswith(("redis://", "rediss://", "unix://")):
        parser.error("--memory: file, process or a redis:// URL")
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.turns, args.seed, Path(tmp), args.memory, args.restart_at)
    restart = f", reopened before turn {args.restart_at}" if args.restart_at else ""
    print(f"{result['lines']} decision lines over a {args.turns}-turn session (memory: "
          f"{'a redis' if args.memory.startswith(('redis', 'unix')) else args.memory}{restart})\n")
    print("| measure | value |\n|---|---:|")
    print(f"| lines in the log (decisions and answers) | {result['all_lines']} |")
    print(f"| answer lines (dlp.response) | {result['answer_lines']} |")
    print(f"| answer line, median | {result['answer_median']} bytes |")
    print(f"| the whole log | {result['log_bytes'] / 1024:.0f} KB |")
    print(f"| median line, every line | {result['all_median'] / 1024:.2f} KB |")
    print(f"| largest line, every line | {result['all_max'] / 1024:.1f} KB |")
    print(f"| median line | {result['median'] / 1024:.1f} KB |")
    print(f"| mean line | {result['mean'] / 1024:.1f} KB |")
    print(f"| largest line | {result['max'] / 1024:.1f} KB |")
    print(f"| all decision lines | {result['total'] / 1024:.0f} KB |")
    print(f"| share of the bytes in findings | {result['finding_share']:.0%} |")
    print(f"| bytes per finding entry | {result['bytes_per_finding']:.0f} |")
    print(f"| finding entries written | {result['entries']} |")
    print(f"| findings counted (sum of count) | {result['counted']} |")
    print(f"| distinct value hashes in the log | {result['distinct_hashes']} |")
    print(f"| sensitive values planted | {result['planted']} |")
    print(f"| audit write time per turn (decision and answer line) | {result['write_ms_per_turn']:.2f} ms |")
    print(f"| of which the memory of recorded findings | {result['memory_ms_per_turn']:.2f} ms |")
    print(f"\n`audit summary` finding kinds: {result['summary_kinds']}")
    print(f"decisions: {result['decisions']}")
    print("line size per turn (bytes): " + " ".join(str(s) for s in result["turn_sizes"]))


if __name__ == "__main__":
    main()
