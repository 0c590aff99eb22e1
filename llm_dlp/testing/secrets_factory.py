"""Fresh, realistic secrets for tests: random bodies in each provider's documented format."""

from __future__ import annotations

import secrets
import string
import zlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def aws_access_key_id() -> str:
    return "AKIA" + _random("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)


def aws_secret_access_key() -> str:
    return _random(string.ascii_letters + string.digits + "/+", 40)


def github_pat() -> str:
    body = _random(BASE62, 30)
    checksum = zlib.crc32(body.encode())
    digits = ""
    while checksum:
        checksum, rem = divmod(checksum, 62)
        digits = BASE62[rem] + digits
    return "ghp_" + body + digits.rjust(6, "0")


def anthropic_api_key() -> str:
    return "sk-ant-api03-" + _random(string.ascii_letters + string.digits + "-_", 93) + "AA"


def openai_api_key() -> str:
    return "sk-proj-" + _random(string.ascii_letters + string.digits + "-_", 74) + "T3BlbkFJ" + _random(
        string.ascii_letters + string.digits + "-_", 74)


def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def database_url() -> tuple[str, str]:
    password = _random(string.ascii_letters + string.digits, 18)
    return f"postgres://app_user:{password}@db.internal.example:5432/orders", password
