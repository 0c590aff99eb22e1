"""The audit log: one JSON line per intercepted request, through a structlog processor chain.

Fields are named once here and the same everywhere (``llm-dlp audit`` reads these names).
Values never appear: findings carry a keyed hash and a masked preview only.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from pathlib import Path
from typing import IO, Any

import structlog

from llm_dlp.pipeline import RequestInfo, Verdict

EVENT = "dlp.decision"


class AuditWriteError(OSError):
    """The audit line could not be written; the request must not be forwarded unaudited."""


class AuditLog:
    def __init__(self, target: str | Path) -> None:
        self.target = str(target)
        if self.target == "-":
            self._file: IO[str] = sys.stdout
        else:
            path = Path(self.target)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()
        # A private logger, not structlog's global configuration: the proxy's own log messages
        # and the audit trail must never mix.
        self._logger = structlog.wrap_logger(
            structlog.PrintLogger(self._file),
            processors=[
                structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
        )

    def record(self, info: RequestInfo, verdict: Verdict) -> None:
        self.write(EVENT, **decision_fields(info, verdict))

    def write(self, event: str, **fields: Any) -> None:
        try:
            with self._lock:
                self._logger.info(event, **fields)
                self._file.flush()
        except (OSError, ValueError) as exc:
            raise AuditWriteError(f"cannot write audit log {self.target}: {exc}") from exc

    def close(self) -> None:
        if self._file is not sys.stdout:
            self._file.close()


def decision_fields(info: RequestInfo, verdict: Verdict) -> dict[str, Any]:
    return {
        "request_id": info.request_id,
        "tenant": verdict.tenant,
        "user": info.user,
        "client": info.client_address,
        "method": info.method,
        "host": info.host,
        "path": info.path,
        "provider": info.provider,
        "format": verdict.format,
        "model": verdict.model,
        "decision": verdict.decision,
        "mode": verdict.policy_mode,
        "status": verdict.status if verdict.answers_client else None,
        "reason": verdict.message or None,
        "error": verdict.error,
        "findings": [dataclasses.asdict(f) for f in verdict.findings],
        "body_bytes": verdict.body_bytes,
        "scan_ms": verdict.scan_ms,
    }
