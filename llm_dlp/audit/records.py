"""Reading audit lines back as values: what ``query``, ``summary``, ``report`` and ``seen`` share."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_dlp.audit.log import EVENT
from llm_dlp.audit.rotation import parse_time


@dataclass(frozen=True, slots=True)
class FindingEntry:
    kind: str
    rule: str
    action: str
    location: str
    value_hash: str
    preview: str
    count: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FindingEntry:
        return cls(
            kind=str(data.get("kind") or "?"),
            rule=str(data.get("rule") or "?"),
            action=str(data.get("action") or ""),
            location=str(data.get("location") or ""),
            value_hash=str(data.get("value_hash") or ""),
            preview=str(data.get("preview") or ""),
            count=int(data.get("count") or 1),
        )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    time: dt.datetime
    event: str
    seq: int | None
    tenant: str | None
    user: str | None
    client: str | None
    host: str | None
    path: str | None
    model: str | None
    decision: str | None
    status: int | None
    reason: str | None
    findings: tuple[FindingEntry, ...]
    raw: bytes  # the line as written, for JSON output that a reviewer can still verify
    provider: str | None = None
    region: str | None = None  # where the request went: mainland, international, self-hosted...

    @property
    def is_decision(self) -> bool:
        return self.event == EVENT

    @classmethod
    def parse(cls, raw: bytes) -> AuditEntry:
        data = json.loads(raw)
        return cls(
            time=parse_time(data["time"]),
            event=str(data.get("event") or ""),
            seq=data.get("seq"),
            tenant=data.get("tenant"),
            user=data.get("user"),
            client=data.get("client"),
            host=data.get("host"),
            path=data.get("path"),
            model=data.get("model"),
            decision=data.get("decision"),
            status=data.get("status"),
            reason=data.get("reason"),
            findings=tuple(FindingEntry.from_dict(f) for f in data.get("findings") or () if isinstance(f, dict)),
            raw=raw,
            provider=data.get("provider"),
            region=data.get("region"),
        )


@dataclass(frozen=True, slots=True)
class Unreadable:
    file: Path
    line: int
    reason: str


def read_lines(files: Iterable[Path]) -> Iterator[tuple[Path, int, bytes]]:
    for path in files:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                raw = raw.rstrip(b"\r\n")
                if raw:
                    yield path, number, raw

