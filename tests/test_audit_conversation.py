"""An honest audit of an agent's conversation: each finding once, where it first appeared.

A coding agent re-sends its whole history every turn. These drive the real pipeline (bundled
policy, every detector) and the real audit log through a growing conversation and read the
lines back the way a reviewer does.
"""

from __future__ import annotations

import json
import shutil
import statistics
import uuid
from pathlib import Path

import pytest

from llm_dlp.audit.chain import load_or_create_chain_key
from llm_dlp.audit.log import AuditLog, AuditWriteError
from llm_dlp.audit.query import Filter, seen, select
from llm_dlp.audit.summary import summarize
from llm_dlp.audit.verify import verify
from llm_dlp.cli import main
from llm_dlp.detection import DetectorOptions, DetectorRegistry, build_detectors
from llm_dlp.keys import load_or_create_hasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import copy_policies

REPO = Path(__file__).resolve().parent.parent
EMAIL = "jonas.lindqvist@example-mail.com"


@pytest.fixture(scope="module")
def value_keys(tmp_path_factory) -> Path:
    """The confdir holding the value-hash key the pipeline hashes with (``seen`` needs it)."""
    return tmp_path_factory.mktemp("conversation") / "certs"


@pytest.fixture(scope="module")
def pipeline(value_keys) -> Pipeline:
    empty_index = value_keys.parent / "no-index"
    empty_index.mkdir(exist_ok=True)
    detectors = build_detectors(DetectorOptions(index_dir=empty_index))
    policies = load_policy_dir(REPO / "policies", registry=DetectorRegistry.of(detectors))
    return Pipeline(policies, detectors, load_or_create_hasher(value_keys))


class Agent:
    """A conversation that grows by one tool call and its result per turn, sent whole each time."""

    def __init__(self, pipeline: Pipeline, audit: AuditLog, user: str = "alice") -> None:
        self.pipeline, self.audit, self.user = pipeline, audit, user
        self.history: list[dict] = [{"role": "user", "content": "Fix the failing deploy, please."}]

    def turn(self, tool_result: str) -> None:
        tool_id = f"toolu_{len(self.history):04d}"
        self.history += [
            {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": "Read", "input": {"file_path": "x"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": tool_result}]},
        ]
        self.send()

    def send(self) -> None:
        body = json.dumps({"model": "claude-test", "max_tokens": 100, "messages": self.history}).encode()
        info = RequestInfo(request_id=uuid.uuid4().hex, method="POST", host="api.anthropic.com", path="/v1/messages",
                           provider="anthropic", client_address="10.0.0.7", user=self.user, content_type="application/json")
        self.audit.record(info, self.pipeline.inspect(info, body).verdict)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_finding_is_recorded_at_its_first_turn_and_counted_after(pipeline, tmp_path):
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, key=load_or_create_chain_key(tmp_path / "certs"))
    agent = Agent(pipeline, audit)
    key = make.aws_access_key_id()
    agent.turn("def main():\n    return 0\n")
    agent.turn(f"AWS_ACCESS_KEY_ID={key}\n")
    agent.turn("all tests passed\n")
    agent.turn(f"ticket opened by {EMAIL}\n")
    audit.close()

    first, secret, plain, email = lines(path)
    assert [f["kind"] for f in secret["findings"]] == ["secret"]
    assert secret["decision"] == "redact"
    # Turn 3 still carries (and still redacts) the key, but does not record it again.
    assert plain["decision"] == "redact" and not any(f["kind"] == "secret" for f in plain["findings"])
    assert plain["findings_already_recorded"] == len(first["findings"]) + len(secret["findings"])
    assert [f["kind"] for f in email["findings"]] == ["pii"]
    assert email["findings_already_recorded"] == plain["findings_already_recorded"] + len(plain["findings"])
    assert key not in path.read_text()
    assert verify([path], load_or_create_chain_key(tmp_path / "certs")).ok


def test_another_user_with_the_same_history_is_another_conversation(pipeline, tmp_path):
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, key=load_or_create_chain_key(tmp_path / "certs"))
    key = make.github_pat()
    for user in ("alice", "bob", "alice"):
        Agent(pipeline, audit, user).turn(f"token {key}")
    audit.close()
    alice, bob, alice_again = lines(path)
    assert [f["kind"] for f in alice["findings"]] == [f["kind"] for f in bob["findings"]] == ["secret"]
    assert alice_again["findings"] == [] and alice_again["findings_already_recorded"] == 1


def test_a_line_that_could_not_be_written_records_nothing(pipeline, tmp_path):
    directory = tmp_path / "logs"
    audit = AuditLog(directory / "audit.jsonl", key=load_or_create_chain_key(tmp_path / "certs"))
    agent = Agent(pipeline, audit)
    shutil.rmtree(directory)
    with pytest.raises(AuditWriteError):
        agent.turn(f"key {make.aws_access_key_id()}")
    directory.mkdir()
    agent.send()  # the client retries the same request
    audit.close()
    [line] = lines(directory / "audit.jsonl")
    assert [f["kind"] for f in line["findings"]] == ["secret"]
    assert line["findings_already_recorded"] == 0


