"""Audit lines written as OCSF 1.5.0 JSON: the shape checked against the OCSF schema's models.

The validator is ``ocsf-emitter`` (PyPI), whose pydantic models are generated from the OCSF 1.5.0
schema: it checks required attributes, types and enum ids of every object, and its ``validate``
adds the class invariants (category of the class, ``type_uid = class_uid * 100 + activity_id``,
the pinned schema version). Its models accept attributes the schema does not name, so
``undeclared`` below also walks every object and fails on a key the schema does not declare
(except inside ``unmapped`` and an enrichment's ``data``, which OCSF leaves free).
"""

from __future__ import annotations

import json
import types
import typing

import ocsf_emitter
import pytest
from ocsf_emitter import _models as ocsf_models
from pydantic import BaseModel

from llm_dlp.audit.chain import load_or_create_chain_key, mac_of, open_line
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.ocsf import OCSF_VERSION, OcsfExporter, ocsf_event
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import free_port, wait_until

CLASSES = {2006: ocsf_models.DataSecurityFinding, 3002: ocsf_models.Authentication}
FREE_FORM = {"unmapped", "data"}  # OCSF's own free-form attributes: any keys


def _models_in(annotation: typing.Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (typing.Union, list):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def undeclared(value: dict, model: type[BaseModel], path: str = "") -> list[str]:
    """Keys of ``value`` (and of the objects in it) that the OCSF model does not declare."""
    wrong = []
    for key, item in value.items():
        field = model.model_fields.get(key)
        if field is None:
            wrong.append(path + key)
            continue
        if key in FREE_FORM:
            continue
        nested = _models_in(field.annotation)
        for element in (item if isinstance(item, list) else [item]):
            if isinstance(element, dict) and nested:
                wrong += undeclared(element, nested[0], f"{path}{key}.")
    return wrong


def check_ocsf(event: dict) -> None:
    model = CLASSES[event["class_uid"]]
    ocsf_emitter.validate(model.model_validate(event))  # raises InvalidFindingError naming the fields
    assert undeclared(event, model) == []
    assert event["metadata"]["version"] == OCSF_VERSION == ocsf_emitter.OCSF_SCHEMA_VERSION


def _write_events(audit: AuditLog) -> None:
    finding = {"kind": "secret", "rule": "aws-access-key", "location": "messages[0].content", "action": "redact",
               "value_hash": "hmac:1f2e", "preview": "AKIA…WXYZ", "confidence": 0.95}
    common = {"tenant": "engineering", "user": "alice", "client": "10.1.2.3", "method": "POST",
              "host": "api.anthropic.com", "path": "/v1/messages", "provider": "anthropic", "mode": "enforce",
              "body_bytes": 120, "scan_ms": 1.5}
    audit.write("dlp.decision", request_id="r-allow", decision="allow", findings=[], **common)
    audit.write("dlp.decision", request_id="r-redact", decision="redact", findings=[finding], groups=["eng"], **common)
    audit.write("dlp.response", request_id="r-redact", tenant="engineering", user="alice", host="api.anthropic.com",
                path="/v1/messages", status=200, error=None, ms=80.0)
    audit.write("dlp.decision", request_id="r-block", decision="block", status=403,
                findings=[{**finding, "kind": "pii", "rule": "email", "action": "block", "count": 2}], **common)
    audit.write("dlp.auth_failure", client="10.9.9.9", user=None, host="api.openai.com", reason="wrong password")


def test_decisions_and_refused_logins_are_written_as_valid_ocsf(tmp_path):
    confdir = tmp_path / "certs"
    key = load_or_create_chain_key(confdir)
    exporter = OcsfExporter(tmp_path / "siem" / "ocsf.jsonl", tmp_path / "spool")
    audit = AuditLog(tmp_path / "audit.jsonl", confdir=confdir, instance="edge-1", exporters=[exporter])
    _write_events(audit)
    wait_until(lambda: exporter.backlog == 0)
    audit.close()

    logged = (tmp_path / "audit.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in (tmp_path / "siem" / "ocsf.jsonl").read_text().splitlines()]
    assert (tmp_path / "siem" / "ocsf.jsonl").stat().st_mode & 0o777 == 0o600
    # Every decision and refused login, in chain order; an upstream response is not a finding.
    carried = [line for line in logged if json.loads(line)["event"] in ("dlp.decision", "dlp.auth_failure")]
    assert len(carried) == 4
    assert [e["raw_data"] for e in events] == carried
    for event in events:
        check_ocsf(event)
        sealed = open_line(event["raw_data"].encode())
        assert mac_of(key, sealed.body) == sealed.mac  # the SIEM can verify what it holds
        assert event["metadata"]["uid"] == f"edge-1#{sealed.fields['seq']}"
        assert event["time"] == ocsf_event(event["raw_data"])["time"] > 0

    allow, redact, block, login = events
    assert (allow["class_uid"], allow["type_uid"], allow["severity_id"], allow["count"]) == (2006, 200601, 1, 0)
    assert allow["finding_info"]["uid"] == "r-allow" and allow["enrichments"] == []
    assert redact["severity_id"] == 3 and redact["count"] == 1
    assert redact["data_security"]["detection_system_id"] == 2  # DLP Gateway
    assert redact["data_security"]["data_lifecycle_state_id"] == 2  # Data in-Transit
    assert redact["data_security"]["category_id"] == 6  # Security: a secret
    assert redact["data_security"]["detection_pattern"] == "secret/aws-access-key"
    assert redact["actor"]["user"] == {"name": "alice", "groups": [{"name": "eng"}]}
    assert redact["src_endpoint"] == {"ip": "10.1.2.3"}
    assert redact["dst_endpoint"] == {"hostname": "api.anthropic.com", "svc_name": "anthropic"}
    assert redact["enrichments"][0]["value"] == "secret/aws-access-key"
    assert redact["enrichments"][0]["data"]["value_hash"] == "hmac:1f2e"
    assert redact["unmapped"]["decision"] == "redact" and redact["metadata"]["correlation_uid"] == "r-redact"
    assert block["severity_id"] == 4 and block["count"] == 2 and block["data_security"]["category_id"] == 1
    assert (login["class_uid"], login["type_uid"], login["status_id"]) == (3002, 300201, 2)
    assert login["status_detail"] == "wrong password" and "name" not in login["user"]


def test_a_mistyped_attribute_is_caught_by_the_check(tmp_path):
    """The check itself is not a rubber stamp: a wrong key, a missing required field and a wrong id fail."""
    confdir = tmp_path / "certs"
    load_or_create_chain_key(confdir)
    audit = AuditLog(tmp_path / "audit.jsonl", confdir=confdir, instance="edge-1")
    _write_events(audit)
    audit.close()
    event = ocsf_event((tmp_path / "audit.jsonl").read_text().splitlines()[1])
    check_ocsf(event)
    assert undeclared({**event, "finding_info": {**event["finding_info"], "titel": "x"}},
                      ocsf_models.DataSecurityFinding) == ["finding_info.titel"]
    with pytest.raises(Exception, match="finding_info"):
        check_ocsf({key: value for key, value in event.items() if key != "finding_info"})
    with pytest.raises(Exception, match="type_uid"):
        check_ocsf({**event, "type_uid": 200602})


def test_the_real_proxy_writes_ocsf_and_syslog_over_tls(tmp_path, provider, test_ca):
    """``llm-dlp run --export-ocsf FILE --export-syslog tls://… --export-syslog-ca CA``: both get
    every line they carry, and the secret in a request is in neither."""
    import ssl

    import httpx

    from tests.test_audit_syslog import FRAME, Receiver

    from llm_dlp.testing.proxyrun import start_proxy
    from llm_dlp.testing.standin import TestCA as ThrowawayCA

    syslog_ca = ThrowawayCA(tmp_path / "syslog-ca")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(*syslog_ca.issue("receiver"))
    port, admin = free_port(), free_port()
    receiver = Receiver(port, tls=server)
    ocsf_path = tmp_path / "siem" / "ocsf.jsonl"
    secret = make.aws_access_key_id()
    running = start_proxy(tmp_path / "run", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                          extra_args=["--export-syslog", f"tls://localhost:{port}", "--export-syslog-ca",
                                      str(syslog_ca.cert_path), "--export-ocsf", str(ocsf_path), "--quiet",
                                      "--admin-listen", f"127.0.0.1:{admin}"])
    try:
        with running.client() as client:
            for text in ("hello", f"my key is {secret} please keep it", "bye"):
                client.post(f"{provider.base_url}/v1/messages", json={
                    "model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": text}]})
        wait_until(lambda: len(running.audit_lines()) >= 3 and len(receiver.messages) >= len(running.audit_lines()))
        wait_until(lambda: ocsf_path.exists() and len(ocsf_path.read_text().splitlines()) >= 3)
        # The redacted key is in the (memory) vault, so the answer can carry it again.
        metrics = httpx.get(f"http://127.0.0.1:{admin}/metrics").text
        assert "llm_dlp_vault_entries 1.0" in metrics
    finally:
        running.stop()
        receiver.stop()
    logged = running.audit_path.read_bytes().splitlines()
    assert [FRAME.fullmatch(m).group(6) for m in receiver.messages] == logged
    events = [json.loads(line) for line in ocsf_path.read_text().splitlines()]
    decisions = [json.loads(line) for line in logged if json.loads(line)["event"] == "dlp.decision"]
    assert [e["finding_info"]["uid"] for e in events] == [d["request_id"] for d in decisions]
    for event in events:
        check_ocsf(event)
    assert any(e["count"] >= 1 and "secret" in e["finding_info"]["types"] for e in events)
    assert secret not in ocsf_path.read_text()
