"""Audit lines as OCSF 1.5.0 events, one JSON object per line, written to a file where asked.

Which class each event becomes, and why:

- ``dlp.decision`` → **Data Security Finding** (class_uid 2006, category 2 Findings). A decided
  request is a DLP system's verdict on data in transit; the class carries the ``data_security``
  object made for exactly that (detection system, lifecycle state, policy), and one event is
  written per request, also when nothing was found, so a SIEM sees traffic it did not flag.
- ``dlp.auth_failure`` → **Authentication** (class_uid 3002, category 3 IAM), activity Logon,
  status Failure: a client the proxy refused.
- ``dlp.response``, ``dlp.restore`` and ``audit.purge`` are not written: they are not findings
  nor logons, and they stay in the chained log, syslog and HEC.

Every event carries the sealed audit line as ``raw_data``, so what the SIEM holds can still be
verified with the chain key; the rest is read off the line's fields. The mapping is field by
field in README ("OCSF export"); no field holds a matched value (findings carry the audit's
keyed hash and masked preview only). The file is written through the same spool and cursor as
the other exporters (``export.py``): a full or unwritable disk delays it, never a request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from llm_dlp.audit.events import AUTH_FAILURE, DECISION
from llm_dlp.audit.export import SpooledExporter
from llm_dlp.audit.rotation import parse_time

OCSF_VERSION = "1.5.0"


def _version() -> str:
    try:
        return metadata.version("llm-dlp")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


PRODUCT = {"name": "llm-dlp", "vendor_name": "llm-dlp project", "version": _version()}

DATA_SECURITY_FINDING = 2006
FINDINGS_CATEGORY = 2
AUTHENTICATION = 3002
IAM_CATEGORY = 3
ACTIVITY_CREATE = 1  # Data Security Finding: a new finding
ACTIVITY_LOGON = 1  # Authentication
STATUS_NEW = 1  # Data Security Finding status_id
STATUS_FAILURE = 2  # Authentication status_id

SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
# What the proxy did decides the severity: a request stopped is the one to look at first.
DECISION_SEVERITY = {"block": 4, "withhold": 4, "error": 3, "redact": 3}

DETECTION_SYSTEM_DLP_GATEWAY = 2  # data_security.detection_system_id: a DLP gateway sees data in transit
LIFECYCLE_IN_TRANSIT = 2  # data_security.data_lifecycle_state_id
# data_security.category_id from the finding kinds (OCSF: 1 Personal, 4 Business, 6 Security, 99 Other).
KIND_CATEGORY = {"pii": (1, "Personal"), "secret": (6, "Security"), "proprietary_code": (4, "Business")}


def ocsf_event(line: str) -> dict[str, Any] | None:
    """The OCSF event for one sealed audit line, or None for an event this export does not carry."""
    fields = json.loads(line)
    if fields.get("event") == DECISION:
        return _data_security_finding(fields, line)
    if fields.get("event") == AUTH_FAILURE:
        return _authentication(fields, line)
    return None


def render(line: str) -> bytes | None:
    event = ocsf_event(line)
    return None if event is None else json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _data_security_finding(fields: Mapping[str, Any], line: str) -> dict[str, Any]:
    findings = [f for f in fields.get("findings") or () if isinstance(f, dict)]
    decision = str(fields.get("decision") or "unknown")
    severity = DECISION_SEVERITY.get(decision, 2 if findings else 1)
    kinds = sorted({str(f.get("kind")) for f in findings})
    category_id, category = _category(kinds)
    rules = sorted({f"{f.get('kind')}/{f.get('rule')}" for f in findings})
    count = sum(int(f.get("count", 1)) for f in findings)
    provider = str(fields.get("provider") or "unknown")
    return {
        **_header(fields, line, DATA_SECURITY_FINDING, "Data Security Finding", FINDINGS_CATEGORY, "Findings",
                  ACTIVITY_CREATE, "Create", severity),
        "status_id": STATUS_NEW,
        "status": "New",
        "message": f"{fields.get('method') or 'POST'} to {provider}: {decision}, {count} finding(s)",
        "count": count,
        "finding_info": {
            "uid": str(fields.get("request_id") or fields.get("mac")),
            "title": f"AI API request {decision}",
            "types": kinds,
            "created_time": _epoch_ms(fields),
            "data_sources": ["llm-dlp audit log"],
            "product": PRODUCT,
        },
        "data_security": {
            "detection_system_id": DETECTION_SYSTEM_DLP_GATEWAY,
            "detection_system": "DLP Gateway",
            "data_lifecycle_state_id": LIFECYCLE_IN_TRANSIT,
            "data_lifecycle_state": "Data in-Transit",
            "category_id": category_id,
            "category": category,
            **({"detection_pattern": ", ".join(rules)} if rules else {}),
            "total": count,
            "policy": {"name": str(fields.get("tenant") or "default"), "desc": f"mode {fields.get('mode')}"},
        },
        **_actor(fields),
        **({"src_endpoint": {"ip": fields["client"]}} if fields.get("client") else {}),
        "dst_endpoint": {"hostname": str(fields.get("host") or ""), "svc_name": provider},
        "enrichments": [_finding_enrichment(f) for f in findings],
        "unmapped": {key: fields.get(key) for key in (
            "decision", "mode", "format", "path", "model", "region", "reason", "status", "error", "body_bytes",
            "scan_ms", "reroute") if fields.get(key) is not None},
    }


def _authentication(fields: Mapping[str, Any], line: str) -> dict[str, Any]:
    return {
        **_header(fields, line, AUTHENTICATION, "Authentication", IAM_CATEGORY, "Identity & Access Management",
                  ACTIVITY_LOGON, "Logon", 3),
        "status_id": STATUS_FAILURE,
        "status": "Failure",
        "status_detail": str(fields.get("reason") or ""),
        "message": f"proxy login refused: {fields.get('reason')}",
        # Only a user the users file knows is named (a password typed as a user name never is).
        "user": {"name": fields["user"]} if fields.get("user") else {"type_id": 0, "type": "Unknown"},
        "auth_protocol_id": 99,
        "auth_protocol": "HTTP Proxy-Authorization Basic",
        **({"src_endpoint": {"ip": fields["client"]}} if fields.get("client") else {}),
        **({"dst_endpoint": {"hostname": fields["host"]}} if fields.get("host") else {}),
    }


def _header(fields: Mapping[str, Any], line: str, class_uid: int, class_name: str, category_uid: int,
            category_name: str, activity_id: int, activity_name: str, severity_id: int) -> dict[str, Any]:
    instance = str(fields.get("instance") or "")
    return {
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {activity_name}",
        "severity_id": severity_id,
        "severity": SEVERITY_NAMES[severity_id],
        "time": _epoch_ms(fields),
        "metadata": {
            "version": OCSF_VERSION,
            "product": PRODUCT,
            "uid": f"{instance}#{fields.get('seq')}",
            "sequence": fields.get("seq"),
            **({"log_name": instance} if instance else {}),
            "log_provider": "llm-dlp",
            "original_time": fields.get("time"),
            **({"correlation_uid": fields["request_id"]} if fields.get("request_id") else {}),
            **({"tenant_uid": fields["tenant"]} if fields.get("tenant") else {}),
        },
        "raw_data": line,
    }


def _actor(fields: Mapping[str, Any]) -> dict[str, Any]:
    if not fields.get("user"):
        return {}
    groups = [{"name": g} for g in fields.get("groups") or ()]
    return {"actor": {"user": {"name": fields["user"], **({"groups": groups} if groups else {})}}}


def _finding_enrichment(finding: Mapping[str, Any]) -> dict[str, Any]:
    # The audit's own view of the finding: its keyed hash and masked preview, never the value.
    data = {key: finding[key] for key in ("location", "action", "value_hash", "preview", "confidence", "count",
                                           "detector", "policy_rule") if key in finding}
    return {"name": "finding", "value": f"{finding.get('kind')}/{finding.get('rule')}", "type": "llm-dlp finding",
            "data": data}


def _category(kinds: list[str]) -> tuple[int, str]:
    known = {KIND_CATEGORY.get(k, (99, "Other")) for k in kinds}
    if len(known) == 1:
        return known.pop()
    return (99, "Other") if kinds else (0, "Unknown")


def _epoch_ms(fields: Mapping[str, Any]) -> int:
    stamp = fields.get("time")
    return int(parse_time(stamp).timestamp() * 1000) if isinstance(stamp, str) else 0


class FileTransport:
    """Appends each message as a line to a file (created 0600: it describes everyone's requests)."""

    name = "ocsf"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def deliver(self, message: bytes) -> None:
        with os.fdopen(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as out:
            out.write(message + b"\n")

    def close(self) -> None:
        pass


def OcsfExporter(path: Path, spool_dir: Path) -> SpooledExporter:  # noqa: N802 — reads as the class it builds
    return SpooledExporter(FileTransport(path), render, spool_dir)


__all__ = ["OCSF_VERSION", "OcsfExporter", "ocsf_event"]
