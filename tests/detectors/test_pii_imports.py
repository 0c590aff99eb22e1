"""What building and running the PII detector imports: spaCy only for context words or a model,
presidio's package (its engine, every recognizer, pydantic) only for the engine.

Each check runs in a fresh interpreter, since this one has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LLM_DLP = str(Path(sys.executable).parent / "llm-dlp")
HEAVY = ("spacy", "presidio_analyzer", "presidio_analyzer.nlp_engine", "pydantic", "thinc")


def _fresh(code: str) -> dict:
    """Run ``code`` (which sets ``result``) in a new interpreter; ``result`` as JSON."""
    program = f"import json, sys\n{code}\nprint(json.dumps(result))"
    done = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_scan_without_context_words_imports_neither_spacy_nor_presidios_package():
    result = _fresh(
        "from detectors.pii import PiiDetector\n"
        "findings = PiiDetector().scan('Mail jane.doe@example.com, card 4111 1111 1111 1111.')\n"
        f"result = {{'rules': sorted(f.rule for f in findings), 'loaded': [m for m in {HEAVY!r} if m in sys.modules]}}"
    )
    assert result == {"rules": ["CREDIT_CARD", "EMAIL_ADDRESS"], "loaded": []}


def test_context_words_load_spacys_tokenizer_but_not_presidios_engine():
    result = _fresh(
        "from detectors.pii import PiiDetector\n"
        "findings = PiiDetector().scan('Ring me, my phone: 415 555 0134')\n"
        "result = {'rules': [f.rule for f in findings], 'spacy': 'spacy' in sys.modules,\n"
        "          'engine': 'presidio_analyzer.analyzer_engine' in sys.modules}"
    )
    assert result == {"rules": ["PHONE_NUMBER"], "spacy": True, "engine": False}


def test_presidios_package_imported_later_has_the_same_classes():
    """The classes the detector loaded on its own are the ones ``import presidio_analyzer``
    gives afterwards, so subclasses and isinstance checks agree either way."""
    result = _fresh(
        "from detectors.pii import light_imports as light\n"
        "import presidio_analyzer\n"
        "from presidio_analyzer import predefined_recognizers as predefined\n"
        "from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer\n"
        "from presidio_analyzer.pattern_recognizer import REGEX_TIMEOUT_SECONDS\n"
        "core = ['AnalysisExplanation', 'RecognizerResult', 'EntityRecognizer', 'LocalRecognizer', 'Pattern',\n"
        "        'PatternRecognizer']\n"
        "recognizers = ['CreditCardRecognizer', 'EmailRecognizer', 'IbanRecognizer', 'IpRecognizer',\n"
        "               'UsItinRecognizer', 'UsPassportRecognizer', 'UsSsnRecognizer']\n"
        "result = {'different': [n for n in core if getattr(light, n) is not getattr(presidio_analyzer, n)]\n"
        "                       + [n for n in recognizers if getattr(light, n) is not getattr(predefined, n)],\n"
        "          'timeout': light.REGEX_TIMEOUT_SECONDS == REGEX_TIMEOUT_SECONDS,\n"
        "          'max_score': light.CONTEXT_MAX_SCORE == ContextAwareEnhancer.MAX_SCORE,\n"
        "          'engine_works': bool(presidio_analyzer.AnalyzerEngine)}"
    )
    assert result == {"different": [], "timeout": True, "max_score": True, "engine_works": True}


def test_presidios_engine_gets_the_real_nlp_artifacts_class():
    result = _fresh(
        "from detectors.pii import PiiDetector\n"
        "detector = PiiDetector()\n"
        "detector._engine\n"
        "from presidio_analyzer.nlp_engine import NlpArtifacts\n"
        "from presidio_analyzer.predefined_recognizers.generic import iban_recognizer\n"
        "result = {'iban': iban_recognizer.NlpArtifacts is NlpArtifacts}"
    )
    assert result == {"iban": True}


def test_spacys_stop_words_are_spacys_own_set():
    result = _fresh(
        "from detectors.pii.light_imports import ENGLISH_STOP_WORDS\n"
        "loaded = 'spacy.language' in sys.modules\n"
        "from spacy.lang.en import English\n"
        "result = {'loaded_first': loaded, 'same': ENGLISH_STOP_WORDS is English.Defaults.stop_words}"
    )
    assert result == {"loaded_first": False, "same": True}


@pytest.mark.parametrize("policy", [False, True], ids=["no policy", "default policy"])
def test_the_scan_command_on_a_small_file_without_context_words_imports_no_spacy(tmp_path, policy):
    sample = tmp_path / "sample.txt"
    sample.write_text("Deploy notes. Contact jane.doe@example.com if the job fails.\n"
                      "def retry(job):\n    for attempt in range(3):\n        if job.run():\n            return True\n")
    args = ["scan", str(sample), "--json"] + (["--policy-dir", str(REPO / "policies"), "--confdir", str(tmp_path / "certs")]
                                      if policy else [])
    result = _fresh(
        "import gc\n"
        "from addons.main import main\n"
        f"status = main({args!r})\n"
        f"result = {{'status': status, 'loaded': [m for m in {HEAVY!r} if m in sys.modules],\n"
        "          'collector': gc.isenabled()}"
    )
    # The garbage collector, paused while the detectors load (detectors.collector), runs again.
    assert result == {"status": 1, "loaded": [], "collector": True}


def test_a_proxy_whose_policies_name_pii_loads_the_tokenizer_in_the_check_before_its_workers_fork():
    result = _fresh(
        "from detectors.pii import PiiDetector\n"
        "detector = PiiDetector()\n"
        "unnamed = detector.self_check(frozenset())\n"
        "before = 'spacy' in sys.modules\n"
        "named = detector.self_check(frozenset({'pii'}))\n"
        "result = {'problems': [p.message for p in unnamed + named], 'before': before,\n"
        "          'after': detector._vocabulary._nlp is not None}"
    )
    assert result == {"problems": [], "before": False, "after": True}
