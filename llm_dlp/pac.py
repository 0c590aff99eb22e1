"""``llm-dlp pac``: a proxy auto-config file that sends only the AI hosts to the proxy.

Browsers, operating systems and MDM profiles take a PAC URL; with it a company can roll the
proxy out without routing everything else through it: every host in the endpoint catalogue
(``llm_dlp/providers/catalogue.yaml``) and every ``--intercept-host`` goes to the proxy, all
other traffic ``DIRECT``. The host patterns are the proxy's own (``Endpoint.pattern``: a
``*`` is one part of one DNS label, the port is matched), so the PAC file and the proxy never
disagree about which host is an AI endpoint. There is no ``; DIRECT`` fallback: a client
whose proxy is down must fail, not send the request unscanned.
"""

from __future__ import annotations

import json

from llm_dlp.admin import parse_listen
from llm_dlp.endpoints import EndpointTable

TEMPLATE = """\
// Proxy auto-config written by `llm-dlp pac`: AI API hosts go through the llm-dlp proxy,
// everything else DIRECT. {count} host patterns; regenerate when the catalogue changes.
var LLM_DLP_PROXY = {proxy};
var LLM_DLP_HOSTS = [
{patterns}
];

function FindProxyForURL(url, host) {{
    var scheme = url.substring(0, url.indexOf(":")).toLowerCase();
    var port = /^[a-z][a-z0-9+.-]*:\\/\\/(?:[^\\/@]*@)?(?:\\[[^\\]]*\\]|[^:\\/?#]*)(?::(\\d+))?/i.exec(url);
    var number = port && port[1] ? port[1] : (scheme == "https" || scheme == "wss") ? "443" : (scheme == "http" || scheme == "ws") ? "80" : "";
    var key = host.toLowerCase() + ":" + number;
    for (var i = 0; i < LLM_DLP_HOSTS.length; i++) {{
        if (LLM_DLP_HOSTS[i].test(key)) {{
            return LLM_DLP_PROXY;
        }}
    }}
    return "DIRECT";
}}
"""


def pac_file(endpoints: EndpointTable, proxy: str) -> str:
    """The PAC text; ``proxy`` is ``HOST:PORT`` of the proxy (or of the load balancer in front)."""
    host, port = parse_listen(proxy)
    patterns = list(dict.fromkeys(endpoint.pattern() for endpoint in endpoints.endpoints))
    # JSON string literals are JavaScript string literals; RegExp gets the pattern unchanged
    # (Python's escapes of '.', '-' and '\d' mean the same in a JavaScript regular expression).
    lines = ",\n".join(f"    new RegExp({json.dumps(p)})" for p in patterns)
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return TEMPLATE.format(count=len(patterns), proxy=json.dumps(f"PROXY {target}"), patterns=lines)
