"""The ``destinations:`` section of a policy file: where a tenant's requests may go.

    destinations:
      allow: {region: [mainland, self-hosted]}     # or a list of providers / host patterns
      deny: [openai]
      kinds:                                       # where requests carrying a kind may go
        proprietary_code: {region: [self-hosted]}
      reroute:
        anthropic: https://llm.corp.example:8443   # host swap only
        "*.moonshot.ai":
          to: https://dashscope.aliyuncs.com/apps/anthropic
          models: {"claude-sonnet-*": qwen3-coder-plus}
          credential: {env: DASHSCOPE_API_KEY}     # or {file: /run/secrets/dashscope}
      opaque: deny                                 # or pass: unscanned, audited as such

Split from ``schema.py`` because it is one idea of its own (residency and routing).
"""

from __future__ import annotations

import re
from typing import Any, Callable

import yaml

from llm_dlp.detection import DetectorRegistry
from llm_dlp.endpoints import REGIONS
from llm_dlp.policy.model import Destinations, KindRoute, Places, Reroute
from llm_dlp.policy.schema import Field, NodeReader

_TARGET = re.compile(r"https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/-]*)?")
_HEADERS = ("x-api-key", "authorization")


def destinations(registry: DetectorRegistry) -> Callable[[NodeReader, yaml.Node, str], Destinations]:
    kinds = tuple(registry.kinds)

    def convert(reader: NodeReader, node: yaml.Node, key: str) -> Destinations:
        def kind_routes(r: NodeReader, n: yaml.Node, k: str) -> tuple[KindRoute, ...]:
            given = r.mapping(n, k, {kind: Field(_places) for kind in kinds})
            lines = {key_node.value: key_node.start_mark.line + 1 for key_node, _ in n.value}
            return tuple(KindRoute(kind, places, f"{r.file.name}:{lines[kind]}") for kind, places in given.items())

        def reroutes(r: NodeReader, n: yaml.Node, k: str) -> tuple[Reroute, ...]:
            return _reroutes(r, n, k, kinds)

        fields = reader.mapping(node, key, {
            "allow": Field(_places),
            "deny": Field(_places),
            "kinds": Field(kind_routes),
            "reroute": Field(reroutes),
            "opaque": reader.choice(("deny", "pass")),
        })
        return Destinations(**fields)

    return convert


def _places(reader: NodeReader, node: yaml.Node, key: str) -> Places:
    """A list of providers / host patterns (region names count as regions), or a mapping."""
    if not isinstance(node, yaml.MappingNode):
        entries = reader.strings(node, key)
        return Places(tuple(e for e in entries if e not in REGIONS), tuple(e for e in entries if e in REGIONS))
    fields = reader.mapping(node, key, {
        "region": Field(_regions), "provider": Field(NodeReader.strings), "host": Field(NodeReader.strings)})
    return Places(fields.get("provider", ()) + fields.get("host", ()), fields.get("region", ()))


def _regions(reader: NodeReader, node: yaml.Node, key: str) -> tuple[str, ...]:
    regions = reader.strings(node, key)
    for region in regions:
        # A jurisdiction is a short country or bloc code (cn, us, eu, sg).
        if region not in REGIONS and not re.fullmatch(r"[a-z]{2}", region):
            raise reader.fail(node, key, f"{region!r} is not a region ({', '.join(REGIONS)}) or a two-letter jurisdiction")
    return regions


def _reroutes(reader: NodeReader, node: yaml.Node, key: str, kinds: tuple[str, ...]) -> tuple[Reroute, ...]:
    if not isinstance(node, yaml.MappingNode):
        raise reader.fail(node, key, "must map a provider or host to a target URL or a mapping with 'to'")
    routes = []
    for key_node, value_node in node.value:
        path = f"{key}.{key_node.value}"
        source = f"{reader.file.name}:{key_node.start_mark.line + 1}"
        if isinstance(value_node, yaml.ScalarNode):
            routes.append(Reroute(str(key_node.value), _target(reader, value_node, path), source=source))
        else:
            routes.append(_reroute(reader, value_node, path, str(key_node.value), source, kinds))
    return tuple(routes)


def _reroute(reader: NodeReader, node: yaml.Node, key: str, match: str, source: str, kinds: tuple[str, ...]) -> Reroute:
    fields: dict[str, Any] = reader.mapping(node, key, {
        "to": Field(_target),
        "models": Field(_models),
        "credential": Field(_credential),
        "region": Field(lambda r, n, k: _regions(r, n, k)[0]),
        "kinds": Field(lambda r, n, k: _kinds(r, n, k, kinds)),
    })
    if "to" not in fields:
        raise reader.fail(node, f"{key}.to", "is required: the target's https://host[:port][/prefix]")
    credential = fields.get("credential", {})
    return Reroute(
        match=match,
        target=fields["to"],
        models=fields.get("models", ()),
        credential_env=credential.get("env", ""),
        credential_file=credential.get("file", ""),
        credential_header=credential.get("header", ""),
        region=fields.get("region", ""),
        kinds=fields.get("kinds", ()),
        source=source,
    )


def _target(reader: NodeReader, node: yaml.Node, key: str) -> str:
    target = reader.string(node, key)
    if not _TARGET.fullmatch(target):
        raise reader.fail(node, key, f"{target!r} must be scheme://host[:port][/path prefix]")
    return target.rstrip("/")


def _models(reader: NodeReader, node: yaml.Node, key: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(node, yaml.MappingNode):
        raise reader.fail(node, key, "must map client model names (globs such as claude-sonnet-*) to the target's")
    return tuple((str(k.value), reader.string(v, f"{key}.{k.value}")) for k, v in node.value)


def _credential(reader: NodeReader, node: yaml.Node, key: str) -> dict[str, str]:
    fields = reader.mapping(node, key, {
        "env": Field(NodeReader.string), "file": Field(NodeReader.string), "header": reader.choice(_HEADERS)})
    if ("env" in fields) == ("file" in fields):
        raise reader.fail(node, key, "name exactly one of env (a variable) or file (a secret file) holding the key")
    return fields


def _kinds(reader: NodeReader, node: yaml.Node, key: str, kinds: tuple[str, ...]) -> tuple[str, ...]:
    chosen = reader.strings(node, key)
    for kind in chosen:
        if kind not in kinds:
            raise reader.fail(node, key, f"{kind!r} is not a finding kind ({', '.join(kinds)})")
    return chosen
