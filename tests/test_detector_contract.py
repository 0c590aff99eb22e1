"""The detector contract: each detector declares itself, the registry derives what policies may
name from the declarations, and the detectors a policy needs are self-checked before serving."""

from __future__ import annotations

import ast
import inspect
import json
import logging
import shutil
import sqlite3
from collections.abc import Mapping
from pathlib import Path

import pytest

from detectors.base import Detector, Finding, FindingKind, Problem
from detectors.code import CodeDetector, ProprietaryCodeDetector
from detectors.code.index_store import DB_NAME, SCHEMA_VERSION, IndexStore
from detectors.code.indexer import build_index
from detectors.code.language_model import LanguageModel
from detectors.secrets import Rule, Samples, SecretDetector
from llm_dlp.detection import DetectorCheckError, DetectorOptions, DetectorRegistry, _standard_classes
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import PolicyError, load_policy_dir
from llm_dlp.testing import secrets_factory as make

AWS_KEY = Rule("aws-access-token", "", r"\b(AKIA[A-Z0-9]{16})\b", samples=Samples(positive=(f"id {make.aws_access_key_id()}",)))
GITHUB_PAT = Rule("github-pat", "", r"\b(ghp_[A-Za-z0-9]{36})\b")
INDEXED_MODULE = Path(json.__file__).parent / "decoder.py"


class CustomerIds:
    """A detector a newcomer might add: one kind, closed rule ids, one detail, a path hint."""

    name = "customers"
    kinds = (FindingKind("customer_id", details=frozenset({"records"})),)
    takes_path_hint = True

    def __init__(self) -> None:
        self.hints: list[str | None] = []

    def rule_ids(self) -> Mapping[str, frozenset[str] | None]:
        return {"customer_id": frozenset({"acme-customer", "acme-contract"})}

    def self_check(self, needed: frozenset[str]) -> list[Problem]:
        return [Problem("the customer list is not loaded", missing_data=True)] if needed else []

    def scan(self, text: str, *, path_hint: str | None = None) -> list[Finding]:
        self.hints.append(path_hint)
        return []


class TwoKinds(CustomerIds):
    name = "two"
    kinds = (FindingKind("customer_id"), FindingKind("contract_id"))
    takes_path_hint = False  # scan still accepts path_hint: the declaration decides, not the signature

    def rule_ids(self) -> Mapping[str, frozenset[str] | None]:
        return {"customer_id": None, "contract_id": None}


def _policies(tmp_path: Path, default: str) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir(exist_ok=True)
    (directory / "default.yaml").write_text(default)
    return directory


def _index(directory: Path, name: str = "billing") -> Path:
    source = directory.parent / f"{directory.name}-src"
    source.mkdir()
    shutil.copy(INDEXED_MODULE, source / "decoder.py")
    store = IndexStore(directory, create=True)
    try:
        build_index(store, name, "core", [source])
    finally:
        store.close()
    return directory


def test_every_bundled_detector_declares_itself():
    for cls in _standard_classes():
        assert isinstance(cls.name, str) and cls.name
        assert cls.kinds and all(isinstance(kind, FindingKind) for kind in cls.kinds)
        # The pipeline passes path_hint to exactly the detectors that declare it.
        assert cls.takes_path_hint == ("path_hint" in inspect.signature(cls.scan).parameters), cls.name
        tree = ast.parse(inspect.getsource(inspect.getmodule(cls)))
        imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [name for name in imported if name.split(".")[0] == "llm_dlp"], cls.name


def test_the_registry_derives_known_rule_ids_from_the_declarations(tmp_path):
    secrets = SecretDetector([AWS_KEY, GITHUB_PAT])
    missing = ProprietaryCodeDetector(tmp_path / "none")
    registry = DetectorRegistry.of([secrets, CodeDetector(), missing, CustomerIds()])
    known = registry.known_rule_ids()
    assert known["secret"] == {"aws-access-token", "github-pat"}
    assert {"python", "go", "unknown"} <= known["code"]
    assert known["customer_id"] == {"acme-customer", "acme-contract"}
    assert "proprietary_code" not in known  # no index: its rule ids (index names) are not known
    assert registry.detector_kinds == {
        "secrets": ("secret",), "code": ("code",), "proprietary_code": ("proprietary_code",), "customers": ("customer_id",)}
    assert registry.kinds["proprietary_code"].details == {"label", "lines"}
    indexed = DetectorRegistry.of([ProprietaryCodeDetector(_index(tmp_path / "idx"))])
    assert indexed.known_rule_ids() == {"proprietary_code": frozenset({"billing"})}


