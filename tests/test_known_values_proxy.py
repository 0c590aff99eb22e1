"""The real proxy finds a value it redacted before, after a restart and on another instance.

A key redacted by a keyword-gated rule is restored into the model's answer; the client sends it
back in the next turn's history where no keyword is near it. A restarted proxy (the same confdir:
``llm-dlp-known.sqlite``) and another instance sharing the Redis vault still redact it, to the
same placeholder, so each turn's upstream messages begin with the previous turn's, byte for byte
(the provider's prompt cache holds). The stores hold sealed entries only. A damaged store file
does not stop a request: it is forwarded, scanned by every detector, and a warning is logged.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import redis

from detectors.secrets import SecretDetector
from llm_dlp.known_stores import FILE_NAME, REDIS_PREFIX
from llm_dlp.known_values import SYNC_INTERVAL_SECONDS
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import RunningProxy, start_proxy
from tests.test_vault import running_redis
from tests.test_withhold_proxy import messages_bytes, post

TOKEN = re.compile(r"\[\[secret:aws-secret-access-key:[0-9a-f]+\]\]")


def keyed(secret: str) -> str:
    return f"aws_secret_access_key = {secret}"


def bare(secret: str) -> str:
    """How a restored answer carries the key back: no keyword near it, so the rule does not fire."""
    text = f"I replaced it with {secret} as you said"
    assert not [f for f in SecretDetector().scan(text) if f.rule == "aws-secret-access-key"]
    return text


def turn(proxy: RunningProxy, provider, history: list[dict]) -> None:
    post(proxy, provider, {"model": "claude-test", "max_tokens": 20, "stream": False, "messages": history})


def raw_files(*directories: Path) -> bytes:
    return b"".join(path.read_bytes() for directory in directories for path in directory.rglob("*") if path.is_file())


def known_value_findings(proxy: RunningProxy) -> list[dict]:
    return [f for line in proxy.decisions() for f in line["findings"] if f["detector"] == "known_values"]


def test_a_restarted_proxy_redacts_a_value_it_redacted_before_to_the_same_bytes(tmp_path, provider, received, test_ca):
    secret = make.aws_secret_access_key()
    history = [{"role": "user", "content": keyed(secret)}]

    def run(history: list[dict]) -> RunningProxy:
        """A proxy started on the same working directory (confdir, audit log) for one turn."""
        proxy = start_proxy(tmp_path, intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                            extra_args=["--quiet"])
        try:
            turn(proxy, provider, history)
        finally:
            proxy.stop()
        return proxy

    run(history)
    # The answer was restored; the client sends the key back bare, to a new proxy process.
    history += [{"role": "assistant", "content": bare(secret)}, {"role": "user", "content": "thanks"}]
    proxy = run(history)

    first, second = (item.body for item in received)
    [token] = TOKEN.findall(json.loads(first)["messages"][0]["content"])
    assert json.loads(second)["messages"][1]["content"] == f"I replaced it with {token} as you said"
    assert messages_bytes(second).startswith(messages_bytes(first))
    assert all(secret not in item.text for item in received)
    assert [f["location"] for f in known_value_findings(proxy)] == ["$.messages[1].content"]
    store = proxy.confdir / FILE_NAME
    assert store.exists() and secret.encode() not in raw_files(proxy.workdir)

    # The store file is damaged: the next request is still forwarded, every detector scans it.
    for leftover in proxy.confdir.glob(FILE_NAME + "-*"):
        leftover.unlink()
    store.write_bytes(b"\x00damaged\x00" * 512)
    other = make.aws_secret_access_key()
    proxy = run([{"role": "user", "content": keyed(other)}])
    assert len(received) == 3
    assert TOKEN.search(json.loads(received[2].body)["messages"][0]["content"])
    assert other not in received[2].text
    assert "cannot read the store of values redacted earlier" in proxy.log_path.read_text()
    assert proxy.decisions()[-1]["decision"] == "redact"


def test_two_instances_sharing_a_redis_vault_redact_each_other_s_values_identically(tmp_path, provider, received, test_ca):
    with running_redis(tmp_path / "redis") as redis_url:
        instances: list[RunningProxy] = []
        try:
            for name in ("edge-1", "edge-2"):
                workdir = tmp_path / name
                if instances:  # the second instance gets the first one's CA and keys, as a fleet ships them
                    shutil.copytree(instances[0].confdir, workdir / "certs",
                                    ignore=shutil.ignore_patterns("llm-dlp-audit-head-*"))
                instances.append(start_proxy(workdir, intercept=[f"localhost:{provider.port}"],
                                             upstream_ca=test_ca.cert_path,
                                             extra_args=["--vault", redis_url, "--instance-id", name, "--quiet"]))
            a, b = instances
            first, second = make.aws_secret_access_key(), make.aws_secret_access_key()
            history = [{"role": "user", "content": keyed(first)}]
            turn(a, provider, history)
            # b checks the shared store at most once a second per tenant: the next turn comes later.
            time.sleep(SYNC_INTERVAL_SECONDS)
            history += [{"role": "assistant", "content": bare(first)}, {"role": "user", "content": keyed(second)}]
            turn(b, provider, history)
            time.sleep(SYNC_INTERVAL_SECONDS)
            history += [{"role": "assistant", "content": bare(second)}, {"role": "user", "content": "thanks"}]
            turn(a, provider, history)

            bodies = [item.body for item in received]
            messages = [json.loads(body)["messages"] for body in bodies]
            [token_first] = TOKEN.findall(messages[0][0]["content"])
            [token_second] = TOKEN.findall(messages[1][2]["content"])
            assert messages[1][1]["content"] == messages[2][1]["content"] == f"I replaced it with {token_first} as you said"
            assert messages[2][3]["content"] == f"I replaced it with {token_second} as you said"
            for earlier, later in zip(bodies, bodies[1:]):
                assert messages_bytes(later).startswith(messages_bytes(earlier))
            assert all(first not in item.text and second not in item.text for item in received)
            assert [f["location"] for f in known_value_findings(b)] == ["$.messages[1].content"]
            assert "$.messages[3].content" in [f["location"] for f in known_value_findings(a)]

            # Redis holds the values sealed, and neither confdir holds them at all.
            client = redis.Redis.from_url(redis_url)
            assert client.xlen(REDIS_PREFIX + "default") >= 2
            dumped = b"".join(client.dump(key) for key in client.scan_iter())
            assert first.encode() not in dumped and second.encode() not in dumped
            on_disk = raw_files(a.workdir / "certs", b.workdir / "certs")
            assert first.encode() not in on_disk and second.encode() not in on_disk
            assert not (a.confdir / FILE_NAME).exists()
        finally:
            for running in instances:
                running.stop()
