"""A value redacted once is redacted again wherever it comes back, with the same placeholder."""

from __future__ import annotations

import json

from detectors.secrets import SecretDetector
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import REPO

INFO = RequestInfo("r", "POST", "api.example", "/v1/messages", "anthropic")


def body(*texts: str) -> bytes:
    return json.dumps({"model": "m", "max_tokens": 5,
                       "messages": [{"role": "user", "content": text} for text in texts]}).encode()


def test_a_restored_value_in_new_surroundings_is_still_redacted_identically():
    pipeline = Pipeline(load_policy_dir(REPO / "policies"), [SecretDetector()], ValueHasher(b"k" * 32))
    secret = make.aws_secret_access_key()
    first = pipeline.inspect(INFO, body(f"aws_secret_access_key = {secret}"))
    assert first.verdict.decision == "redact"
    [placeholder] = first.redactions
    # The model's answer was restored; now the value comes back with no keyword near it.
    bare = f"I replaced it with {secret} as you said"
    assert not [f for f in SecretDetector().scan(bare) if f.rule == "aws-secret-access-key"]
    second = pipeline.inspect(INFO, body(f"aws_secret_access_key = {secret}", bare))
    assert second.verdict.decision == "redact"
    forwarded = json.loads(second.body)["messages"]
    assert forwarded[1]["content"] == f"I replaced it with {placeholder} as you said"
    assert secret not in second.body.decode()


def test_known_values_are_kept_per_tenant():
    pipeline = Pipeline(load_policy_dir(REPO / "policies"), [SecretDetector()], ValueHasher(b"k" * 32))
    secret = make.aws_secret_access_key()
    pipeline.inspect(INFO, body(f"aws_secret_access_key = {secret}"))
    pilot = pipeline.policies.get("pilot")
    verdict = pipeline.inspect(INFO, body(f"plain {secret} here"), pilot).verdict
    assert verdict.findings == ()


def _redacted(*values: str) -> list:
    from llm_dlp.verdict import Redaction

    return [Redaction("secret", "r", value) for value in values]


def test_every_value_is_found_in_one_pass_however_many_and_the_longest_wins():
    from llm_dlp.known_values import KnownValues

    known = KnownValues()
    values = [f"value-{n:05d}-xyz" for n in range(700)]  # past the point where new values fold into the large matcher
    for start in range(0, len(values), 7):  # remembered a few at a time, as redactions come
        known.remember("t", _redacted(*values[start:start + 7]))
    known.remember("t", _redacted("value-00003-xyz-and-more"))  # contains another value
    text = "é " + " ".join(values[::50]) + " and value-00003-xyz-and-more, ünd value-00699-xyz."
    found = [(f.start, f.end) for f in known.scan("t", text)]
    assert [text[s:e] for s, e in found] == [*values[::50], "value-00003-xyz-and-more", "value-00699-xyz"]
    assert known.scan("other", text) == []


def test_an_evicted_value_is_no_longer_found():
    from llm_dlp.known_values import KnownValues

    known = KnownValues(limit=3)
    known.remember("t", _redacted("first-value", "second-value", "third-value"))
    known.remember("t", _redacted("fourth-value"))
    assert [f.end - f.start for f in known.scan("t", "first-value fourth-value")] == [len("fourth-value")]