def test_personal_data_rule_ids_are_its_entities_and_records():
    from detectors.pii import PiiConfig, PiiDetector

    detector = PiiDetector(PiiConfig(entities=("EMAIL_ADDRESS", "PERSON")))
    assert DetectorRegistry.of([detector]).known_rule_ids() == {"pii": {"EMAIL_ADDRESS", "PERSON", "PII_RECORDS"}}


def test_declarations_alone_give_kinds_and_detectors_but_no_rule_ids():
    registry = DetectorRegistry.standard()
    assert set(registry.kinds) == {"secret", "pii", "code", "proprietary_code"}
    assert registry.detector_kinds["secrets"] == ("secret",)
    assert registry.known_rule_ids() == {}


def test_a_new_detector_is_usable_in_policies_without_an_edit_elsewhere(tmp_path):
    directory = _policies(tmp_path, """
rules:
  - detector: customers
    rule: acme-customer
    min_records: 5
    action: block
restore:
  customer_id: [text]
""")
    policy = load_policy_dir(directory, registry=DetectorRegistry.of([CustomerIds()])).default
    assert policy.rules[0].kind == "customer_id"
    assert policy.restores("customer_id", "text")
    with pytest.raises(PolicyError, match="not one of"):
        load_policy_dir(directory)  # the bundled detectors know no such detector
    (directory / "default.yaml").write_text("rules:\n  - kind: customer_id\n    rule: acme-custmer\n    action: block\n")
    with pytest.raises(PolicyError, match="did you mean: acme-contract, acme-customer"):
        load_policy_dir(directory, registry=DetectorRegistry.of([CustomerIds()]))


def test_a_detector_of_two_kinds_is_named_with_its_kind(tmp_path):
    registry = DetectorRegistry.of([TwoKinds()])
    directory = _policies(tmp_path, "rules:\n  - detector: two\n    action: block\n")
    with pytest.raises(PolicyError) as caught:
        load_policy_dir(directory, registry=registry)
    assert caught.value.key == "rules[0].kind" and "say which" in caught.value.problem
    (directory / "default.yaml").write_text("rules:\n  - detector: two\n    kind: contract_id\n    action: block\n")
    assert load_policy_dir(directory, registry=registry).default.rules[0].kind == "contract_id"


@pytest.mark.parametrize(("rule", "key", "words"), [
    ("kind: secret\n    min_lines: 21", "min_lines", "secret findings have no 'lines'"),
    ("kind: pii\n    label: core", "label", "only proprietary_code findings do"),
    ("kind: code\n    min_records: 10", "min_records", "only pii findings do"),
])
def test_a_rule_on_a_detail_its_kind_never_carries_is_an_error(tmp_path, rule, key, words):
    directory = _policies(tmp_path, f"rules:\n  - {rule}\n    action: block\n")
    with pytest.raises(PolicyError) as caught:
        load_policy_dir(directory)
    assert (caught.value.line, caught.value.key) == (2, f"rules[0].{key}")
    assert words in caught.value.problem and "never match" in caught.value.problem


def test_details_a_kind_carries_are_accepted(tmp_path):
    directory = _policies(tmp_path, """
rules:
  - {kind: proprietary_code, label: core, min_lines: 21, action: block}
  - {kind: pii, rule: PII_RECORDS, min_records: 10, action: block}
  - {kind: "*", min_lines: 100, action: log}
""")
    assert len(load_policy_dir(directory).default.rules) == 3


def test_an_index_name_the_index_does_not_have_is_an_error(tmp_path):
    registry = DetectorRegistry.of([ProprietaryCodeDetector(_index(tmp_path / "idx"))])
    directory = _policies(tmp_path, "rules:\n  - kind: proprietary_code\n    rule: biling\n    action: block\n")
    with pytest.raises(PolicyError, match=r"'biling' is not a proprietary_code rule \(known: billing\)"):
        load_policy_dir(directory, registry=registry)


PROPRIETARY_RULE = "rules:\n  - kind: proprietary_code\n    min_lines: 21\n    action: block\n"


def _serving(detectors, allow: bool = False) -> DetectorRegistry:
    return DetectorRegistry.for_proxy(detectors, DetectorOptions(allow_missing_index=allow))


