"""Large, realistic, properly sealed audit logs for the query tests, the benchmark and demos.

``python -m llm_dlp.audit.synthetic OUT.jsonl --lines 100000 --confdir certs`` writes one. The
generator returns every record it wrote, so a test can compute the expected answer of a query
independently of the code under test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_dlp.audit.chain import ChainState, load_or_create_chain_key, seal
from llm_dlp.audit.events import DECISION

# Names overlap on purpose ("acme" inside "acme-eu", a user called "pilot" like a tenant), so a
# filter that matched substrings, or the wrong field, would show.
TENANTS = ("default", "pilot", "acme", "acme-eu")
USERS = ("alice", "bob", "carol", "dave", "pilot", None)
HOSTS = ("api.anthropic.com", "api.openai.com", "gateway.internal")
MODELS = ("claude-sonnet-4", "claude-haiku", "gpt-4o", "gpt-4o-mini")
FINDINGS = (
    ("secret", "aws-access-key-id"), ("secret", "github-pat"), ("secret", "private-key"),
    ("pii", "email"), ("pii", "credit-card"), ("pii", "iban"),
    ("code", "proprietary-code"), ("code", "source-code"),
)
DECISIONS = ("allow", "allow", "allow", "log", "redact", "redact", "block", "error", "would_block")


@dataclass(frozen=True, slots=True)
class SyntheticLog:
    path: Path
    records: list[dict[str, Any]]  # exactly the fields of each line, without seq/prev/mac


def generate(path: Path, lines: int, key: bytes, *, seed: int = 8, start: dt.datetime | None = None,
             span: dt.timedelta = dt.timedelta(days=30)) -> SyntheticLog:
    rng = random.Random(seed)
    start = start or dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    step = span / max(lines, 1)
    records, chunks, state = [], [], ChainState()
    for i in range(lines):
        record = _record(rng, start + step * i)
        line, state = seal(key, state, record)
        records.append(record)
        chunks.append(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(chunks))
    return SyntheticLog(path, records)


def _record(rng: random.Random, when: dt.datetime) -> dict[str, Any]:
    decision = rng.choice(DECISIONS)
    host = rng.choice(HOSTS)
    anthropic = host == "api.anthropic.com" or (host == "gateway.internal" and rng.random() < 0.5)
    findings = [] if decision in ("allow", "error") else [_finding(rng, decision) for _ in range(rng.randint(1, 3))]
    blocked = decision in ("block", "error")
    return {
        "time": when.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "event": DECISION,
        "request_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        "tenant": rng.choice(TENANTS),
        "user": rng.choice(USERS),
        "client": f"10.0.{rng.randint(0, 9)}.{rng.randint(1, 254)}",
        "method": "POST",
        "host": host,
        "path": "/v1/messages" if anthropic else "/v1/chat/completions",
        "provider": "anthropic" if anthropic else "openai",
        "format": "anthropic.messages" if anthropic else "openai.chat",
        "model": rng.choice(MODELS[:2] if anthropic else MODELS[2:]),
        "decision": decision,
        "mode": "monitor" if decision.startswith("would_") else "enforce",
        "status": 403 if decision == "block" else 500 if decision == "error" else None,
        "reason": "request contains data that policy forbids" if blocked else None,
        "error": "scan timeout" if decision == "error" else None,
        "findings": findings,
        "body_bytes": rng.randint(200, 400_000),
        "scan_ms": round(rng.uniform(0.2, 80.0), 3),
    }


def _finding(rng: random.Random, decision: str) -> dict[str, Any]:
    kind, rule = rng.choice(FINDINGS)
    return {
        "detector": kind, "kind": kind, "rule": rule, "location": "$.messages[0].content",
        "confidence": round(rng.uniform(0.5, 1.0), 3),
        "action": {"would_block": "block"}.get(decision, decision),
        "value_hash": "hmac-sha256:" + rng.randbytes(32).hex(),
        "preview": "…(" + str(rng.randint(8, 60)) + " chars)",
        "count": rng.randint(1, 3), "policy_rule": None, "details": {},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--confdir", type=Path, default=Path("certs"))
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    log = generate(args.out, args.lines, load_or_create_chain_key(args.confdir), seed=args.seed)
    print(f"wrote {len(log.records)} lines to {log.path}")


if __name__ == "__main__":
    main()
