"""Offline checks that tell a real credential from something merely shaped like one.

Each validator receives the secret as text and answers VALID (the structure or checksum holds:
confidence goes up), INVALID (it cannot be a live credential of that kind: confidence goes down,
or the finding is dropped when the rule's format leaves no doubt), or UNKNOWN. Nothing here
touches the network: sending a leaked credential to its issuer to "verify" it is itself a leak.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import (
    load_der_private_key,
    load_pem_private_key,
    load_ssh_private_key,
)


class Verdict(Enum):
    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Check:
    verdict: Verdict
    # Facts learned while checking (key type, account id); never the secret itself.
    details: Mapping[str, Any] = field(default_factory=dict)


UNKNOWN = Check(Verdict.UNKNOWN)
INVALID = Check(Verdict.INVALID)

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in map(value.count, set(value)))


def _encode(number: int, alphabet: str, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, len(alphabet))
        digits = alphabet[rest] + digits
    return digits.rjust(width, alphabet[0])


def crc32_base62_suffix(token: str) -> Check:
    """GitHub (ghp_, gho_, ghu_, ghs_, ghr_) and npm (npm_) tokens: the last six characters are
    the CRC32 of the 30 random characters before them, in base62."""
    prefix, _, body = token.partition("_")
    if len(body) != 36:
        return UNKNOWN
    expected = _encode(zlib.crc32(body[:30].encode()), _BASE62, 6)
    return Check(Verdict.VALID if body[30:] == expected else Verdict.INVALID)


def gitlab_routable(token: str) -> Check:
    """GitLab routable tokens end in ``.<version 2><payload length 2><crc 7>``: the CRC32 of
    everything before the CRC, in base36. Classic ``glpat-`` + 20 tokens carry no checksum."""
    if "." not in token or len(token) < 12:
        return UNKNOWN
    head, crc = token[:-7], token[-7:]
    if _encode(zlib.crc32(head.encode()), _BASE36, 7) == crc:
        return Check(Verdict.VALID, {"format": "routable"})
    return INVALID


def aws_access_key_id(key: str) -> Check:
    """An access key id after its 4-letter type prefix is base32; bits of it are the account id.
    Keys minted before 2019 (``AKIAI``/``AKIAJ``…) do not encode the account."""
    body = key[4:]
    if len(body) != 16:
        return UNKNOWN
    try:
        raw = base64.b32decode(body)
    except (binascii.Error, ValueError):
        return INVALID
    account = (int.from_bytes(raw[:6], "big") & 0x7FFFFFFFFF80) >> 7
    if account > 999_999_999_999:
        return INVALID
    return Check(Verdict.VALID, {"aws_account": f"{account:012d}", "key_type": key[:4]})


def _b64url_json(part: str) -> Any:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode()))


def jwt(token: str) -> Check:
    """A JWT's header is base64url JSON naming its algorithm."""
    parts = token.replace("\\", "").split(".")
    if len(parts) < 2:
        return INVALID
    try:
        header = _b64url_json(parts[0])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return INVALID
    if not isinstance(header, dict) or "alg" not in header and "typ" not in header:
        return INVALID
    if str(header.get("alg", "")).lower() == "none":
        # Unsigned tokens authorise nothing on their own, but still carry claims.
        return Check(Verdict.UNKNOWN, {"alg": "none"})
    return Check(Verdict.VALID, {"alg": str(header.get("alg", ""))[:16]})


def private_key(block: str) -> Check:
    """Parse the PEM or OpenSSH block with ``cryptography``; an encrypted key still counts."""
    text = block.replace("\\r", "").replace("\\n", "\n").encode()
    loaders: list[Callable[[bytes], Any]] = [
        lambda data: load_ssh_private_key(data, password=None),
        lambda data: load_pem_private_key(data, password=None),
    ]
    if b"OPENSSH" not in text:
        loaders.reverse()
    for load in loaders:
        try:
            key = load(text)
        except TypeError:  # "password was not given": a real, encrypted key
            return Check(Verdict.VALID, {"encrypted": True})
        except (ValueError, UnsupportedAlgorithm):
            continue
        return Check(Verdict.VALID, {"key_type": type(key).__name__.lstrip("_")})
    return _pem_der_body(text)


def _pem_der_body(text: bytes) -> Check:
    """Keys cryptography cannot load (PGP, PuTTY, odd curves): accept a decodable DER body."""
    lines = [ln.strip() for ln in text.splitlines()[1:-1] if b":" not in ln]
    try:
        der = base64.b64decode(b"".join(lines), validate=True)
    except (binascii.Error, ValueError):
        return INVALID
    if len(der) < 64:
        return INVALID
    try:
        load_der_private_key(der, password=None)
    except TypeError:
        return Check(Verdict.VALID, {"encrypted": True})
    except (ValueError, UnsupportedAlgorithm):
        return UNKNOWN
    return Check(Verdict.VALID)


def pypi_macaroon(token: str) -> Check:
    """PyPI tokens are ``pypi-`` + a base64url macaroon whose first bytes name pypi.org."""
    body = token.removeprefix("pypi-")
    try:
        raw = base64.urlsafe_b64decode(body[:64] + "=" * (-len(body[:64]) % 4))
    except (binascii.Error, ValueError):
        return INVALID
    return Check(Verdict.VALID if b"pypi.org" in raw[:24] else Verdict.INVALID)


def basic_auth(encoded: str) -> Check:
    """``Authorization: Basic`` carries base64(user:password)."""
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return INVALID
    user, colon, password = text.partition(":")
    if not colon or not password or not text.isprintable():
        return INVALID
    return Check(Verdict.VALID)


def volcengine_access_key(key: str) -> Check:
    """Published Volcengine/BytePlus ids are ``AKLT`` + base64 of 32 hex characters."""
    body = key[4:]
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return UNKNOWN
    if len(raw) == 32 and all(c in "0123456789abcdef" for c in raw.lower()):
        return Check(Verdict.VALID)
    return UNKNOWN


VALIDATORS: Mapping[str, Callable[[str], Check]] = {
    "crc32_base62_suffix": crc32_base62_suffix,
    "gitlab_routable": gitlab_routable,
    "aws_access_key_id": aws_access_key_id,
    "jwt": jwt,
    "private_key": private_key,
    "pypi_macaroon": pypi_macaroon,
    "basic_auth": basic_auth,
    "volcengine_access_key": volcengine_access_key,
}
