"""Write detectors/confusables.txt from confusable-homoglyphs' copy of Unicode confusables.txt.

Run in a throw-away environment (the package is not a dependency of llm-dlp):
    python -m venv /tmp/conf && /tmp/conf/bin/pip install confusable-homoglyphs==3.3.1
    /tmp/conf/bin/python scripts/build_confusables.py > detectors/confusables.txt
"""
import json, sys, unicodedata, importlib.metadata as md, pathlib
import confusable_homoglyphs
data = json.loads((pathlib.Path(confusable_homoglyphs.__file__).parent / "confusables.json").read_text())
targets = [chr(c) for c in range(0x21, 0x7F) if chr(c).isalnum() or chr(c) in "-_./+=:"]
rows = {}
for target in targets:
    for entry in data.get(target, []):
        char = entry["c"]
        if len(char) != 1 or char.isascii():
            continue
        ascii_form = target
        # confusables.txt's prototype for the I/l/1 family is "l" and for O/0 it is "O":
        # a capital or a digit folds to the ASCII character of the same kind.
        if target == "l" and char.isupper():
            ascii_form = "I"
        elif target in "lO" and unicodedata.category(char) == "Nd":
            ascii_form = "1" if target == "l" else "0"
        if unicodedata.normalize("NFKC", char) == ascii_form:
            continue  # NFKC folds it already
        rows[char] = ascii_form
out = sys.stdout
out.write(f"# Non-ASCII characters that look like an ASCII letter, digit or one of -_./+=: and what\n")
out.write(f"# they fold to before secret matching. Derived from Unicode's confusables.txt as shipped in\n")
out.write(f"# confusable-homoglyphs {md.version('confusable-homoglyphs')} (PyPI) by scripts/build_confusables.py;\n")
out.write("# characters NFKC already folds to the same ASCII character are left out. Unicode data:\n")
out.write("# Copyright Unicode, Inc., Unicode License v3 (https://www.unicode.org/license.txt).\n")
out.write("# code point<TAB>ASCII form<TAB>name\n")
for char in sorted(rows):
    out.write(f"{ord(char):04X}\t{rows[char]}\t{unicodedata.name(char, '?')}\n")
