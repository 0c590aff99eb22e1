"""Tenants through the real proxy: identity, destinations, reroute, monitor mode, reload, shadow."""

from __future__ import annotations

import json
import ssl
import time

import bcrypt
import httpx
import pytest

from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import copy_policies, start_proxy
from llm_dlp.testing.standin import StandInProvider

DEFAULT = """
rules:
  - kind: secret
    action: redact
"""
FINANCE = """
description: Finance may not send anything to this provider, and blocks every secret.
members:
  groups: [finance]
destinations:
  deny: [api.finance-denied.example, "localhost"]
rules:
  - kind: secret
    action: block
"""
ENGINEERING = """
extends: default
members:
  users: [alice]
rules:
  - kind: secret
    rule: github-pat
    action: block
"""
PILOT = """
mode: monitor
members:
  users: [pat]
rules:
  - kind: secret
    action: block
"""


def users_file(tmp_path, users: dict[str, list[str]]) -> str:
    lines = ["users:"]
    for name, groups in users.items():
        hashed = bcrypt.hashpw(f"{name}-pw".encode(), bcrypt.gensalt(4)).decode()
        lines += [f"  {name}:", f"    password: '{hashed}'", f"    groups: {json.dumps(groups)}"]
    path = tmp_path / "users.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def second_provider(test_ca):
    server = StandInProvider(test_ca, "selfhosted")
    yield server
    server.close()


@pytest.fixture(scope="module")
def tenant_proxy(tmp_path_factory, provider, second_provider, test_ca):
    tmp = tmp_path_factory.mktemp("tenants")
    rerouted = f"""
members:
  users: [rita]
destinations:
  reroute:
    custom: https://localhost:{second_provider.port}
rules:
  - kind: secret
    action: redact
"""
    policies = copy_policies(tmp / "policies", default=DEFAULT, finance=FINANCE, engineering=ENGINEERING,
                             pilot=PILOT, selfhosted=rerouted)
    shadow = copy_policies(tmp / "shadow", default=DEFAULT.replace("redact", "block"), finance=FINANCE,
                           engineering=ENGINEERING, pilot=PILOT, selfhosted=rerouted)
    users = users_file(tmp, {"alice": [], "fred": ["finance"], "pat": [], "rita": [], "dora": []})  # dora: default
    running = start_proxy(
        tmp / "run", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path, policy_dir=policies,
        extra_args=["--users-file", users, "--shadow-policy-dir", str(shadow), "--reload-interval", "0.3"],
    )
    running.policies = policies
    yield running
    running.stop()


def post_as(proxy, user: str | None, url: str, content: str) -> httpx.Response:
    credentials = f"{user}:{user}-pw@" if user else ""
    with httpx.Client(proxy=f"http://{credentials}127.0.0.1:{proxy.port}", verify=ssl.create_default_context(
            cafile=str(proxy.ca_cert)), timeout=30) as client:
        return client.post(url, content=content, headers={"content-type": "application/json"})


def chat(text: str) -> str:
    return json.dumps({"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": text}]})


def test_two_users_get_their_own_tenants_decisions(tenant_proxy, provider, received):
    github = make.github_pat()
    body = chat(f"token {github}")
    anonymous = post_as(tenant_proxy, None, f"{provider.base_url}/v1/messages", body)
    alice = post_as(tenant_proxy, "alice", f"{provider.base_url}/v1/messages", body)
    assert anonymous.status_code == 200 and alice.status_code == 403
    assert "github-pat" in alice.json()["error"]["message"]
    assert len(received) == 1 and github not in received[0].text
    lines = tenant_proxy.decisions()[-2:]
    assert [(line["tenant"], line["user"], line["decision"]) for line in lines] == [
        ("default", None, "redact"), ("engineering", "alice", "block")]


def test_a_restored_value_goes_back_only_to_the_user_it_came_from(tenant_proxy, provider, received):
    key_id = make.aws_access_key_id()
    assert post_as(tenant_proxy, None, f"{provider.base_url}/v1/messages", chat(f"key {key_id}")).status_code == 200
    token = received[0].json()["messages"][0]["content"].removeprefix("key ")
    assert token.startswith("[[secret:") and key_id not in token

    def echoed(user: str | None) -> str:
        body = json.dumps({"model": "echo", "max_tokens": 50, "messages": [{"role": "user", "content": f"key {token}"}]})
        response = post_as(tenant_proxy, user, f"{provider.base_url}/v1/messages", body)
        assert response.status_code == 200
        return response.json()["content"][-1]["text"]  # after the echo's thinking block

    # dora is in the same (default) tenant but is not who sent the key: the placeholder stays.
    assert echoed("dora") == f"key {token}"
    assert echoed(None) == f"key {key_id}"  # the anonymous client at the same address gets it back


def test_engineering_extends_default_so_other_secrets_are_still_redacted(tenant_proxy, provider, received):
    key_id = make.aws_access_key_id()
    response = post_as(tenant_proxy, "alice", f"{provider.base_url}/v1/messages", chat(f"key {key_id}"))
    assert response.status_code == 200
    assert key_id not in received[0].text and "[[secret:" in received[0].text


