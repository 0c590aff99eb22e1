"""A placeholder is restored only for the user whose request minted it, on every kind of vault.

Through the real proxy with proxy logins (alice and bob, both in the default tenant) and the
stand-in's echo model, which answers with the prompt as it arrived: bob, who sends alice's
placeholder, gets the placeholder back; alice gets her value. With a Redis vault shared by two
instances, alice gets her value from the instance that did not mint it, bob from neither.
"""

from __future__ import annotations

import json
import shutil
import ssl

import httpx

from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import start_proxy
from tests.test_tenants_e2e import users_file
from tests.test_vault import running_redis


def post_as(proxy, user: str, url: str, body: dict) -> httpx.Response:
    with httpx.Client(proxy=f"http://{user}:{user}-pw@127.0.0.1:{proxy.port}",
                      verify=ssl.create_default_context(cafile=str(proxy.ca_cert)), timeout=30) as client:
        return client.post(url, content=json.dumps(body), headers={"content-type": "application/json"})


def mint(proxy, user: str, provider, received) -> tuple[str, str]:
    """``user`` sends a key; the placeholder that went upstream in its place, and the key."""
    key_id = make.aws_access_key_id()
    body = {"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": f"key {key_id}"}]}
    assert post_as(proxy, user, f"{provider.base_url}/v1/messages", body).status_code == 200
    token = received[-1].json()["messages"][0]["content"].removeprefix("key ")
    assert token.startswith("[[secret:") and key_id not in received[-1].text
    return token, key_id


def echoed(proxy, user: str, provider, token: str) -> str:
    body = {"model": "echo", "max_tokens": 50, "messages": [{"role": "user", "content": f"key {token}"}]}
    response = post_as(proxy, user, f"{provider.base_url}/v1/messages", body)
    assert response.status_code == 200
    return response.json()["content"][-1]["text"]  # after the echo's thinking block


def restore_lines(proxy) -> list[dict]:
    return [line for line in proxy.audit_lines() if line["event"] == "dlp.restore"]


def test_a_file_vault_restores_only_for_the_user_who_sent_the_value(tmp_path, provider, test_ca, received):
    users = users_file(tmp_path, {"alice": [], "bob": []})
    proxy = start_proxy(tmp_path / "run", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                        extra_args=["--users-file", users, "--vault", f"file:{tmp_path / 'vault.sqlite'}"])
    try:
        token, key_id = mint(proxy, "alice", provider, received)
        assert echoed(proxy, "bob", provider, token) == f"key {token}"
        assert restore_lines(proxy) == []  # nothing of bob's was restored
        assert echoed(proxy, "alice", provider, token) == f"key {key_id}"
        [line] = restore_lines(proxy)
        assert (line["restored"], line["tenant"]) == ({"secret": 1}, "default")
    finally:
        proxy.stop()
    # The file holds only sealed values.
    assert key_id.encode() not in (tmp_path / "vault.sqlite").read_bytes()


def test_a_shared_redis_vault_restores_for_the_same_user_on_another_instance_only(tmp_path, provider, test_ca,
                                                                                   received):
    users = users_file(tmp_path, {"alice": [], "bob": []})
    with running_redis(tmp_path / "redis") as redis_url:
        instances = []
        try:
            for n in (1, 2):
                workdir = tmp_path / f"edge-{n}"
                if instances:  # the fleet shares the CA and keys
                    shutil.copytree(instances[0].confdir, workdir / "certs",
                                    ignore=shutil.ignore_patterns("llm-dlp-audit-head-*"))
                instances.append(start_proxy(
                    workdir, intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                    extra_args=["--users-file", users, "--vault", redis_url, "--instance-id", f"edge-{n}"]))
            first, second = instances
            token, key_id = mint(first, "alice", provider, received)
            assert echoed(second, "bob", provider, token) == f"key {token}"
            assert echoed(first, "bob", provider, token) == f"key {token}"
            assert echoed(second, "alice", provider, token) == f"key {key_id}"
            assert [line["restored"] for line in restore_lines(second)] == [{"secret": 1}]
            assert restore_lines(first) == []
            for running in instances:
                assert key_id not in running.audit_path.read_text()
        finally:
            for running in instances:
                running.stop()
