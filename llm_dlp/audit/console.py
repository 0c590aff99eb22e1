"""One short line per intercepted request on the proxy's console: the audit chain's second sink.

    16:46:37  alice  default  api.anthropic.com  redact  secret 2, pii 1 (+4 earlier)  12.3 ms

Time (local), user, tenant, host, decision, the findings new to this conversation by kind (and
how many were recorded before), and the scan time. Upstream errors (an answer of 400 or more, or
none at all) and refused logins get a line too; a successful answer does not (the audit log has
its line), so on the console a request is one line. ``llm-dlp run --quiet``
leaves this sink out. The line says no more than the audit line it comes from.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any, TextIO

from llm_dlp.audit.events import ALREADY_RECORDED, AUTH_FAILURE, DECISION, RESPONSE, answer_failed


def render_console(event_dict: dict[str, Any]) -> str | None:
    """The console line for an event as the chain prepared it, or None for events not shown."""
    event = event_dict.get("event")
    if event == DECISION:
        return _columns(event_dict, event_dict.get("decision") or "?", _counts(event_dict),
                        f"{event_dict.get('scan_ms') or 0:.1f} ms")
    if event == RESPONSE and answer_failed(event_dict):
        status = event_dict.get("status")
        what = f"upstream {status}" if status is not None else "upstream failed"
        error = event_dict.get("error")
        ms = event_dict.get("ms")
        return _columns(event_dict, what, error or "", f"{ms:.0f} ms" if ms is not None else "")
    if event == AUTH_FAILURE:
        return _columns(event_dict | {"host": event_dict.get("host") or "-"}, "proxy auth refused",
                        f"{event_dict.get('reason')} from {event_dict.get('client') or '?'}", "")
    return None


class ConsoleSink:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def show(self, event_dict: dict[str, Any]) -> None:
        line = render_console(event_dict)
        if line is not None:
            self._stream.write(line + "\n")
            self._stream.flush()


def _columns(event_dict: dict[str, Any], what: str, detail: str, ms: str) -> str:
    when = _local_time(event_dict.get("time"))
    fields = [when, event_dict.get("user") or "-", event_dict.get("tenant") or "-", event_dict.get("host") or "-",
              what, detail, ms]
    return "  ".join(f for f in fields if f)


def _counts(event_dict: dict[str, Any]) -> str:
    kinds: Counter[str] = Counter()
    for finding in event_dict.get("findings") or ():
        kinds[finding.get("kind") or "?"] += finding.get("count", 1)
    text = ", ".join(f"{kind} {n}" for kind, n in kinds.most_common())
    earlier = event_dict.get(ALREADY_RECORDED) or 0
    if earlier:
        text = f"{text} (+{earlier} earlier)" if text else f"{earlier} earlier"
    return text or "no findings"


def _local_time(stamp: Any) -> str:
    if not isinstance(stamp, str):
        return "--:--:--"
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S")