def test_a_policy_needing_a_missing_index_is_refused_naming_the_rule_and_the_way_out(tmp_path):
    directory = _policies(tmp_path, PROPRIETARY_RULE)
    detector = ProprietaryCodeDetector(tmp_path / "code-index")
    with pytest.raises(DetectorCheckError) as caught:
        load_policy_dir(directory, registry=_serving([detector]))
    message = str(caught.value)
    assert f"{tmp_path / 'code-index'} does not exist" in message
    assert f"{directory / 'default.yaml'}:2" in message
    assert "llm-dlp index build" in message and "--allow-missing-index" in message
    # Validating files alone (policy check, explain, replay) does not need the index.
    assert load_policy_dir(directory, registry=DetectorRegistry.of([detector])).default.rules


def test_an_empty_index_is_refused_too_and_a_built_one_is_admitted(tmp_path):
    directory = _policies(tmp_path, PROPRIETARY_RULE)
    IndexStore(tmp_path / "code-index", create=True).close()
    with pytest.raises(DetectorCheckError, match="is empty"):
        load_policy_dir(directory, registry=_serving([ProprietaryCodeDetector(tmp_path / "code-index")]))
    built = ProprietaryCodeDetector(_index(tmp_path / "built"))
    assert load_policy_dir(directory, registry=_serving([built])).default.rules


def test_allowing_a_missing_index_starts_with_a_loud_warning(tmp_path, caplog):
    directory = _policies(tmp_path, PROPRIETARY_RULE)
    registry = _serving([ProprietaryCodeDetector(tmp_path / "code-index")], allow=True)
    with caplog.at_level(logging.WARNING, logger="llm_dlp"):
        assert load_policy_dir(directory, registry=registry).default.rules
    [warning] = [record.getMessage() for record in caplog.records]
    assert warning.startswith("WARNING: proprietary_code findings will NOT be detected")
    assert f"{directory / 'default.yaml'}:2" in warning


def test_no_rule_for_a_kind_needs_no_data_for_it(tmp_path):
    directory = _policies(tmp_path, "rules:\n  - kind: '*'\n    min_lines: 5\n    action: log\n")
    registry = _serving([ProprietaryCodeDetector(tmp_path / "code-index"), CustomerIds()])
    assert registry.admit(load_policy_dir(directory, registry=registry).rules_by_kind()) == []


def test_an_outdated_index_is_refused_even_when_allowed_and_unneeded(tmp_path):
    index_dir = _index(tmp_path / "idx")
    with sqlite3.connect(index_dir / DB_NAME) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    registry = _serving([ProprietaryCodeDetector(index_dir)], allow=True)
    with pytest.raises(DetectorCheckError, match="run `llm-dlp index build` again"):
        registry.admit({})


def test_secrets_self_check_runs_the_compiled_rules_on_a_sample():
    assert SecretDetector([AWS_KEY]).self_check(frozenset({"secret"})) == []
    silent = Rule("aws-access-token", "", r"\b(AKIA[A-Z0-9]{16})\b", samples=Samples(positive=("no key here",)))
    [problem] = SecretDetector([silent]).self_check(frozenset())
    assert "find nothing in their own sample" in problem.message and not problem.missing_data


def test_code_self_check_loads_the_language_model(monkeypatch):
    assert CodeDetector().self_check(frozenset()) == []

    def broken(*args, **kwargs):
        raise OSError("language_model.npz: no such file")

    monkeypatch.setattr(LanguageModel, "load", broken)
    [problem] = CodeDetector().self_check(frozenset())
    assert "language model cannot be loaded" in problem.message and "no such file" in problem.message


def test_the_pipeline_passes_path_hints_only_where_declared(tmp_path):
    directory = _policies(tmp_path, "rules: []\n")
    hinted, unhinted = CustomerIds(), TwoKinds()
    pipeline = Pipeline(load_policy_dir(directory), [hinted, unhinted], ValueHasher(b"k" * 32))
    body = json.dumps({"model": "m", "messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t9", "name": "Read", "input": {"file_path": "src/app.go"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t9", "content": "package main"}]},
    ]}).encode()
    verdict = pipeline.inspect(RequestInfo("r", "POST", "h", "/v1/messages", "anthropic"), body).verdict
    assert verdict.decision == "allow"
    assert "src/app.go" in hinted.hints
    assert unhinted.hints and set(unhinted.hints) == {None}


def test_detectors_conform_to_the_protocol():
    assert isinstance(CustomerIds(), Detector)
    assert isinstance(SecretDetector([AWS_KEY]), Detector)
