"""The language model names the language of short snippets.

Accuracy is measured by ``bench/code_detection.py`` on held-out packages; these tests are the model's
specification in miniature: one plain, idiomatic snippet per language must be named, the model
file must carry exactly the languages the project names. That the corpus keeps train and test
apart is checked beside it, in ``bench/test_language_corpus.py``.
"""

from __future__ import annotations


import pytest

from detectors.code.language_model import NOT_CODE, LanguageModel, features
from detectors.code.languages import LANGUAGE_IDS

CLEAR_SNIPPETS = {
    "python": "def total(items):\n    result = 0\n    for item in items:\n        result += item.price\n    return result\n",
    "javascript": "const express = require('express');\nconst app = express();\napp.get('/', (req, res) => {\n  res.send('ok');\n});\nmodule.exports = app;\n",
    "typescript": "interface User {\n  id: number;\n  name: string;\n}\nexport function greet(user: User): string {\n  return `hi ${user.name}`;\n}\n",
    "java": "public class Main {\n    public static void main(String[] args) {\n        List<String> names = new ArrayList<>();\n        names.add(\"a\");\n        System.out.println(names.size());\n    }\n}\n",
    "go": "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tx := 3\n\tfmt.Println(x)\n}\n",
    "rust": "fn main() {\n    let mut v: Vec<u32> = Vec::new();\n    v.push(1);\n    if let Some(x) = v.first() {\n        println!(\"{}\", x);\n    }\n}\n",
    "c": "#include <stdio.h>\n#include <stdlib.h>\n\nint main(void) {\n    char *buf = malloc(16);\n    printf(\"%s\\n\", buf);\n    free(buf);\n    return 0;\n}\n",
    "cpp": "#include <iostream>\n#include <vector>\n\nint main() {\n    std::vector<int> v{1, 2, 3};\n    for (auto x : v) std::cout << x << std::endl;\n    return 0;\n}\n",
    "csharp": "using System;\n\nnamespace Demo\n{\n    public class Program\n    {\n        public static void Main(string[] args)\n        {\n            Console.WriteLine(\"hi\");\n        }\n    }\n}\n",
    "kotlin": "fun main() {\n    val names = listOf(\"a\", \"b\")\n    names.forEach { println(it) }\n    val n: Int? = null\n    println(n ?: 0)\n}\n",
    "swift": "import Foundation\n\nstruct Point {\n    var x: Double\n    var y: Double\n}\nlet p = Point(x: 1, y: 2)\nprint(\"\\(p.x)\")\n",
    "ruby": "class Greeter\n  def initialize(name)\n    @name = name\n  end\n\n  def greet\n    puts \"Hello, #{@name}\"\n  end\nend\n",
    "php": "<?php\nfunction greet($name) {\n    $message = \"Hello, \" . $name;\n    echo $message;\n}\n$items = array('a' => 1);\n?>\n",
    "scala": "object Main extends App {\n  val xs = List(1, 2, 3)\n  val doubled = xs.map(_ * 2)\n  def add(a: Int, b: Int): Int = a + b\n  println(doubled.mkString(\",\"))\n}\n",
    "shell": "#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do\n  if [ -f \"$f\" ]; then\n    echo \"$f\"\n  fi\ndone\n",
    "sql": "SELECT u.id, u.name, COUNT(o.id) AS orders\nFROM users u\nLEFT JOIN orders o ON o.user_id = u.id\nWHERE u.active = 1\nGROUP BY u.id, u.name\nORDER BY orders DESC;\n",
    "html": "<!DOCTYPE html>\n<html>\n<head>\n  <title>Page</title>\n</head>\n<body>\n  <div class=\"main\"><p>Hello</p></div>\n</body>\n</html>\n",
    "css": "body {\n  margin: 0;\n  font-family: sans-serif;\n}\n.header {\n  color: #333;\n  padding: 4px 8px;\n}\n",
    "yaml": "version: 2\nservices:\n  web:\n    image: nginx:latest\n    ports:\n      - \"80:80\"\n    environment:\n      - DEBUG=false\n",
    "hcl": "resource \"aws_s3_bucket\" \"logs\" {\n  bucket = \"my-logs\"\n  tags = {\n    Env = \"prod\"\n  }\n}\n\nvariable \"region\" {\n  default = \"eu-west-1\"\n}\n",
}


@pytest.fixture(scope="module")
def model() -> LanguageModel:
    return LanguageModel.load()


def test_model_names_exactly_the_project_languages(model: LanguageModel) -> None:
    assert sorted(model.classes) == sorted([*LANGUAGE_IDS, NOT_CODE])
    assert set(CLEAR_SNIPPETS) == set(LANGUAGE_IDS)


@pytest.mark.parametrize("language", sorted(CLEAR_SNIPPETS))
def test_a_clear_snippet_is_named(model: LanguageModel, language: str) -> None:
    guess = model.predict(CLEAR_SNIPPETS[language], allowed=set(LANGUAGE_IDS))
    assert guess.language == language
    assert 0.0 < guess.probability <= 1.0


