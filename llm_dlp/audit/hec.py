"""Audit lines to a Splunk HTTP Event Collector: one JSON event per line, acknowledged by status.

``POST <url>`` (``…/services/collector/event``) with ``Authorization: Splunk <token>``; the event
is the audit line's fields with the sealed line beside them (``sealed``), so searches see fields
and a reviewer can still verify the line with the chain key. A status other than 200 leaves the
line in the spool (``export.py``) to be sent again. The token is read from the environment, never
from the command line, where every user of the machine could read it.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import httpx

from llm_dlp.audit.export import SpooledExporter
from llm_dlp.audit.rotation import parse_time

TOKEN_VARIABLE = "LLM_DLP_HEC_TOKEN"
SOURCETYPE = "llm-dlp:audit"


def hec_event(host: str, line: str) -> bytes:
    fields = json.loads(line)
    stamp = fields.get("time")
    event = {
        **({"time": round(parse_time(stamp).timestamp(), 6)} if isinstance(stamp, str) else {}),
        "host": host,
        "source": "llm-dlp",
        "sourcetype": SOURCETYPE,
        "event": {**fields, "sealed": line},
    }
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


class HecTransport:
    name = "splunk-hec"

    def __init__(self, url: str, token: str, verify: bool | str = True) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r}: expected http(s)://HOST:PORT/services/collector/event")
        self.url = url
        self._client = httpx.Client(timeout=10, verify=verify, headers={"Authorization": f"Splunk {token}"})

    def deliver(self, message: bytes) -> None:
        try:
            answer = self._client.post(self.url, content=message, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise OSError(f"Splunk HEC {self.url}: {exc}") from exc
        if answer.status_code != 200:
            raise OSError(f"Splunk HEC {self.url} answered {answer.status_code}")

    def close(self) -> None:
        self._client.close()


def HecExporter(url: str, token: str, spool_dir: Path, host: str, verify: bool | str = True) -> SpooledExporter:  # noqa: N802
    return SpooledExporter(HecTransport(url, token, verify), partial(hec_event, host), spool_dir)
