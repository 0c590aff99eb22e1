"""PiiDetector end to end: offline, glued to CJK, names, code noise, records, robustness."""

from __future__ import annotations

import socket
import threading

import pytest

from detectors.base import Detector
from detectors.pii import PiiConfig, PiiDetector

NETWORK_ATTEMPTS: list[str] = []


def _refuse(*args, **kwargs):
    NETWORK_ATTEMPTS.append(repr(args[:2]))
    raise OSError("network access is blocked in this test")


@pytest.fixture(scope="module")
def detector():
    """Built and exercised with every way out of the process blocked."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse)
        patch.setattr(socket.socket, "connect_ex", _refuse)
        patch.setattr(socket, "getaddrinfo", _refuse)
        patch.setattr(socket, "create_connection", _refuse)
        built = PiiDetector()
        # The first e-mail validation is where stock presidio fetches the public-suffix list.
        built.scan("write to zhang.wei@example.com or ada@example.co.uk")
        yield built


def rules(detector: PiiDetector, text: str) -> dict[str, str]:
    return {text[f.start : f.end]: f.rule for f in detector.scan(text) if f.rule != "PII_RECORDS"}


def test_building_and_scanning_never_touch_the_network(detector):
    assert detector.scan("mail ada@example.com") and NETWORK_ATTEMPTS == []


def test_is_a_detector_with_pii_findings(detector):
    assert isinstance(detector, Detector) and detector.name == "pii"
    finding = detector.scan("Contact: ada@example.com")[0]
    assert (finding.kind, finding.rule, finding.detector) == ("pii", "EMAIL_ADDRESS", "pii")
    assert 0 < finding.confidence <= 1 and finding.details == {}


def test_an_uninstalled_spacy_model_is_refused_not_downloaded():
    with pytest.raises(ValueError, match="never downloaded"):
        PiiDetector(PiiConfig(spacy_model="en_core_web_lg"))


@pytest.mark.parametrize(
    "text,value,rule",
    [
        ("卡号6222021234567894请转账", "6222021234567894", "CN_UNIONPAY_CARD"),
        ("银行卡6228480012345678903谢谢", "6228480012345678903", "CN_UNIONPAY_CARD"),
        ("邮箱zhang.wei@example.com谢谢", "zhang.wei@example.com", "EMAIL_ADDRESS"),
        ("服务器10.1.2.3宕机", "10.1.2.3", "IP_ADDRESS"),
        ("手机13800138000联系我", "13800138000", "CN_MOBILE"),
        ("身份证号11010519491231002X已登记", "11010519491231002X", "CN_RESIDENT_ID"),
        ("信用代码91110000600037341L公司", "91110000600037341L", "CN_USCC"),
        ("香港身份證A123456(3)號碼", "A123456(3)", "HK_ID"),
        ("身分證A123456789號", "A123456789", "TW_ID"),
        ("护照号E12345678有效", "E12345678", "CN_PASSPORT"),
        ("信用卡4111111111111111到期", "4111111111111111", "CREDIT_CARD"),
        ("社保号536-22-1234结束", "536-22-1234", "US_SSN"),
        ("账户GB82WEST12345698765432转账", "GB82WEST12345698765432", "IBAN_CODE"),
    ],
)
def test_pii_glued_to_chinese_characters_is_found(detector, text, value, rule):
    assert rules(detector, text).get(value) == rule


@pytest.mark.parametrize(
    "text,name",
    [
        ('{"first_name": "Ada", "email": "ada@example.com"}', "Ada"),
        ("customer=Grace Hopper status=active", "Grace Hopper"),
        ("Hello, my name is Alan Turing and I need help.", "Alan Turing"),
        ("姓名：张伟，电话：13800138000", "张伟"),
        ("我叫王小明，住在北京", "王小明"),
    ],
)
def test_names_in_structure_or_after_a_cue_are_found_without_a_model(detector, text, name):
    assert rules(detector, text).get(name) == "PERSON"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want to add Dorothy Faria as a beneficiary to my account", {"Dorothy Faria": "PERSON"}),
        ("Why is Liisa so impulsive?", {"Liisa": "PERSON"}),
        ("Valérie Lafontaine, the officer, said it was withdrawn.", {"Valérie Lafontaine": "PERSON"}),
        ("Who's coming to Switzerland with me?", {"Switzerland": "LOCATION"}),
        ("The Norwegian Border Force detained him.", {"Norwegian": "NRP"}),
        ("The address of IIFL Holdings Ltd is on file", {"IIFL Holdings Ltd": "ORGANIZATION"}),
        ("The bus station is on 22 Pollen Crescent", {"22 Pollen Crescent": "STREET_ADDRESS"}),
        ("We'll meet at Via Leopardi 83, Bologna", {"Via Leopardi 83, Bologna": "STREET_ADDRESS"}),
        ("She was born on 4/18/1960.", {"4/18/1960": "DATE_TIME"}),
        ("This 70 year old female complains of pain.", {"70": "AGE"}),
        ("ZIP: 32700", {"32700": "ZIP_CODE"}),
    ],
)
def test_names_places_and_addresses_in_prose_are_found_from_word_lists_and_shapes(detector, text, expected):
    assert rules(detector, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # A first name that is also an English word proves nothing alone.
        "Will my account stay active?",
        # Tools and languages developers write with a capital.
        "Port the Ruby scripts to Python and run them in Docker on Windows.",
        # Capitalised words in code are type names, not people.
        "class Grace(Model):\n    victoria = Field(Paris)\n",
        "import Jordan from './people';",
    ],
)
def test_capitalised_words_that_are_not_people_or_places_are_not_claimed(detector, text):
    found = rules(detector, text)
    assert not {k: v for k, v in found.items() if v in {"PERSON", "LOCATION"}}, found


@pytest.mark.parametrize(
    "code",
    [
        "if user.id == request.args.get('id'): return user.email",
        'requests==2.31.0.1\nversion = "1.2.3.4"\n"lodash@4.17.21"',
        'sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"',
        "created_at = 1700000000123\nexpires = 1699999999",
        "pi = 3.14159265358979323846",
        'listen("0.0.0.0", 8080); connect("127.0.0.1")',
        "const uuid = '123e4567-e89b-12d3-a456-426614174000';",
    ],
)
def test_code_artefacts_are_not_reported(detector, code):
    assert detector.scan(code) == []


def test_csv_of_people_is_one_records_finding_with_its_count(detector):
    names = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth",
             "Frances Allen", "John Backus", "Radia Perlman", "Ken Thompson", "Margaret Hamilton", "Niklaus Wirth"]
    rows = [f"{name},person{i}@example.com,+1 212-555-01{i:02d}" for i, name in enumerate(names)]
    text = "Here is the export:\nname,email,phone\n" + "\n".join(rows) + "\nThanks"
    records = [f for f in detector.scan(text) if f.rule == "PII_RECORDS"]
    assert len(records) == 1
    assert records[0].details == {"records": 12, "entities": ["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"], "format": "table"}
    assert text[records[0].start : records[0].end].startswith("name,email,phone")


def test_json_array_of_people_counts_its_objects(detector):
    people = ",\n".join(
        f'  {{"id": {i}, "name": "Ada Number", "email": "user{i}@example.org"}}' for i in range(7)
    )
    text = f'{{"users": [\n{people}\n], "total": 7}}'
    records = [f for f in detector.scan(text) if f.rule == "PII_RECORDS"]
    assert [(r.details["records"], r.details["format"]) for r in records] == [(7, "json")]
    assert "EMAIL_ADDRESS" in records[0].details["entities"]


def test_log_lines_with_the_same_kind_of_data_are_counted(detector):
    log = "\n".join(f"2024-05-01 login ok user=u{i}@corp.example.com ip=203.0.113.{i}" for i in range(1, 6))
    records = [f for f in detector.scan(log) if f.rule == "PII_RECORDS"]
    assert [(r.details["records"], r.details["format"]) for r in records] == [(5, "lines")]


def test_details_never_carry_the_matched_values(detector):
    text = "name,email\nAda Lovelace,ada@example.com\nGrace Hopper,grace@example.com\nAlan Turing,alan@example.com"
    for finding in detector.scan(text):
        assert all(finding.value(text) not in str(value) for value in finding.details.values())


@pytest.mark.parametrize("text", ["", " ", "\x00" * 50, "\ud800 lone surrogate 13800138000", "@" * 5000, "1" * 100_000, "[{" * 3000])
def test_scan_never_raises(detector, text):
    assert isinstance(detector.scan(text), list)


def test_windows_give_the_same_findings_as_analysing_the_whole_text(detector):
    filler = "def handler(event):\n    return process(event['body'])\n\n" * 40
    pii = [
        "Call me at (212) 555-0199 or email ada@example.com.",
        "My SSN is 536-22-1234 and card 4111 1111 1111 1111.",
        "手机13800138000，身份证11010519491231002X。",
        "Server 203.0.113.7 logged IBAN GB82 WEST 1234 5698 7654 32.",
        'Dear Grace, the record {"customer_name": "Alan Turing"} is ready. 我叫王小明。',
    ]
    text = filler.join(pii) + filler
    whole = detector._engine.analyze(text, language="en", entities=list(detector.entities))
    assert {(r.entity_type, r.start, r.end, r.score) for r in detector.analyze(text)} == {
        (r.entity_type, r.start, r.end, r.score) for r in whole
    }


def test_scan_is_thread_safe(detector):
    text = "Ada <ada@example.com>, 手机13800138000, card 4111 1111 1111 1111\n" * 50
    expected = detector.scan(text)
    outcomes: list[bool] = []

    def worker() -> None:
        outcomes.extend(detector.scan(text) == expected for _ in range(3))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [True] * 12


def test_an_internal_error_is_raised_not_swallowed(detector, monkeypatch):
    """Fail closed: the pipeline treats a detector exception as a failed scan, and the
    tenant policy decides; an empty result would let the text through unscanned."""

    def broken(*args, **kwargs):
        raise RuntimeError("recognizer bug")

    email = next(r for r in detector._anchored if "EMAIL_ADDRESS" in r.supported_entities)
    monkeypatch.setattr(email, "validate_result", broken)
    with pytest.raises(RuntimeError, match="recognizer bug"):
        detector.scan("write to ada@example.com")


def test_a_non_string_is_a_caller_bug(detector):
    with pytest.raises(TypeError):
        detector.scan(b"ada@example.com")  # type: ignore[arg-type]
