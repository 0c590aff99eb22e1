"""What makes one match: evidence counted in distinct fingerprint values (a prompt that repeats an
idiom is no more evidence than saying it once), and an excerpt that an indexed file holds twice is
found at both places, reported as copies of each other."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detectors.code import ProprietaryCodeDetector
from detectors.code.fingerprint import fingerprint
from detectors.code.index_store import FingerprintTable
from detectors.code.proprietary import MIN_SHAPE_FINGERPRINTS

PROPERTY_PAIR = '''
    @property
    def {name}(self) -> {kind}:
        return {kind}(self.{store})

    @{name}.setter
    def {name}(self, {value}: {kind}) -> None:
        self.{store} = {value}.{field}
'''

RECORD = '''
class ResourceRecord:
    """One answer of a DNS response."""

    def __init__(self, name, kind, payload):
        self.name = name
        self.kind = kind
        self.payload = payload
''' + PROPERTY_PAIR.format(name="address", kind="Address", store="payload", value="ip", field="packed") + '''

def parse_records(buffer, count):
    records = []
    offset = 12
    while len(records) < count:
        name, offset = read_name(buffer, offset)
        kind, size = struct.unpack_from("!HH", buffer, offset)
        records.append(ResourceRecord(name, kind, buffer[offset + 4 : offset + 4 + size]))
        offset += 4 + size
    return records
'''


def test_a_prompt_repeating_an_idiom_counts_each_shared_fingerprint_once(code_index) -> None:
    index_dir = code_index({"records.py": RECORD}, "dns")
    # six getter/setter pairs of other names: the same shape six times, hitting the one pair in
    # the indexed file six times over
    names = ["ipv4", "ipv6", "domain", "alias", "mailer", "text"]
    prompt = "class Answer:\n" + "".join(
        PROPERTY_PAIR.format(name=n, kind=n.title(), store="raw", value="fresh", field="encoded") for n in names
    )
    prints = fingerprint(prompt)
    table = FingerprintTable.load(index_dir)
    prompt_index, _ = table.lookup(prints.hashes)
    assert len(np.unique(prompt_index)) >= MIN_SHAPE_FINGERPRINTS  # enough hits by prompt position
    assert len(np.unique(prints.hashes[prompt_index])) < MIN_SHAPE_FINGERPRINTS  # not by value
    assert ProprietaryCodeDetector(index_dir).scan(prompt) == []


def test_an_excerpt_the_file_holds_twice_is_found_at_both_places(code_index) -> None:
    table = "".join(f'    "{code}": ("{name}", {number}),\n' for code, name, number in (
        ("ar", "arabic", 1256), ("he", "hebrew", 1255), ("el", "greek", 1253), ("ru", "russian", 1251),
        ("tr", "turkish", 1254), ("vi", "vietnamese", 1258), ("th", "thai", 874), ("ja", "japanese", 932),
        ("ko", "korean", 949), ("zh", "chinese", 936), ("pl", "polish", 1250), ("lt", "lithuanian", 1257),
    ))
    filler = "".join(f"def step_{i}(state):\n    return state.advance({i}) + state.offset * {i}\n\n" for i in range(20))
    module = f"WINDOWS_CODEPAGES = {{\n{table}}}\n\n{filler}\nLEGACY_CODEPAGES = {{\n{table}}}\n"
    index_dir = code_index({"codepages.py": module}, "dns")
    lines = module.splitlines()
    second = next(i for i, line in enumerate(lines) if line.startswith("LEGACY")) + 1

    findings = ProprietaryCodeDetector(index_dir).scan(f"Why is this slow?\n\n{table}")

    assert len(findings) == 1
    places = [findings[0].details, *findings[0].details["copies"]]
    starts = sorted(place["line_start"] for place in places)
    assert len(starts) == 2 and starts[0] <= 3 and starts[1] >= second


def test_a_module_that_shares_its_boilerplate_and_most_of_its_table_is_found_as_itself(code_index) -> None:
    """The standard library's 122 encodings modules: 70 charmap codecs share their class
    boilerplate (in more files than the exact-fingerprint limit) and much of their decoding
    tables (cp1252.py is cp1254.py but for a few rows). A sibling was ranked on its boilerplate
    and the rows it shares, the file itself on its own rows alone, and the sibling won: 42 of the
    122 modules read whole, all charmap codecs, were reported as another one."""
    import sysconfig

    from detectors.code.read_formats import claude_read

    encodings = Path(sysconfig.get_paths()["stdlib"]) / "encodings"
    files = {path.name: path.read_text() for path in sorted(encodings.glob("*.py"))}
    detector = ProprietaryCodeDetector(code_index(files, "encodings"))
    charmaps = [name for name, text in files.items() if "decoding_table = (" in text]
    assert len(charmaps) > 64
    missed = []
    for name in charmaps:
        findings = detector.scan(claude_read(files[name].splitlines()[:400], 1))
        if name not in {place["path"] for f in findings for place in [f.details, *f.details["copies"]]}:
            missed.append(name)
    assert missed == []
