"""deploy/: the Compose file and the Kubernetes manifests against their real schemas, offline, and
against the code they deploy.

Schemas: ``check-jsonschema`` validates docker-compose.yml with the Compose specification's JSON
schema it ships (``vendor.compose-spec``); ``kubernetes-validate`` validates every manifest with
the Kubernetes API's OpenAPI schemas it ships, strict (an unknown field is an error). Both run
with the proxy variables pointed at a closed port, so nothing is fetched. Agreement with the
code: the image's entry command plus each instance's arguments parse as ``llm-dlp run`` and give
the intended configuration; ports, probe paths, secret keys, policy files and HAProxy's servers
match what the proxy serves, what ``llm-dlp init`` creates and what the Compose file declares.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from llm_dlp.admin import AdminApp, parse_listen
from llm_dlp.cli import main
from llm_dlp.metrics import Metrics

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "deploy" / "compose" / "docker-compose.yml"
HAPROXY_CFG = REPO / "deploy" / "compose" / "haproxy.cfg"
KUBERNETES = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.31.0"  # a release every supported cluster still serves these API versions on
OFFLINE = {**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "NO_PROXY": ""}


def _manifests() -> list[tuple[str, dict]]:
    return [(path.name, doc) for path in sorted(KUBERNETES.glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def _kind(kind: str, name: str) -> dict:
    return next(doc for _, doc in _manifests() if doc["kind"] == kind and doc["metadata"]["name"] == name)


def _entrypoint() -> list[str]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    return json.loads(re.search(r"^ENTRYPOINT (\[.*\])", text, re.MULTILINE).group(1))


def _run_config(argv: list[str]):
    """What ``llm-dlp run`` makes of these arguments (the proxy itself is not started)."""
    assert argv[:2] == ["llm-dlp", "run"]
    seen = []
    assert main(argv[1:], serve=seen.append) == 0, argv
    return seen[0]


# -- the schemas ---------------------------------------------------------------------------------

def _check_compose(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True, env=OFFLINE, timeout=120)


def test_the_compose_file_is_valid_against_the_compose_spec():
    result = _check_compose(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_check_rejects_what_the_spec_forbids(tmp_path):
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["redis"]["restart_policy"] = "always"  # not a service attribute
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = _check_compose(path)
    assert result.returncode != 0 and "restart_policy" in result.stdout + result.stderr


@pytest.mark.parametrize("name,doc", _manifests(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_each_kubernetes_manifest_is_valid_against_the_api_schema(name, doc):
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_kubernetes_check_rejects_an_unknown_field_and_a_wrong_type():
    deployment = _kind("Deployment", "llm-dlp")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({**deployment, "spec": {**deployment["spec"], "replicaz": 2}},
                                     KUBERNETES_VERSION, strict=True)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({**deployment, "spec": {**deployment["spec"], "replicas": "two"}},
                                     KUBERNETES_VERSION, strict=True)


def test_every_kind_the_issue_asks_for_is_there():
    kinds = {doc["kind"] for _, doc in _manifests()}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "HorizontalPodAutoscaler"} <= kinds
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"haproxy", "redis", "llm-dlp-1", "llm-dlp-2"} <= set(services)


# -- agreement with the code ---------------------------------------------------------------------

def test_the_image_entry_command_parses_and_listens_where_the_image_says():
    config = _run_config(_entrypoint())
    exposed = re.search(r"^EXPOSE (\d+)", (REPO / "Dockerfile").read_text(), re.MULTILINE).group(1)
    assert (config.listen_host, config.listen_port) == ("0.0.0.0", int(exposed))
    assert str(config.confdir) == "/data/certs"


def test_compose_instances_run_with_the_intended_configuration(tmp_path):
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    instances = {name: s for name, s in services.items() if name.startswith("llm-dlp-")}
    ids = set()
    for name, service in instances.items():
        config = _run_config(_entrypoint() + service["command"])
        assert config.vault == "redis://redis:6379/0" and "redis" in services
        assert parse_listen(config.admin_listen)[1] == 9464
        assert config.audit_log.startswith("/data/audit/")
        ids.add((config.instance_id, config.audit_log))
        healthcheck = " ".join(service["healthcheck"]["test"])
        assert f":{parse_listen(config.admin_listen)[1]}/readyz" in healthcheck
    assert len(ids) == len(instances) == len({i for i, _ in ids})  # an instance id and a log of its own each
    init = services["init"]["entrypoint"]
    assert init[:2] == ["llm-dlp", "init"] and "/data/certs" in init
    # The init service's own arguments, run for real into a scratch directory in place of the volume.
    assert main([a.replace("/data/certs", str(tmp_path / "certs")) for a in init[1:]]) == 0
    assert (tmp_path / "certs" / "mitmproxy-ca.pem").is_file()
    assert services["init"]["volumes"][0].endswith(":" + str(_run_config(_entrypoint()).confdir))


def test_haproxy_config_matches_the_compose_instances_and_admin_port():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    text = HAPROXY_CFG.read_text()
    servers = re.findall(r"^\s*server (\S+) (\S+):(\d+)", text, re.MULTILINE)
    assert {name for name, _, _ in servers} == {n for n in services if n.startswith("llm-dlp-")}
    assert all(host == name and int(port) == _run_config(_entrypoint()).listen_port for name, host, port in servers)
    assert re.search(r"^\s*mode tcp$", text, re.MULTILINE)
    assert "option httpchk GET /readyz" in text and "check port 9464" in text
    published = services["haproxy"]["ports"][0].split(":")
    assert re.search(rf"^\s*bind :{published[-1]}$", text, re.MULTILINE)
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        pytest.skip("haproxy is not installed (scripts/test-services.sh installs it): syntax not checked")
    result = subprocess.run([haproxy, "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_pods_run_with_the_intended_configuration():
    deployment = _kind("Deployment", "llm-dlp")
    pod = deployment["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "llm-dlp")
    # Kubernetes expands $(POD_NAME) in args from the container's env.
    assert any(e["name"] == "POD_NAME" and e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
               for e in container["env"])
    args = [a.replace("$(POD_NAME)", "llm-dlp-7c9f-abcde") for a in container["args"]]
    config = _run_config(_entrypoint() + args)
    assert config.instance_id == "llm-dlp-7c9f-abcde" and config.audit_log == "/data/audit/llm-dlp-7c9f-abcde.jsonl"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"proxy": config.listen_port, "admin": parse_listen(config.admin_listen)[1]}
    redis_service = _kind("Service", "llm-dlp-redis")
    assert config.vault == f"redis://{redis_service['metadata']['name']}:{redis_service['spec']['ports'][0]['port']}/0"

    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["certs"] == str(config.confdir) and mounts["policies"] == str(config.policy_dir)
    assert Path(config.audit_log).parent == Path(mounts["audit"])
    assert volumes["policies"]["configMap"]["name"] == _kind("ConfigMap", "llm-dlp-policies")["metadata"]["name"]
    assert volumes["certs-secret"]["secret"]["secretName"] == _kind("Secret", "llm-dlp-certs")["metadata"]["name"]

    for service in (_kind("Service", "llm-dlp"), _kind("Service", "llm-dlp-admin")):
        assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert all(p["targetPort"] in ports for p in service["spec"]["ports"])
    hpa = _kind("HorizontalPodAutoscaler", "llm-dlp")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm-dlp"}
    assert container["resources"]["requests"]["cpu"]  # a CPU utilisation target needs a request


def test_kubernetes_probes_ask_paths_the_admin_listener_serves():
    container = _kind("Deployment", "llm-dlp")["spec"]["template"]["spec"]["containers"][0]
    app = AdminApp(Metrics.create("probe"), [])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert get["port"] == "admin"
        statuses: list[str] = []
        app({"PATH_INFO": get["path"], "REQUEST_METHOD": "GET"}, lambda status, headers: statuses.append(status))
        assert statuses == ["200 OK"], (probe, get["path"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_the_secret_holds_exactly_what_llm_dlp_init_creates(tmp_path, capsys):
    assert main(["init", "--confdir", str(tmp_path / "certs")]) == 0
    assert "created" in capsys.readouterr().out
    created = {p.name for p in (tmp_path / "certs").iterdir()}
    keys = set(_kind("Secret", "llm-dlp-certs")["stringData"])
    # The bundle (public roots + CA) is rewritten by every instance at start; the rest is shared.
    assert keys == created - {"llm-dlp-ca-bundle.pem"}
    assert main(["init", "--confdir", str(tmp_path / "certs")]) == 0  # a second run keeps the CA
    assert "already there" in capsys.readouterr().out


def test_the_policies_configmap_holds_valid_policies(tmp_path):
    directory = tmp_path / "policies"
    directory.mkdir()
    for name, text in _kind("ConfigMap", "llm-dlp-policies")["data"].items():
        (directory / name).write_text(text)
    assert main(["policy", "check", str(directory)]) == 0
    assert {p.name for p in directory.iterdir()} == {p.name for p in (REPO / "policies").glob("*.yaml")}
