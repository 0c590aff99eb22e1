"""Personal-data precision on code and on coding agents' own scaffolding (issue 14).

Each false positive named in the issue, as a regression test, next to the true positive that
the same rule must leave alone. Recall on the labelled corpus is bench/pii.py's job.
"""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest

from detectors.pii import PiiDetector

AGENT_FIXTURES = Path(__file__).resolve().parents[1] / "data" / "agents"
# The same CLIs with another model, mode and prompt (tests/agents/record.py --variants): bodies the
# detector was not tuned on.
AGENT_VARIANTS = Path(__file__).resolve().parents[1] / "data" / "agents-variants"


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector()


def found(detector: PiiDetector, text: str) -> dict[str, str]:
    return {text[f.start : f.end]: f.rule for f in detector.scan(text)}


def values(detector: PiiDetector, text: str) -> dict[str, str]:
    """Findings of single values, without the PII_RECORDS finding that counts them."""
    return {value: rule for value, rule in found(detector, text).items() if rule != "PII_RECORDS"}


# ---------------------------------------------------------------- agent scaffolding

CLAUDE_CODE_SYSTEM = """You are Claude Code, Anthropic's official CLI for Claude.
You are powered by the model named Claude Opus 4.1.

# Tone and style
You should be concise, direct, and to the point.

# Tool usage policy
- Use the Read tool to view files, the Edit tool to change them, and Write only for new files.
- Prefer Grep and Glob over Bash for searching. Use Task for open-ended searches.
- Hooks are shell commands the user configures; treat feedback from Hooks as coming from the user.
- Shell commands run in a persistent session. Link to files as `path:line`.
- Read CLAUDE.md in the project root for instructions.

CLAUDE
"""
CLAUDE_CODE_TOOLS = [
    "Task", "Bash", "Glob", "Grep", "LS", "ExitPlanMode", "Read", "Edit", "MultiEdit", "Write",
    "NotebookEdit", "WebFetch", "TodoWrite", "WebSearch", "BashOutput", "KillShell", "SlashCommand", "Skill",
]


@pytest.mark.parametrize(
    "text",
    [
        CLAUDE_CODE_SYSTEM,
        "Edit", "Link", "Hooks", "Shell", "Claude Opus", "CLAUDE",
        "Use the Edit tool. Link the docs. Hooks run first. Shell out rarely.",
        "- **Edit**: replace a string in a file",
        "Built on Claude Sonnet 4.5 and Claude Haiku; Claude Managed Agents run on Claude Platform.",
        "Co-Authored-By: Claude <noreply@anthropic.com>",
        "Today's date is Monday, December 7, 2026.",
        "Gemini Flash and GPT answer; Codex and Copilot write code.",
    ],
)
def test_agent_tool_product_and_model_names_are_no_personal_data(detector, text):
    assert found(detector, text) == {}


def test_a_claude_code_shaped_request_body_has_no_personal_data(detector):
    """Every string of a body shaped like Claude Code's (system prompt, tool list with
    descriptions, a user prompt, a Read tool result of a file with no personal data)."""
    body = {
        "model": "claude-opus-4-1",
        "system": [{"type": "text", "text": CLAUDE_CODE_SYSTEM}],
        "tools": [
            {"name": name, "description": f"{name}: a tool of the agent. Use {name} when the task needs it.",
             "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}}
            for name in CLAUDE_CODE_TOOLS
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Read notes.txt and tell me what it says."}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read",
                                               "input": {"file_path": "/project/notes.txt"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                          "content": "     1\tBuild notes: run make, then Union[int, str] checks.\n"
                                                     "     2\tRelease 1.2.3.4 is not valid semver.\n"}]},
        ],
    }
    strings = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(body)
    assert {text: found(detector, text) for text in strings if found(detector, text)} == {}


@pytest.mark.parametrize("directory", [AGENT_FIXTURES, AGENT_VARIANTS], ids=["agents", "agents-variants"])
@pytest.mark.parametrize("cli", ["claude-code", "codex", "gemini-cli"])
def test_recorded_agent_requests_have_no_personal_data(detector, directory, cli):
    """Every prompt segment of each CLI's recorded requests (system prompt, tool list, the
    user's prompt, a file-reading tool's result), as the proxy's adapter cuts them."""
    from llm_dlp.providers import adapter_for

    findings = {}
    recordings = sorted(directory.glob(f"{cli}-*.json"))
    assert recordings
    for recording in recordings:
        request = json.loads(recording.read_text())
        for segment in adapter_for(request["path"]).extract(request["body"]).segments:
            for finding in detector.scan(segment.text):
                findings.setdefault(recording.name, []).append(
                    (segment.location, finding.rule, segment.text[finding.start : finding.end]))
    assert findings == {}


