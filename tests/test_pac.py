"""``llm-dlp pac``: the generated file run by a real PAC engine (pacparser, SpiderMonkey's PAC
runtime), and its answer compared with the proxy's own endpoint table for every host."""

from __future__ import annotations

import pacparser
import pytest

from llm_dlp.cli import main
from llm_dlp.endpoints import BUILTIN_ENDPOINTS, EndpointTable, parse_intercept_host

EXTRA = ["llm.corp.example:8443=vllm@self-hosted", "gateway.internal"]


@pytest.fixture
def find_proxy(tmp_path):
    path = tmp_path / "proxy.pac"
    assert main(["pac", "--proxy", "dlp.corp.example:3128", "--output", str(path),
                 *[arg for host in EXTRA for arg in ("--intercept-host", host)]]) == 0
    pacparser.init()
    pacparser.parse_pac_file(str(path))
    yield pacparser.find_proxy
    pacparser.cleanup()


def _concrete(pattern_host: str) -> str:
    return pattern_host.replace("*", "us-east-1")


def test_every_catalogue_host_goes_to_the_proxy_and_nothing_else(find_proxy):
    table = EndpointTable.with_extra([parse_intercept_host(h) for h in EXTRA])
    probes = [(f"https://{_concrete(e.host)}{'' if e.port in (443, None) else f':{e.port}'}/v1/x", _concrete(e.host))
              for e in BUILTIN_ENDPOINTS]
    assert len(probes) > 30
    probes += [
        ("https://llm.corp.example:8443/v1/chat/completions", "llm.corp.example"),
        ("https://llm.corp.example/v1/chat/completions", "llm.corp.example"),  # port 443: not the one given
        ("http://gateway.internal:8000/v1/messages", "gateway.internal"),  # no port given: any port
        ("https://api.anthropic.com.evil.example/", "api.anthropic.com.evil.example"),
        ("https://notapi.anthropic.com/", "notapi.anthropic.com"),
        ("https://a.b-aiplatform.googleapis.com/", "a.b-aiplatform.googleapis.com"),  # '*' is one label part
        ("https://github.com/anthropics", "github.com"),
        ("https://pypi.org/simple/", "pypi.org"),
        ("http://api.anthropic.com/", "api.anthropic.com"),  # port 80: a catalogue host is the provider's on every port
        ("https://API.ANTHROPIC.COM/v1/messages", "API.ANTHROPIC.COM"),
    ]
    proxied = 0
    for url, host in probes:
        port = int(url.split("//", 1)[1].split("/", 1)[0].rpartition(":")[2]) if url.count(":") > 1 else (
            443 if url.startswith("https") else 80)
        expected = "PROXY dlp.corp.example:3128" if table.lookup(host.lower(), port) else "DIRECT"
        assert find_proxy(url, host) == expected, (url, host)
        proxied += expected != "DIRECT"
    assert proxied == len(BUILTIN_ENDPOINTS) + 4  # every catalogue host, the two extras, port 80, the upper-case one


def test_well_known_hosts(find_proxy):
    assert find_proxy("https://api.anthropic.com/v1/messages", "api.anthropic.com") == "PROXY dlp.corp.example:3128"
    assert find_proxy("https://api.openai.com/v1/responses", "api.openai.com") == "PROXY dlp.corp.example:3128"
    assert find_proxy("https://www.google.com/", "www.google.com") == "DIRECT"


def test_a_bad_proxy_is_refused(capsys):
    assert main(["pac", "--proxy", "no-port"]) == 2
    assert "HOST:PORT" in capsys.readouterr().err