def test_allowed_restricts_the_answer(model: LanguageModel) -> None:
    guess = model.predict(CLEAR_SNIPPETS["cpp"], allowed={"python", "ruby"})
    assert guess.language in {"python", "ruby"}


def test_probabilities_sum_to_one_and_empty_text_does_not_raise(model: LanguageModel) -> None:
    assert sum(model.probabilities(CLEAR_SNIPPETS["go"]).values()) == pytest.approx(1.0, abs=1e-5)
    assert model.predict("").language in model.classes
    assert features("   \n\n") == []


def test_identifiers_speak_by_their_shape_after_each_token() -> None:
    """A member call the model never saw still says PascalCase (C#, Go), camelCase (Java, JS) or
    snake_case (Python, Rust)."""
    assert "h:. Aa" in features("logger.WriteEntry(message);")
    assert "h:. aA" in features("logger.writeEntry(message);")
    assert "h:. a_a" in features("logger.write_entry(message)")
    assert "h:^ A_A" in features("MAX_ENTRIES = 10")


def test_the_inside_of_a_block_comment_gives_no_words() -> None:
    """A window cut inside a licence header (``*/`` closes a block no line opened) and a block
    opened in the window both speak through the comment marker, not their prose."""
    cut_inside = features(" THIS SOFTWARE IS PROVIDED AS IS\n ANY EXPRESS WARRANTIES\n*/\nint x = 1;")
    opened = features("/* Copyright notice\n   Licensed to you\n*/\nint x = 1;")
    for found in (cut_inside, opened):
        words = {f for f in found if any(w in f for w in ("SOFTWARE", "WARRANTIES", "Licensed"))}
        assert not words
        assert "c:/*" in found and "t:int" in found
    # a "/*" inside a string opens no block: the next line is still code
    assert "t:y" in features("x = '/*'\ny = 2")


def _windows(text: str, rng, count: int) -> list[str]:
    lines = text.splitlines(keepends=True)
    out = []
    for _ in range(count):
        first = rng.randrange(max(len(lines), 1))
        out.append("".join(lines[first : first + rng.randrange(1, 60)]))
    return out


def test_bucket_counts_are_the_buckets_of_the_spelled_out_features() -> None:
    """Predicting counts buckets without spelling features out (``bucket_counts``); training
    spells them out (``features``). Both must give the same counts, or the model would be fed
    what it was not trained on: windows of Python, C headers (block comments, cut anywhere),
    every clear snippet, and odd lines (tabs, unicode, stray ``*/``)."""
    import random
    import sysconfig
    from collections import Counter
    from pathlib import Path

    from detectors.code.language_model import _bucket, bucket_counts

    rng = random.Random(7)
    texts = [path.read_text(errors="replace") for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:60]]
    texts += [path.read_text(errors="replace") for path in sorted(Path("/usr/include").glob("*.h"))[:60]]
    windows = [window for text in texts for window in _windows(text, rng, 8)]
    windows += list(CLEAR_SNIPPETS.values())
    windows += ["\t\tx = 1  # ü\n*/ int y;\n/* a\n b */ c\n\u2028z\r\nw", "", "\n\n", "  /* open\n x = 1", "*/\n$x @y ^ z"]
    assert len(windows) > 400
    for window in windows:
        assert bucket_counts(window) == Counter(map(_bucket, features(window))), window[:200]


def test_tokens_are_the_ones_the_model_was_trained_on() -> None:
    """The model was trained with the token pattern under the ``regex`` module; it now runs
    under ``re`` with ``regex``'s whitespace spelled out. Same tokens on code and on random text
    of the Basic Multilingual Plane (control characters, other scripts' spaces and digits)."""
    import random
    import sysconfig
    from pathlib import Path

    import regex

    from detectors.code.language_model import _SPACE, _TOKEN

    trained = regex.compile(_TOKEN.pattern.replace("[^" + _SPACE, "[^\\s"))
    assert trained.pattern != _TOKEN.pattern
    rng = random.Random(11)
    texts = [path.read_text(errors="replace") for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:40]]
    texts += ["".join(chr(rng.randrange(0, 0x10000)) for _ in range(3000)) for _ in range(50)]
    for text in texts:
        assert _TOKEN.findall(text) == trained.findall(text)


def test_feature_vector_holds_each_bucket_once_with_its_log_count() -> None:
    import math
    from collections import Counter

    from detectors.code.language_model import _bucket, feature_vector

    for snippet in CLEAR_SNIPPETS.values():
        counts = Counter(map(_bucket, features(snippet)))
        indices, values = feature_vector(snippet)
        assert indices.tolist() == sorted(counts)
        raw = [1.0 + math.log(counts[i]) for i in indices.tolist()]
        norm = math.sqrt(sum(v * v for v in raw))
        assert values.tolist() == pytest.approx([v / norm for v in raw], rel=1e-6)