@pytest.mark.parametrize(
    "text",
    [
        # Ordinary English words that are also towns or nicknames, where English capitalises
        # any word or as a product's name: agents' instructions, not people or places.
        "Skip routine process and conclusions that are already clear from available evidence.",
        "(c) Skip new tests unless requested.",
        "# Autonomy\n\nBias towards action, as long as it progresses the user's task.",
        "(g) Avoid indirection. Helper functions can add cognitive complexity.",
        "- Combine turns whenever possible by utilizing parallel searching.",
        "- `gpt-5.5`: Legacy coding model. Reasoning efforts: low, medium.",
        "For small diagrams that fully explain the answer, use Mermaid when you can.",
        # A sentence-initial gerund with its object, and a word that labels a number: a tool
        # description's verbs and limits ("Reading" is a town, "Max" and "Page" are names).
        "- Reading a directory, a missing file, or an empty file returns an error.",
        "Searches file contents. Max 100 matches.",
        "Returns the results.\nMax: 5 per call.",
        "Listing the files of a directory. Viewing these files is allowed. Page 2 of the output.",
    ],
)
def test_english_words_that_are_also_towns_or_names_are_no_personal_data(detector, text):
    assert found(detector, text) == {}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Laura called me about the invoice.", {"Laura": "PERSON"}),
        ("Marcel shouted at the driver.", {"Marcel": "PERSON"}),
        ("What's your last name? Smith", {"Smith": "PERSON"}),
        ("The contract was signed, says Brown.", {"Brown": "PERSON"}),
        ("She grew up in Helper and moved away.", {"Helper": "LOCATION"}),
        ("The office is in Mobile now.", {"Mobile": "LOCATION"}),
        # A town as a sentence's subject, a name with a number mid-sentence or after a cue.
        ("Reading is where she grew up.", {"Reading": "LOCATION"}),
        ("We paid Max 100 dollars for the repair.", {"Max": "PERSON"}),
        ("Hi Max, 3 questions about the invoice.", {"Max": "PERSON"}),
        # A country before its postal code opens an address's last line: a place, not a label.
        ("Ship it to my office.\nAustria 73269", {"Austria": "LOCATION", "73269": "ZIP_CODE"}),
        ("Ship it to my office.\n Finland 45622", {"Finland": "LOCATION", "45622": "ZIP_CODE"}),
    ],
)
def test_names_and_places_that_are_also_words_are_still_found_with_evidence(detector, text, expected):
    """A popular given name, a capital inside a sentence, a name question, a past-tense verb
    after a sentence's first word, a place cue, a large city: each still makes the word a
    name or a place."""
    assert values(detector, text) == expected


def test_a_person_named_like_an_assistant_is_still_found(detector):
    assert found(detector, "Hi Claude Monet, your paintings arrived.") == {"Claude Monet": "PERSON"}


# ---------------------------------------------------------------- ordinary code

def test_type_names_in_hints_are_no_places(detector):
    text = "def f(x: Union[int, str]) -> Optional[Union[bytes, None]]:\n    return x\n"
    assert found(detector, text) == {}


def test_an_enum_like_name_under_the_bare_name_key_is_no_person(detector):
    text = "class SwiftLexer(RegexLexer):\n    name = 'Swift'\n    aliases = ['swift']\n    name = 'Common Lisp'\n"
    assert found(detector, text) == {}


def test_a_persons_name_under_a_name_key_in_code_is_still_found(detector):
    text = "customer = Customer(\n    name='Ada Lovelace',\n    first_name='Grace',\n)\n"
    assert values(detector, text) == {"Ada Lovelace": "PERSON", "Grace": "PERSON"}


