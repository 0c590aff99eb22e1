"""Secrets one encoding deep are found, and the finding covers the encoded characters."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from detectors.secrets import SecretDetector

detector = SecretDetector()
GITHUB_PAT = "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"
EC_KEY = (
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIJzy36rHf1WgmA63GTrsKk5UGGN/By8CDIbIO86WT9vIoAoGCCqGSM49\n"
    "AwEHoUQDQgAEtsduULkbw3ONFNWTHInP9FnnuHP2A3I9x94HMbNa1cwQ9AmF9mm1\n"
    "ZF2OMBrx6FDhL1oOFdsJ1eoVZRBl6BhLBQ==\n"
    "-----END EC PRIVATE KEY-----\n"
)


def test_secret_inside_a_base64_blob() -> None:
    blob = base64.b64encode(f"[auth]\ntoken = {GITHUB_PAT}\n".encode()).decode()
    text = f"config_b64: {blob}\n"
    [finding] = detector.scan(text)
    assert finding.rule == "github-pat"
    assert finding.details["encoding"] == "base64"
    assert text.index(blob) <= finding.start < finding.end <= text.index(blob) + len(blob)


def test_dockerconfigjson_in_a_kubernetes_secret() -> None:
    docker_config = json.dumps({"auths": {"ghcr.io": {"auth": base64.b64encode(f"bot:{GITHUB_PAT}".encode()).decode()}}})
    text = (
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n"
        f"  .dockerconfigjson: {base64.b64encode(docker_config.encode()).decode()}\n"
    )
    rules = {f.rule for f in detector.scan(text)}
    assert "github-pat" in rules


def test_url_encoded_connection_string() -> None:
    text = "dsn=" + urllib.parse.quote("postgres://app:Zt9vQ2xLm4Rs@db.internal:5432/app", safe="")
    [finding] = detector.scan(text)
    assert finding.rule == "url-password"
    assert urllib.parse.unquote(text[finding.start : finding.end]) == "Zt9vQ2xLm4Rs"


def test_hex_encoded_private_key() -> None:
    text = f"key_hex = {EC_KEY.encode().hex()}"
    [finding] = detector.scan(text)
    assert finding.rule == "private-key"
    assert finding.details["encoding"] == "hex"


DOT_ENV = (
    "AWS_ACCESS_KEY_ID=AKIAQYLPMN5HHHFPZAM2\n"
    "AWS_SECRET_ACCESS_KEY=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\n"
    f"GITHUB_TOKEN={GITHUB_PAT}\n"
).encode()
DOT_ENV_VALUES = ("AKIAQYLPMN5HHHFPZAM2", "Wj7Zk1yq9cXb2Fh3TnV8mR4sLp6dQe0uGo5aYiKx", GITHUB_PAT)
HEX_FORMS = {
    "contiguous": DOT_ENV.hex(),
    "xxd -p": "\n".join(DOT_ENV.hex()[i : i + 60] for i in range(0, 2 * len(DOT_ENV), 60)),
    "spaced bytes": DOT_ENV.hex(" "),
    "colons": DOT_ENV.hex(":").upper(),
    "xxd groups": DOT_ENV.hex(" ", 2),
    "escapes": "".join(f"\\x{b:02x}" for b in DOT_ENV),
    "C array": ", ".join(f"0x{b:02x}" for b in DOT_ENV),
}


def _printable(chunk: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)


def xxd(data: bytes) -> str:
    """``xxd``'s default output: offset, eight two-byte groups, the text column."""
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        groups = " ".join(chunk[i : i + 2].hex() for i in range(0, len(chunk), 2))
        lines.append(f"{offset:08x}: {groups:<39}  {_printable(chunk)}")
    return "\n".join(lines)


def hexdump_c(data: bytes) -> str:
    """``hexdump -C``: offset, two halves of eight bytes, the text column between bars."""
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        halves = "  ".join(chunk[i : i + 8].hex(" ") for i in range(0, len(chunk), 8))
        lines.append(f"{offset:08x}  {halves:<48}  |{_printable(chunk)}|")
    return "\n".join(lines)


HEX_FORMS["xxd"] = xxd(DOT_ENV)
HEX_FORMS["hexdump -C"] = hexdump_c(DOT_ENV)
TEXT_COLUMN_FORMS = ("xxd", "hexdump -C")


@pytest.mark.parametrize("form", sorted(HEX_FORMS))
def test_hex_encoded_env_file_in_every_dump_form(form: str) -> None:
    dump = HEX_FORMS[form]
    text = f"$ cat .env | {form}\n{dump}\n$ "
    found = {f.rule: f for f in detector.scan(text)}
    assert {"aws-access-token", "aws-secret-access-key", "github-pat"} <= set(found), form
    for finding in found.values():
        assert finding.details["encoding"] == "hex"
        assert text.index(dump) <= finding.start < finding.end <= text.index(dump) + len(dump)
        if form in TEXT_COLUMN_FORMS:
            continue  # offsets and text columns lie inside the span; checked below
        # The finding covers whole bytes of the dump: decoding it gives the value back.
        covered = text[finding.start : finding.end]
        decoded = bytes.fromhex("".join(c for c in covered.replace("0x", "").replace("\\x", "") if c in "0123456789abcdefABCDEF"))
        assert decoded.decode() in DOT_ENV.decode()
        assert len(decoded) >= 20
    # A text column (xxd, hexdump -C) shows the values cut into lines: none of it stays in clear.
    rest = text
    for finding in sorted(found.values(), key=lambda f: -f.start):
        rest = rest[: finding.start] + rest[finding.end :]
    for value in DOT_ENV_VALUES:
        assert not any(value[i : i + 6] in rest for i in range(len(value) - 6)), form


