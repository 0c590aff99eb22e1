"""Evasions through the real proxy: invisible characters and lookalikes inside a value, a hex dump,
a value split across blocks or messages. The stand-in provider must receive none of the values in
any form (as sent, folded to ASCII, JSON-escaped, hex), and no audit or log line may hold one."""

from __future__ import annotations

import json

import pytest

from llm_dlp.testing import secrets_factory as make
from tests.detectors.test_secrets_encodings import xxd

CYRILLIC = str.maketrans({"A": "\u0410", "K": "\u039a", "I": "\u0406", "p": "\u0440", "o": "\u043e", "e": "\u0435"})


def forms(value: str) -> set[str]:
    """Every spelling of ``value`` that would still leak it."""
    plain = value.translate({0x200B: None, 0x2060: None, 0xAD: None}).translate(
        {ord(v): k for k, v in {"A": "\u0410", "K": "\u039a", "I": "\u0406", "p": "\u0440", "o": "\u043e", "e": "\u0435"}.items()})
    plain = "".join(chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c for c in plain)
    spellings = {value, plain, json.dumps(value)[1:-1], json.dumps(plain)[1:-1]}
    for text in (value, plain):
        raw = text.encode()
        spellings |= {raw.hex(), raw.hex().upper(), raw.hex(" "), raw.hex(":")}
    return spellings


def send(proxy, provider, path: str, body: dict):
    with proxy.client() as client:
        return client.post(f"{provider.base_url}{path}", json=body,
                           headers={"x-api-key": "sk-ant-test", "authorization": "Bearer test",
                                    "anthropic-version": "2023-06-01"})


def assert_never_leaked(proxy, received, secrets: list[str], pieces: int = 0) -> None:
    """No form of any secret upstream or in a log; with ``pieces``, no run of that many of its
    characters either (a dump's text column shows a value cut into lines)."""
    upstream = b"".join(r.body for r in received).decode("utf-8", "replace")
    audit = proxy.audit_path.read_text() if proxy.audit_path.exists() else ""
    log = proxy.log_path.read_text()
    for secret in secrets:
        for form in forms(secret):
            assert form not in upstream, "reached the provider"
            assert form not in audit, "written to the audit log"
            assert form not in log, "written to the proxy log"
        for i in range(len(secret) - pieces + 1 if pieces else 0):
            assert secret[i : i + pieces] not in upstream, "part of it reached the provider"


def messages(*texts: str) -> dict:
    return {"model": "claude-test", "max_tokens": 10,
            "messages": [{"role": "user", "content": [{"type": "text", "text": t} for t in texts]}]}


def test_zero_width_and_lookalikes_inside_tokens(proxy, provider, received) -> None:
    key, token = make.aws_access_key_id(), make.github_pat()
    hidden_key = key[:4] + "\u200b" + key[4:12] + "\u2060" + key[12:]
    hidden_token = token.translate(CYRILLIC)
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in make.aws_access_key_id())
    answer = send(proxy, provider, "/v1/messages", messages(
        f"aws_access_key_id={hidden_key}\nGITHUB_TOKEN={hidden_token}\nsecond key {fullwidth}\n"))
    assert answer.status_code == 200
    assert len(received) == 1 and "[[secret:aws-access-token:" in received[0].text
    assert_never_leaked(proxy, received, [hidden_key, hidden_token, fullwidth, key, token])


def test_zero_width_inside_an_email_address_and_a_mobile_number(proxy, provider, received) -> None:
    # Personal data is read as folded text too: the e-mail address and the mainland mobile
    # number are found through the zero-width spaces and redacted with the spaces inside them.
    email = "marta.kowal\u200bska@exam\u200bple-mail.com"
    mobile = "138\u200b1234\u200b5678"
    answer = send(proxy, provider, "/v1/messages", messages(
        f"Please e-mail the invoice to {email} and text the courier on {mobile} (手机) when it ships."))
    assert answer.status_code == 200
    assert len(received) == 1
    sent = received[0].json()["messages"][0]["content"][0]["text"]
    assert "[[pii:EMAIL_ADDRESS:" in sent and "[[pii:CN_MOBILE:" in sent
    assert "\u200b" not in sent  # the invisible characters inside each value went with it
    assert_never_leaked(proxy, received, [email, mobile, "marta.kowalska", "13812345678", "1234\u200b5678"])


def test_hex_encoded_env_file(proxy, provider, received) -> None:
    key, secret, token = make.aws_access_key_id(), make.aws_secret_access_key(), make.github_pat()
    env = f"AWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={secret}\nGITHUB_TOKEN={token}\n".encode()
    body = {"model": "claude-test", "max_tokens": 10, "messages": [
        {"role": "user", "content": "what is in this file?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "xxd -p .env"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
            {"type": "text", "text": "\n".join(env.hex()[i:i + 60] for i in range(0, 2 * len(env), 60))},
            {"type": "text", "text": env.hex(" ")},
            {"type": "text", "text": xxd(env)}]}]}]}
    answer = send(proxy, provider, "/v1/messages", body)
    assert answer.status_code == 200 and len(received) == 1
    assert_never_leaked(proxy, received, [key, secret, token], pieces=8)


def test_values_split_across_blocks_and_messages(proxy, provider, received) -> None:
    key, token = make.aws_access_key_id(), make.github_pat()
    body = {"model": "claude-test", "max_tokens": 10, "messages": [
        {"role": "user", "content": [{"type": "text", "text": f"key {key[:7]}"}, {"type": "text", "text": f"{key[7:]} ok"}]},
        {"role": "assistant", "content": "noted"},
        {"role": "user", "content": f"token {token[:15]}"},
        {"role": "user", "content": f"{token[15:]} done"},
    ]}
    answer = send(proxy, provider, "/v1/messages", body)
    assert answer.status_code == 200 and len(received) == 1
    assert_never_leaked(proxy, received, [key, token, key[:7], key[7:], token[:15], token[15:]])


def test_openai_content_parts_split(proxy, provider, received) -> None:
    key = make.openai_api_key()
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": [
        {"type": "text", "text": f"use {key[:40]}"}, {"type": "text", "text": key[40:90]}, {"type": "text", "text": f"{key[90:]} thanks"}]}]}
    answer = send(proxy, provider, "/v1/chat/completions", body)
    assert answer.status_code == 200 and len(received) == 1
    assert_never_leaked(proxy, received, [key, key[:40], key[40:90], key[90:]])


@pytest.mark.parametrize("where", ["blocks", "messages"])
def test_pem_key_split_inside_its_base64_body(proxy, provider, received, where: str) -> None:
    pem = make.private_key_pem()
    cut = pem.index("\n", len(pem) // 2) + 25
    first, second = pem[:cut], pem[cut:]
    if where == "blocks":
        body = messages(f"key part one:\n{first}", f"{second}\nthat was it")
    else:
        body = {"model": "claude-test", "max_tokens": 10, "messages": [
            {"role": "user", "content": f"key part one:\n{first}"}, {"role": "user", "content": f"{second}\nthat was it"}]}
    answer = send(proxy, provider, "/v1/messages", body)
    assert answer.status_code in (200, 403)
    body_lines = [line for line in pem.splitlines()[1:-1] if len(line) > 20]
    assert_never_leaked(proxy, received, [pem, first, second, *body_lines])