@pytest.mark.parametrize(
    "text",
    [
        "name = None", "name: Optional[str] = None", "    name: The name of the queue.",
        "        frame_font_name = Frame(frame_font)\n        frame_font_param = Frame(frame)\n",
        'import tkinter\n\n\nclass Page:\n    """Attributes:\n        builtin_name: Menu variable for built-in theme.\n'
        '        custom_name: Menu variable for custom theme.\n    """\n',
    ],
)
def test_literals_types_and_descriptions_under_a_name_key_are_no_person(detector, text):
    assert found(detector, text) == {}


@pytest.mark.parametrize(
    "text",
    [
        "# Copyright 2006-2022 the Python Software Foundation",
        '"""Parse a ZIP+4 code such as 12101-0001 into its parts."""',
        "See pp. 3397-3415 and bugs 2360-2363.",
        "Wait before yielding; effective range is 250-30000 ms.",
        "Must be between 1 and 43200000.",
        "INT_MAX = 2147483647\nkey0 = 305419896\n",
        "    0 2016-05-25 13:30:00.023   MSFT   51.95        75\n",
    ],
)
def test_years_ranges_examples_and_constants_are_no_phone_numbers(detector, text):
    assert "PHONE_NUMBER" not in found(detector, text).values()


@pytest.mark.parametrize(
    "text",
    [
        # A standard's number and year.
        "Decimal arithmetic follows IEEE standard 854-1987 and IEEE 754-2008.",
        # Numbers the documentation of code calls examples.
        'def parse(number):\n    """For example, the number +1 650 253 0000 is a US number;\n    e.g. "+41446681800"."""\n',
        "def is_ipv6(text):\n    # reject an IPv6 address (ex: '123:2:3:4:5:6:7:8').\n    return False\n",
    ],
)
def test_standards_and_documented_examples_in_code_are_no_phone_numbers_or_ips(detector, text):
    assert found(detector, text) == {}


@pytest.mark.parametrize(
    "text",
    [
        # RFC 5737 documentation addresses in code.
        "net = IPv4Network('192.0.2.128/25')\nhost = '198.51.100.7'\nother = '203.0.113.9'\n",
        # Bits in groups, a Python escape's body, a Unix time in microseconds.
        "FOREGROUND_GREEN = 0x0002  # 0000 0010\nBACKGROUND_GREEN = 0x0020  # 0010 0000\n",
        "SYMBOLS = {\n    '\\\\setminus': '\\U00002216',\n    '\\\\ominus': '\\U00002296',\n}\n",
        'def versions(after):\n    """after: a Unix epoch timestamp in microseconds ("1759178010641129")."""\n',
    ],
)
def test_documentation_addresses_bits_escapes_and_timestamps_are_not_personal(detector, text):
    assert found(detector, text) == {}


def test_cards_from_every_issuer_and_a_public_ip_in_code_are_still_found(detector):
    text = 'CARDS = ["4111 1111 1111 1111", "3782 822463 10005", "135412345678911"]\nSERVER = "8.8.4.4"\n'
    assert values(detector, text) == {
        "4111 1111 1111 1111": "CREDIT_CARD", "3782 822463 10005": "CREDIT_CARD", "135412345678911": "CREDIT_CARD",
        "8.8.4.4": "IP_ADDRESS",
    }


def test_a_number_called_an_example_outside_code_is_still_found(detector):
    # In a prompt's prose, "for example" introduces the user's own data as often as not.
    text = "Call one of us, for example Anna at +1 212 555 0142, before Friday."
    assert values(detector, text)["+1 212 555 0142"] == "PHONE_NUMBER"


@pytest.mark.parametrize(
    "address", ["email-sig@python.org", "idle-dev@python.org", "python-list@python.org", "info@pythonware.com", "support@example.com"]
)
def test_mailing_list_and_role_addresses_are_nobodys(detector, address):
    assert found(detector, f"# Contact: {address}\n") == {}


def test_a_persons_address_beside_a_role_one_is_still_found(detector):
    text = "# Author: Barry Warsaw <barry@python.org>\n# Contact: email-sig@python.org\n"
    assert found(detector, text) == {"barry@python.org": "EMAIL_ADDRESS"}


def test_a_phone_number_in_code_written_as_one_is_still_found(detector):
    text = 'SUPPORT = {\n    "phone": "(212) 555-0199",\n    "mobile": "+1 212 555 0142",\n}\n'
    assert set(values(detector, text)) == {"(212) 555-0199", "+1 212 555 0142"}


