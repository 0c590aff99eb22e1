"""``llm-dlp audit summary``: who sent what kind of data where, and what we did about it, in counts."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from llm_dlp.audit.records import AuditEntry

BLOCKING = frozenset({"block", "would_block"})
LATEST_BLOCKS = 25


@dataclass(slots=True)
class Summary:
    requests: int = 0
    other_events: Counter[str] = field(default_factory=Counter)
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    decisions: Counter[str] = field(default_factory=Counter)
    tenants: Counter[str] = field(default_factory=Counter)
    tenant_decisions: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    kinds: Counter[str] = field(default_factory=Counter)
    already_recorded: int = 0  # findings carried again by later turns, counted once in ``kinds``
    rules: Counter[str] = field(default_factory=Counter)
    users: Counter[str] = field(default_factory=Counter)
    hosts: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    # Per tenant, per "region/provider": requests and findings (where each tenant's data went).
    destinations: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    destination_findings: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    hourly: dict[dt.datetime, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    latest_blocks: deque[AuditEntry] = field(default_factory=lambda: deque(maxlen=LATEST_BLOCKS))
    # Upstream's answers to forwarded requests, by status ("no answer" when the exchange failed).
    answers: Counter[str] = field(default_factory=Counter)
    forwarded: int = 0  # decisions the proxy did not answer itself: each expects an answer line

    def add(self, entry: AuditEntry) -> None:
        if entry.is_response:
            self.answers[_answer(entry)] += 1
            return
        if not entry.is_decision:
            self.other_events[entry.event] += 1
            return
        self.requests += 1
        if entry.status is None:
            self.forwarded += 1
        self.first = entry.time if self.first is None else min(self.first, entry.time)
        self.last = entry.time if self.last is None else max(self.last, entry.time)
        decision = entry.decision or "?"
        tenant = entry.tenant or "?"
        self.decisions[decision] += 1
        self.tenants[tenant] += 1
        self.tenant_decisions[tenant][decision] += 1
        self.users[entry.user or "(anonymous)"] += 1
        self.hosts[entry.host or "?"] += 1
        if entry.model:
            self.models[entry.model] += 1
        self.already_recorded += entry.already_recorded
        place = f"{entry.region or 'unknown'}/{entry.provider or '?'}"
        self.destinations[tenant][place] += 1
        self.destination_findings[tenant][place] += sum(f.count for f in entry.findings)
        for finding in entry.findings:
            self.kinds[finding.kind] += finding.count
            self.rules[f"{finding.kind}/{finding.rule}"] += finding.count
        self.hourly[entry.time.replace(minute=0, second=0, microsecond=0)][decision] += 1
        if decision in BLOCKING:
            self.latest_blocks.append(entry)

    @property
    def unanswered(self) -> int:
        """Forwarded requests without an answer line among the lines read: still open, cut off by
        a stop, written before answers were recorded, or their answer is outside the selection."""
        return max(self.forwarded - sum(self.answers.values()), 0)

    def over_time(self) -> tuple[str, list[tuple[dt.datetime, Counter[str]]]]:
        """Decisions per hour, day, week or month (by the span of the log), empty periods included."""
        if not self.hourly:
            return "hour", []
        span = max(self.hourly) - min(self.hourly)
        unit = next(name for name, longest in _UNITS if longest is None or span <= longest)
        buckets: dict[dt.datetime, Counter[str]] = defaultdict(Counter)
        for hour, counts in self.hourly.items():
            buckets[_floor(hour, unit)].update(counts)
        # Every period from first to last, so a quiet week shows as a gap rather than vanishing.
        series, moment, last = [], _floor(min(self.hourly), unit), _floor(max(self.hourly), unit)
        while moment <= last:
            series.append((moment, buckets.get(moment, Counter())))
            moment = _next(moment, unit)
        return unit, series


def _answer(entry: AuditEntry) -> str:
    return str(entry.status) if entry.status is not None and entry.error is None else "no answer"


_UNITS = (("hour", dt.timedelta(days=3)), ("day", dt.timedelta(days=120)), ("week", dt.timedelta(days=730)), ("month", None))


def _floor(moment: dt.datetime, unit: str) -> dt.datetime:
    hour = moment.replace(minute=0, second=0, microsecond=0)
    if unit == "hour":
        return hour
    day = hour.replace(hour=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def _next(moment: dt.datetime, unit: str) -> dt.datetime:
    if unit == "month":
        return moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1)
    return moment + {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1), "week": dt.timedelta(weeks=1)}[unit]


def summarize(entries: Iterable[AuditEntry]) -> Summary:
    summary = Summary()
    for entry in entries:
        summary.add(entry)
    return summary


def as_text(summary: Summary, top: int = 10) -> str:
    if not summary.requests:
        return "no decisions in the selected lines"
    parts = [
        f"{summary.requests} requests from {summary.first:%Y-%m-%d %H:%M:%S} to {summary.last:%Y-%m-%d %H:%M:%S} UTC",
        _section("decisions", summary.decisions.most_common()),
        _section("tenants", [(t, _tenant_line(summary, t)) for t, _ in summary.tenants.most_common(top)]),
        _section("finding kinds", summary.kinds.most_common(top))
        + (f"\n  (each once per conversation; later turns carried {summary.already_recorded} of them again)"
           if summary.already_recorded else ""),
        _section("top rules", summary.rules.most_common(top)),
        _section("top users", summary.users.most_common(top)),
        _section("hosts", summary.hosts.most_common(top)),
        _section("upstream answers (status)", summary.answers.most_common())
        + (f"\n  ({summary.unanswered} forwarded requests without an answer line)" if summary.unanswered else ""),
        _section("destinations (tenant  region/provider)", [
            (f"{tenant}  {place}", f"{n} requests, {summary.destination_findings[tenant][place]} findings")
            for tenant, places in sorted(summary.destinations.items()) for place, n in places.most_common()]),
    ]
    if summary.other_events:
        parts.append(_section("other events", summary.other_events.most_common()))
    return "\n\n".join(parts)


def _tenant_line(summary: Summary, tenant: str) -> str:
    detail = ", ".join(f"{d} {n}" for d, n in summary.tenant_decisions[tenant].most_common())
    return f"{summary.tenants[tenant]}  ({detail})"


def _section(title: str, rows: list[tuple[str, object]]) -> str:
    if not rows:
        return f"{title}:\n  (none)"
    width = max(len(name) for name, _ in rows)
    return "\n".join([f"{title}:"] + [f"  {name.ljust(width)}  {value}" for name, value in rows])


def as_json(summary: Summary, top: int = 10) -> str:
    return json.dumps({
        "requests": summary.requests,
        "first": summary.first.isoformat() if summary.first else None,
        "last": summary.last.isoformat() if summary.last else None,
        "decisions": dict(summary.decisions.most_common()),
        "tenants": {t: dict(summary.tenant_decisions[t]) for t, _ in summary.tenants.most_common()},
        "kinds": dict(summary.kinds.most_common()),
        "findings_already_recorded": summary.already_recorded,
        "top_rules": dict(summary.rules.most_common(top)),
        "top_users": dict(summary.users.most_common(top)),
        "hosts": dict(summary.hosts.most_common(top)),
        "destinations": {
            tenant: {place: {"requests": n, "findings": summary.destination_findings[tenant][place]}
                     for place, n in places.most_common()}
            for tenant, places in sorted(summary.destinations.items())},
        "answers": dict(summary.answers.most_common()),
        "unanswered": summary.unanswered,
        "other_events": dict(summary.other_events),
    })