def test_lines_stay_short_while_the_history_grows(pipeline, tmp_path):
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, key=load_or_create_chain_key(tmp_path / "certs"))
    agent = Agent(pipeline, audit)
    agent.turn("\n".join(f"{i},Customer {i},customer{i}@example-mail.com" for i in range(20)))
    agent.turn(f"GITHUB_TOKEN={make.github_pat()}")
    for n in range(10):
        agent.turn(f"step {n} done")
    audit.close()
    sizes = [len(line) for line in path.read_bytes().splitlines()]
    assert statistics.median(sizes) <= 2048
    assert max(sizes[2:]) < sizes[0] / 3  # the customer list is listed once, at its turn
    summary = summarize(select([path], Filter()))
    assert summary.kinds["secret"] == 1  # one token, counted once although sent eleven times
    assert summary.already_recorded > 0


def test_a_shadow_record_lists_a_finding_once_per_conversation_too(pipeline, tmp_path):
    # The candidate policy withholds what the active one redacts, so every turn that still
    # carries the key differs and has a shadow record; the key is listed there once.
    default = (REPO / "policies" / "default.yaml").read_text()
    redact_secrets = "    kind: secret\n    action: redact\n"
    assert redact_secrets in default
    shadow_dir = copy_policies(tmp_path / "shadow", default=default.replace(redact_secrets, "    kind: secret\n    action: withhold\n"))
    shadow = load_policy_dir(shadow_dir, registry=DetectorRegistry.of(pipeline.detectors))
    with_shadow = Pipeline(pipeline.policies, pipeline.detectors, pipeline.hasher, shadow=shadow)
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, key=load_or_create_chain_key(tmp_path / "certs"))
    agent = Agent(with_shadow, audit)
    agent.turn(f"GITHUB_TOKEN={make.github_pat()}")
    for n in range(5):
        agent.turn(f"step {n} done")
    audit.close()
    first, *later = lines(path)
    assert first["decision"] == "redact" and first["shadow"]["decision"] == "withhold"
    assert [(f["kind"], f["action"]) for f in first["shadow"]["findings"]] == [("secret", "withhold")]
    assert first["shadow"]["findings_already_recorded"] == 0
    assert len(later) == 5
    for line in later:
        assert line["shadow"]["decision"] == "withhold" and line["shadow"]["findings"] == []
        assert line["shadow"]["findings_already_recorded"] == 1
        assert line["findings"] == [] and line["findings_already_recorded"] == 1  # the active policy's, apart
    assert verify([path], load_or_create_chain_key(tmp_path / "certs")).ok


def test_seen_says_what_happened_to_the_value_not_to_its_request(pipeline, value_keys, tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, key=load_or_create_chain_key(tmp_path / "certs"))
    # A tenant that only logs personal data: the email is logged, the key beside it makes the
    # request's decision "redact".
    text = (REPO / "policies" / "default.yaml").read_text()
    assert "    kind: pii\n    action: redact" in text
    directory = copy_policies(tmp_path / "policies", default=text.replace("    kind: pii\n    action: redact", "    kind: pii\n    action: log"))
    logging_pii = Pipeline(load_policy_dir(directory, registry=DetectorRegistry.of(pipeline.detectors)), pipeline.detectors, pipeline.hasher)
    Agent(logging_pii, audit).turn(f"{EMAIL} uses AWS_ACCESS_KEY_ID={make.aws_access_key_id()}")
    audit.close()
    [line] = lines(path)
    assert line["decision"] == "redact"
    fingerprint = pipeline.hasher.fingerprint(EMAIL)
    [sighting] = seen([path], fingerprint)
    assert sighting.outcome == "sent, logged"

    assert main(["audit", "seen", EMAIL, str(path), "--confdir", str(value_keys)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("seen in 1 request(s) as hmac-sha256:")
    assert "sent, logged" in out and "redacted" not in out and "pii/" in out


def test_a_value_inside_a_withheld_unit_is_recorded_as_withheld_and_seen_says_not_sent(pipeline, value_keys, tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, key=load_or_create_chain_key(tmp_path / "certs"))
    # The default withholds a private key in a tool result; the e-mail beside it (only logged on
    # its own) goes nowhere either: the whole tool result is replaced by the notice.
    Agent(pipeline, audit).turn(f"maintainer {EMAIL}\n{make.private_key_pem()}\n")
    audit.close()
    [line] = lines(path)
    assert line["decision"] == "withhold"
    [email] = [f for f in line["findings"] if f["kind"] == "pii"]
    assert email["action"] == "withhold" and email["policy_rule"].endswith("inside a withheld unit, so not sent")
    [sighting] = seen([path], pipeline.hasher.fingerprint(EMAIL))
    assert sighting.outcome == "not sent (withheld: the model read a notice instead)"
    assert main(["audit", "seen", EMAIL, str(path), "--confdir", str(value_keys)]) == 0
    out = capsys.readouterr().out
    assert "not sent (withheld" in out and "sent, logged" not in out and EMAIL not in path.read_text()