def test_a_list_of_urls_and_zip_examples_is_no_record_of_people(detector):
    text = (
        "EXAMPLES = [\n"
        '    "https://www.python.org/",  # 12101-0001\n'
        '    "https://www.nordtheme.com/",  # 90210-1234\n'
        '    "https://docs.example.org/",  # 10001-0002\n'
        "]\n"
    )
    assert found(detector, text) == {}


def test_release_dates_and_versions_in_prose_are_no_dates_or_ips(detector):
    text = "Version 2.1 was released on March 3, 2023. Version strings have three parts: 1.2.3.4 is not valid."
    assert found(detector, text) == {}


@pytest.mark.parametrize(
    "text",
    [
        'log.info("GET /index.html 200 1298")\nlog.info("POST /admin/ 401 42234")\n',
        'print(number.search_string("123 3.1416 789"))',
        "command_name: The Redis command name",
        "- **Mobile:** Compose Multiplatform or Flutter.",
        "Use a font such as DM Sans, DM Serif Text, Germania One, Montagu Slab, Radley or Rubik.",
    ],
)
def test_log_figures_descriptions_labels_and_typefaces_are_not_personal(detector, text):
    assert found(detector, text) == {}


def test_dotted_phone_numbers_and_speakers_are_still_found(detector):
    assert values(detector, "You can call 05.06.52.16.25 or 544.587.7175.") == {
        "05.06.52.16.25": "PHONE_NUMBER", "544.587.7175": "PHONE_NUMBER",
    }
    assert values(detector, 'Emily: "Who are you?"') == {"Emily": "PERSON"}


def test_a_birth_date_and_an_ip_in_prose_are_still_found(detector):
    text = "She was born on 4/18/1960 and logged in from 203.0.113.7."
    assert found(detector, text) == {"4/18/1960": "DATE_TIME", "203.0.113.7": "IP_ADDRESS"}


@pytest.mark.parametrize(
    "text",
    [
        '__version__ = "0.5.1.2"\n__date__ = "07 February 2010"\n',
        '"( 2.5.4.35 NAME \'userPassword\' )",\n"( 2.5.18.1 NAME \'createTimestamp\' )",\n',
        'HOSTS = {\n    "db": "192.168.1.4",\n    "cache": "10.0.0.12",\n}\n',
    ],
)
def test_versions_object_identifiers_and_private_addresses_in_code_are_no_ips(detector, text):
    assert found(detector, text) == {}


def test_unicode_tables_and_locale_names_in_code_are_no_places(detector):
    text = (
        "    (0x0102d, 0x01030,),  # Myanmar Vowel Sign I    ..Myanmar Vowel Sign Uu\n"
        "    (0x01032, 0x01037,),  # Myanmar Vowel Sign Ai   ..Myanmar Sign Dot Below\n"
        "    0x00e0: 0x03b1,     #  GREEK SMALL LETTER ALPHA\n"
        "    'ta_in': 'ta_IN.UTF-8',  # Tamil, India\n"
    )
    assert found(detector, text) == {}


def test_docstring_dates_and_links_of_a_module_are_not_personal(detector):
    text = (
        "import os\n\n\ndef create(model):\n"
        '    """Create a run.\n\n'
        "    Deprecated values:\n\n"
        '    - "gpt-4o-2024-05-13": Announced shutdown on 2026-07-23. See\n'
        "      https://developers.example.com/deprecations for Thursday's notice.\n"
        '    """\n'
        "    return os.environ[model]\n"
    )
    assert found(detector, text) == {}


def test_prose_between_code_keeps_its_people(detector):
    text = "x = compute(1)\n\nPlease forward the report to Jennifer Eiffel at jennifer@example.com.\n\ny = 2\n"
    assert found(detector, text) == {"Jennifer Eiffel": "PERSON", "jennifer@example.com": "EMAIL_ADDRESS"}


def test_the_standard_library_is_nearly_free_of_findings(detector):
    """A few modules the issue named, scanned as an agent would send them."""
    library = Path(sysconfig.get_paths()["stdlib"])
    findings = []
    for module in ("typing.py", "ftplib.py", "zipfile/__init__.py", "_pydatetime.py", "encodings/cp437.py"):
        text = (library / module).read_text()
        findings += [(module, f.rule, text[f.start : f.end]) for f in detector.scan(text) if f.rule != "EMAIL_ADDRESS"]
    assert findings == []