def test_hashes_and_uuids_are_hex_but_not_decoded_into_findings() -> None:
    import hashlib
    import uuid

    lines = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(200)]
    lines += [hashlib.sha512(str(i).encode()).hexdigest() for i in range(50)]
    lines += [str(uuid.UUID(int=i * 7919)) for i in range(200)]
    lines += [hashlib.sha1(str(i).encode()).digest().hex(":") for i in range(50)]
    assert detector.scan("\n".join(lines)) == []


def test_basic_auth_header_is_validated_by_decoding() -> None:
    good = "Authorization: Basic " + base64.b64encode(b"deploy:Zt9vQ2xLm4Rs").decode()
    assert [f.rule for f in detector.scan(good)] == ["http-basic-auth"]
    not_user_password = "Authorization: Basic " + base64.b64encode(bytes(range(200, 218))).decode()
    assert "http-basic-auth" not in {f.rule for f in detector.scan(not_user_password)}


def test_private_key_with_escaped_newlines_parses() -> None:
    text = json.dumps({"private_key": EC_KEY})  # JSON source as pasted: \\n inside the string
    [finding] = detector.scan(text)
    assert finding.rule == "private-key"
    assert finding.details["validated"] is True


def test_many_encoded_values_in_one_text_each_map_back_to_their_own_characters() -> None:
    # Decoded segments are scanned together; every finding must still land on its own segment.
    passwords = [f"Zt9vQ2xLm4R{i}s" for i in range(30)]
    lines = [
        "dsn=" + urllib.parse.quote(f"postgres://app:{pw}@db{i}.internal:5432/app", safe="")
        for i, pw in enumerate(passwords)
    ]
    text = "\n".join(lines)
    findings = [f for f in detector.scan(text) if f.rule == "url-password"]
    assert [urllib.parse.unquote(text[f.start : f.end]) for f in findings] == passwords


def test_secret_in_the_second_of_two_base64_blobs() -> None:
    first = base64.b64encode(b"[section]\nname = nothing to see here\n").decode()
    second = base64.b64encode(f"[auth]\ntoken = {GITHUB_PAT}\n".encode()).decode()
    text = f"a: {first}\nb: {second}\n"
    [finding] = detector.scan(text)
    assert finding.rule == "github-pat"
    assert text.index(second) <= finding.start < finding.end <= text.index(second) + len(second)
    assert GITHUB_PAT in base64.b64decode(second).decode()


def test_plus_is_a_space_but_an_escaped_plus_stays_a_plus() -> None:
    text = "q=" + urllib.parse.quote_plus("postgres://app:Zt9v+Q2xLm4Rs@db.internal:5432/app x")
    [finding] = detector.scan(text)
    assert urllib.parse.unquote_plus(text[finding.start : finding.end]) == "Zt9v+Q2xLm4Rs"


def test_secrets_in_a_jupyter_notebook_whose_quotes_are_escaped() -> None:
    # A notebook is JSON: each line of code is a string with its quotes escaped, so no rule
    # sees where a quoted value ends until the escapes are undone.
    anthropic = (
        "sk-ant-api03-natmUdjAWtGSU8po_799NksnRH9ucAUsdMlHUvTCQCyEZDz-TddJ8HyS5SUkCnD8zRA9a9SkpXz9w3QlY7Zk"
        "uvqdt7s8SAA"
    )
    source = ["import anthropic\n", f'client = anthropic.Anthropic(api_key="{anthropic}")\n',
              'headers = {"x-api-key": "9fQ2xLm4Rs8TzP1vW7yK3bN6"}\n', 'print("done")\n']
    text = json.dumps({"cells": [{"cell_type": "code", "source": source}]}, indent=1)
    found = {(f.rule, text[f.start : f.end]) for f in detector.scan(text)}
    assert ("anthropic-api-key", anthropic) in found
    assert ("generic-api-key", "9fQ2xLm4Rs8TzP1vW7yK3bN6") in found
    assert len(found) == 2


def test_escape_offsets_map_back_onto_the_escaped_text() -> None:
    # Terraform's password rule reports the value with its quotes: in the escaped text the
    # finding covers the escaped quotes too.
    text = json.dumps({"main.tf": 'resource "db" "x" {\n  password = "Zt9vQ2xLm4Rs"\n}'})
    [finding] = detector.scan(text)
    assert finding.rule == "hashicorp-tf-password"
    assert text[finding.start : finding.end] == '\\"Zt9vQ2xLm4Rs\\"'


def test_a_document_sent_as_one_json_string_is_read_with_its_newlines() -> None:
    # XML whose value sits on its own line: the rule needs the real newlines back, and the
    # escaped ones are more than 30 bytes apart (a distance hyperscan's caseless mode missed).
    text = json.dumps({"content": "<adafruitToken>\n    q8wz3kd0v7mx2pl5rt9by4hn6fc1js0a\n</adafruitToken>"})
    found = {(f.rule, text[f.start : f.end]) for f in detector.scan(text)}
    assert ("adafruit-api-key", "q8wz3kd0v7mx2pl5rt9by4hn6fc1js0a") in found