def test_a_denied_destination_is_blocked_for_that_tenant_only(tenant_proxy, provider, received):
    response = post_as(tenant_proxy, "fred", f"{provider.base_url}/v1/messages", chat("hello"))
    assert response.status_code == 403
    assert "denied" in response.json()["error"]["message"]
    assert received == []
    line = tenant_proxy.decisions()[-1]
    assert (line["tenant"], line["groups"], line["decision"]) == ("finance", ["finance"], "block")
    assert post_as(tenant_proxy, None, f"{provider.base_url}/v1/messages", chat("hello")).status_code == 200


def test_reroute_sends_the_request_to_the_self_hosted_endpoint(tenant_proxy, provider, second_provider, received):
    second_provider.clear()
    key_id = make.aws_access_key_id()
    response = post_as(tenant_proxy, "rita", f"{provider.base_url}/v1/messages", chat(f"key {key_id}"))
    assert response.status_code == 200
    assert received == []  # nothing reached the original provider
    assert len(second_provider.received) == 1
    arrived = second_provider.received[0]
    assert key_id not in arrived.text and "[[secret:" in arrived.text
    assert tenant_proxy.decisions()[-1]["reroute"] == f"https://localhost:{second_provider.port}"


def test_monitor_mode_forwards_unchanged_and_audits_would_block(tenant_proxy, provider, received):
    key_id = make.aws_access_key_id()
    response = post_as(tenant_proxy, "pat", f"{provider.base_url}/v1/messages", chat(f"key {key_id}"))
    assert response.status_code == 200
    assert key_id in received[0].text  # monitor mode changes nothing...
    line = tenant_proxy.decisions()[-1]
    assert (line["tenant"], line["decision"], line["mode"]) == ("pilot", "would_block", "monitor")  # ...but says so


def test_shadow_policy_differences_are_audited(tenant_proxy, provider, received):
    post_as(tenant_proxy, None, f"{provider.base_url}/v1/messages", chat(f"key {make.aws_access_key_id()}"))
    line = tenant_proxy.decisions()[-1]
    assert line["decision"] == "redact"
    assert line["shadow"]["decision"] == "block" and line["shadow"]["tenant"] == "default"
    post_as(tenant_proxy, None, f"{provider.base_url}/v1/messages", chat("nothing to see"))
    assert "shadow" not in tenant_proxy.decisions()[-1]  # same decision: no shadow record


def test_wrong_password_is_refused_not_downgraded(tenant_proxy, provider, received):
    with httpx.Client(proxy=f"http://alice:wrong@127.0.0.1:{tenant_proxy.port}",
                      verify=ssl.create_default_context(cafile=str(tenant_proxy.ca_cert)), timeout=30) as client:
        with pytest.raises(httpx.ProxyError, match="407"):
            client.post(f"{provider.base_url}/v1/messages", content=chat("hi"))
    assert received == []


def test_a_bad_hot_reload_keeps_the_old_policy_and_a_good_one_applies(tenant_proxy, provider, received):
    default = tenant_proxy.policies / "default.yaml"
    original = default.read_text()
    key_id = make.aws_access_key_id()
    try:
        default.write_text(original + "  - kind: secret\n    acton: block\n")
        _wait_for_log(tenant_proxy, "policy reload rejected")
        assert "default.yaml:" in tenant_proxy.log_path.read_text() and "acton" in tenant_proxy.log_path.read_text()
        response = post_as(tenant_proxy, None, f"{provider.base_url}/v1/messages", chat(f"key {key_id}"))
        assert response.status_code == 200 and "[[secret:" in received[-1].text  # old policy in force

        default.write_text(original.replace("redact", "block"))
        _wait_for_log(tenant_proxy, "policies reloaded")
        response = post_as(tenant_proxy, None, f"{provider.base_url}/v1/messages", chat(f"key {key_id}"))
        assert response.status_code == 403
    finally:
        default.write_text(original)
        _wait_for_log(tenant_proxy, "policies reloaded", occurrences=2)


def _wait_for_log(proxy, words: str, occurrences: int = 1, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proxy.log_path.read_text().count(words) >= occurrences:
            return
        time.sleep(0.1)
    raise AssertionError(f"{words!r} not logged:\n{proxy.log_path.read_text()}")


def test_unauthenticated_clients_can_be_refused(tmp_path, provider, test_ca, received):
    running = start_proxy(tmp_path / "run", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                          extra_args=["--users-file", users_file(tmp_path, {"alice": []}), "--unauthenticated", "reject"])
    try:
        with pytest.raises(httpx.ProxyError, match="407"):
            post_as(running, None, f"{provider.base_url}/v1/messages", chat("hi"))
        assert post_as(running, "alice", f"{provider.base_url}/v1/messages", chat("hi")).status_code == 200
    finally:
        running.stop()
