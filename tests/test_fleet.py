"""Scale-out on real components: HAProxy (TCP mode) in front of two llm-dlp instances.

The instances share the confdir contents (CA, value-hash key, chain key) and a Redis vault, as a
fleet does; HAProxy balances client connections between them, round robin, and takes an instance
out when its ``/readyz`` fails. The Anthropic SDK talks to HAProxy as its proxy. A placeholder
minted by one instance is restored by the other; both audit, each in its own chain; both count.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import anthropic
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import RunningProxy, free_port, start_proxy, wait_for_port
from llm_dlp.cli import main
from tests.test_vault import running_redis

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def _haproxy_config(port: int, instances: list[tuple[RunningProxy, int]]) -> str:
    servers = "\n".join(
        f"    server edge-{n} 127.0.0.1:{proxy.port} check port {admin} inter 300ms fall 2 rise 2"
        for n, (proxy, admin) in enumerate(instances, 1)
    )
    return f"""global
    maxconn 256
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
frontend llm_dlp
    bind 127.0.0.1:{port}
    default_backend instances
backend instances
    balance roundrobin
    option httpchk GET /readyz
{servers}
"""


def _requests(admin: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{admin}/metrics").text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "llm_dlp_requests_total")


@pytest.fixture
def fleet(tmp_path, provider, test_ca):
    if not Path(HAPROXY).exists():
        pytest.skip("haproxy is not installed (scripts/test-services.sh installs it)")
    with running_redis(tmp_path / "redis") as redis_url:
        instances: list[tuple[RunningProxy, int]] = []
        haproxy = None
        try:
            for n in (1, 2):
                workdir = tmp_path / f"edge-{n}"
                if instances:  # the second instance gets the first one's CA and keys, as a fleet ships them
                    shutil.copytree(instances[0][0].confdir, workdir / "certs",
                                    ignore=shutil.ignore_patterns("llm-dlp-audit-head-*"))
                admin = free_port()
                instances.append((start_proxy(
                    workdir, intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                    extra_args=["--vault", redis_url, "--instance-id", f"edge-{n}", "--quiet",
                                "--admin-listen", f"127.0.0.1:{admin}"],
                ), admin))
            port = free_port()
            config = tmp_path / "haproxy.cfg"
            config.write_text(_haproxy_config(port, instances))
            log = tmp_path / "haproxy.log"
            with open(log, "w") as handle:
                haproxy = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=handle, stderr=subprocess.STDOUT)
            wait_for_port(port, haproxy, log, timeout=20)
            yield f"http://127.0.0.1:{port}", instances
        finally:
            if haproxy is not None:
                haproxy.terminate()
                haproxy.wait(timeout=10)
            for running, _ in instances:
                running.stop()


def _client(balancer: str, proxy: RunningProxy, provider) -> anthropic.Anthropic:
    # A client per turn: a new connection, which HAProxy hands to the next instance.
    http_client = anthropic.DefaultHttpxClient(proxy=balancer, verify=proxy.ssl_context())
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=provider.base_url, max_retries=0, http_client=http_client)


def _decisions(running: RunningProxy) -> list[dict]:
    return [line for line in running.audit_lines() if line["event"] == "dlp.decision"]


def test_a_placeholder_minted_by_one_instance_is_restored_by_the_other(fleet, provider, received):
    balancer, instances = fleet
    (a, admin_a), (b, admin_b) = instances
    key_id = make.aws_access_key_id()
    prompt = f"deploy with {key_id} today"

    with _client(balancer, a, provider) as client:
        client.messages.create(model="claude-test", max_tokens=10, messages=[{"role": "user", "content": prompt}])
    redacted = received[0].json()["messages"][0]["content"]
    assert key_id not in redacted and "[[secret:" in redacted
    minted_by = [running for running, _ in instances if _decisions(running)]
    assert len(minted_by) == 1
    other = b if minted_by[0] is a else a

    # The next turns carry only the placeholder; round robin sends one of two to the other instance.
    answers = []
    for _ in range(2):
        with _client(balancer, a, provider) as client:
            message = client.messages.create(model="echo", max_tokens=10, messages=[{"role": "user", "content": redacted}])
            answers.append("".join(block.text for block in message.content if block.type == "text"))
    assert answers == [prompt, prompt]
    assert all(key_id not in item.text for item in received)
    restores = [line for line in other.audit_lines() if line["event"] == "dlp.restore"]
    assert restores and sum(sum(line["restored"].values()) for line in restores) >= 1

    # Both instances audited and counted; their logs verify as two chains and merge.
    assert len(_decisions(a)) + len(_decisions(b)) == 3 and _decisions(a) and _decisions(b)
    assert _requests(admin_a) == len(_decisions(a)) and _requests(admin_b) == len(_decisions(b))
    assert {line["instance"] for line in a.audit_lines()} == {"edge-1"}
    assert {line["instance"] for line in b.audit_lines()} == {"edge-2"}
    assert main(["audit", "verify", "--json", str(a.audit_path), str(b.audit_path), "--confdir", str(a.confdir)]) == 0
    # The vault is shared: both instances count the one entry, though only one minted it.
    for admin in (admin_a, admin_b):
        text = httpx.get(f"http://127.0.0.1:{admin}/metrics").text
        assert [s.value for f in text_string_to_metric_families(text) for s in f.samples
                if s.name == "llm_dlp_vault_entries"] == [1.0]


def test_an_instance_that_is_not_ready_is_taken_out_of_rotation(fleet, provider, received):
    balancer, instances = fleet
    (a, _), (b, _) = instances
    # a's working directory (its audit log, and its confdir with it) goes away; HAProxy's /readyz
    # check takes a out of rotation.
    moved = a.workdir.with_name("edge-1-moved")
    shutil.move(a.workdir, moved)
    a.workdir.write_text("not a directory\n")
    try:
        time.sleep(1.5)  # two failed checks 300 ms apart, with margin; not an assertion on time
        before = len(_decisions(b))
        for _ in range(4):
            with _client(balancer, b, provider) as client:
                client.messages.create(model="claude-test", max_tokens=10, messages=[
                    {"role": "user", "content": "hello"}])
        assert len(_decisions(b)) == before + 4  # every request went to the ready instance
    finally:
        a.workdir.unlink()
        shutil.move(moved, a.workdir)
    assert json.loads(httpx.get(f"http://127.0.0.1:{instances[0][1]}/readyz").text)["ready"]


def test_an_instance_killed_mid_run_leaves_no_request_unscanned_or_unaudited(fleet, provider, received):
    balancer, instances = fleet
    (a, _), (b, _) = instances
    secrets = [make.aws_access_key_id() for _ in range(8)]
    answered = []
    for n, secret in enumerate(secrets):
        if n == 3:
            a.process.kill()  # no goodbye: HAProxy finds out from refused connections and its checks
            a.process.wait()
        http_client = anthropic.DefaultHttpxClient(proxy=balancer, verify=b.ssl_context())
        client = anthropic.Anthropic(api_key="sk-ant-test", base_url=provider.base_url, max_retries=3,
                                     http_client=http_client)
        with client:
            client.messages.create(model="claude-test", max_tokens=5,
                                   messages=[{"role": "user", "content": f"n={n} key {secret}"}])
        answered.append(secret)
    assert answered == secrets  # every request answered, after retries where a's connection broke
    assert all(secret not in item.text for item in received for secret in secrets)  # none unscanned
    decisions = _decisions(a) + _decisions(b)
    # Each answered request was decided and audited by the instance that forwarded it (a retry
    # after a broken connection is a request of its own), and a's lines up to its death are intact.
    assert len(decisions) >= len(secrets) and len(received) <= len(decisions)
    assert len(_decisions(b)) >= len(secrets) - 3
    assert main(["audit", "verify", str(a.audit_path), str(b.audit_path), "--confdir", str(a.confdir)]) == 0


def test_a_conversation_balanced_across_instances_records_its_finding_once(fleet, provider, received):
    # The audit's memory of recorded findings lives in the shared Redis, beside the vault: turns
    # of one conversation that land on alternate instances list the key once between them.
    balancer, instances = fleet
    (a, _), (b, _) = instances
    key_id = make.aws_access_key_id()
    history = [{"role": "user", "content": f"deploy with {key_id} today"}]
    for turn in range(4):
        with _client(balancer, a, provider) as client:
            client.messages.create(model="claude-test", max_tokens=10, messages=history)
        history += [{"role": "assistant", "content": f"step {turn} done"}, {"role": "user", "content": "go on"}]
    decisions = _decisions(a) + _decisions(b)
    assert len(decisions) == 4 and _decisions(a) and _decisions(b)  # round robin used both
    assert all(line["decision"] == "redact" for line in decisions)
    listed = [f for line in decisions for f in line["findings"] if f["kind"] == "secret"]
    assert len(listed) == 1
    assert sorted(line["findings_already_recorded"] for line in decisions) == [0, 1, 1, 1]
    assert all(key_id not in item.text for item in received)
    # With a Redis vault the memory is kept there only, not in each instance's confdir.
    assert not list(a.confdir.glob("llm-dlp-recorded.sqlite*")) and not list(b.confdir.glob("llm-dlp-recorded.sqlite*"))
