"""No personal data read inside encoded blobs: PEM keys, base64 and hex.

Cut at its ``+`` and ``/``, random base64 yields capitalised syllables the word lists know
("+Ina89", "+Joe94O3"); about one generated PEM key in ten used to give a person or a place.
"""

from __future__ import annotations

import base64
import os
import random
import secrets
import uuid

import pytest

from detectors.pii.blobs import blob_spans
from detectors.pii.detector import PiiDetector
from llm_dlp.testing import secrets_factory as make


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector()


def _blobs() -> list[str]:
    keys = [make.private_key_pem() for _ in range(40)]
    encoded = [base64.b64encode(os.urandom(3_000)).decode() for _ in range(60)]
    url_safe = [base64.urlsafe_b64encode(os.urandom(600)).decode() for _ in range(60)]
    wrapped = ["\n".join(b[i : i + 76] for i in range(0, len(b), 76)) for b in encoded[:20]]
    hexes = [os.urandom(512).hex() for _ in range(20)] + [os.urandom(512).hex().upper() for _ in range(20)]
    return keys + encoded + url_safe + wrapped + hexes


def test_generated_keys_and_encoded_blobs_hold_no_personal_data(detector):
    found = {}
    for blob in _blobs():
        for text in (blob, f"load this\n{blob}\n", f'{{"data": "{blob}"}}'):
            for finding in detector.scan(text):
                found.setdefault(finding.rule, []).append(text[finding.start : finding.end])
    assert found == {}


def test_uuids_hold_no_personal_data(detector):
    """A UUID's all-digit group read as a phone number in about 1 of 200 (``30945609-afbe-…``): in
    an SDK's request-id header, that blocked the request (a header cannot be redacted)."""
    rng = random.Random(16)
    found = []
    for _ in range(3_000):
        value = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        for text in (f"amz-sdk-invocation-id: {value}", f"x-request-id: req_{value.upper()}", f"trace {value}."):
            found += [(text, finding.rule) for finding in detector.scan(text)]
    assert found == []


def test_a_phone_number_beside_a_uuid_is_still_found(detector):
    text = "Ticket 30945609-afbe-4f3b-b5cc-22e34019779f: call me on +1 415 555 0134"
    assert ("+1 415 555 0134", "PHONE_NUMBER") in {(text[f.start : f.end], f.rule) for f in detector.scan(text)}


@pytest.mark.parametrize(("text", "value", "rule"), [
    # Beside a blob, in words, personal data is still found, on the blob's own line too: a blob's
    # characters can spell an operator ("0xF", the "==" of padding) that made the line read as code.
    ("Key for Anna Schmidt: {blob}", "Anna Schmidt", "PERSON"),
    ("The key {blob} belongs to Anna Schmidt.", "Anna Schmidt", "PERSON"),
    ("Key for Anna Schmidt:\n{blob}", "Anna Schmidt", "PERSON"),
    ("{blob}\nMail it to anna.schmidt@example.org please", "anna.schmidt@example.org", "EMAIL_ADDRESS"),
    # Letters and digits that switch rarely are codes, not blobs: an IBAN, an identity number.
    ("My IBAN is GB82WEST12345698765432 thanks", "GB82WEST12345698765432", "IBAN_CODE"),
])
def test_personal_data_next_to_a_blob_is_still_found(detector, text, value, rule):
    # 300 to 302 bytes: no padding, "==" or "=".
    text = text.format(blob=base64.b64encode(os.urandom(300 + secrets.randbelow(3))).decode())
    assert (value, rule) in {(text[f.start : f.end], f.rule) for f in detector.scan(text)}


@pytest.mark.parametrize("text", [
    "Hello-World-2024-from-Anna-Smith",
    "src/components/UserProfile/index2",
    "GB82WEST12345698765432",
    "11010519491231002X",
    "MaxRetriesPerRequestLimit",
])
def test_words_paths_and_codes_are_no_blobs(text):
    assert blob_spans(f"see {text} here") == []


def test_a_line_is_judged_around_its_blob():
    """A blob's characters can spell an operator ("0xF", padding's "=="); the line is read as
    what it says around the blob: a sentence stays prose, an assignment and a hex literal code."""
    from detectors.pii.code_context import looks_like_code

    blob = base64.b64encode(os.urandom(301)).decode()  # ends in "=="
    assert not looks_like_code(f"Key for Anna Schmidt: {blob}")
    assert not looks_like_code(f"Key for Anna Schmidt: ab0xF{blob}==")
    assert looks_like_code(f"data = {blob}")
    assert looks_like_code("    0x1F2E3D4C5B6A79880123456789abcdef,")
