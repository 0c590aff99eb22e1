"""The parts of presidio and spaCy the detector uses without a model, without the rest of them.

``import presidio_analyzer`` runs its package ``__init__``, which imports the analyzer engine,
every predefined recognizer (the URL one compiles a large regex at import), pydantic models
and spaCy, whose own ``__init__`` imports its command line (requests, httpx, typer, jinja2) and
every pipeline component: about 800 modules and a second of CPU before any text is scanned.
A detector without a spaCy model builds on a few presidio classes and spaCy's English stop
list only; spaCy's tokenizer is loaded when a result first needs context words, and the whole
engine only for a model (``detectors.pii.presidio_engine``).

So the modules defining those classes are loaded one by one, in the order presidio's own
``__init__`` loads them, under stand-ins for their parent packages that are dropped again
right after. A later ``import presidio_analyzer`` or ``import spacy`` runs the package's
``__init__`` as usual and finds these modules already loaded, so every class is the same
object whichever way it was reached (``tests/detectors/test_pii_imports.py``). Once the real
package is loaded, it is used as it is.

All of this runs once, when this module is imported (the detector's start-up, before any
thread that could import presidio or spaCy at the same moment and see a stand-in).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

# Each module presidio's ``__init__`` loads before the classes used here, in its order, with
# the names it then binds on the package: the next modules import them from there.
_PRESIDIO_CORE = (
    ("presidio_analyzer.analysis_explanation", ("AnalysisExplanation",)),
    ("presidio_analyzer.recognizer_result", ("RecognizerResult",)),
    ("presidio_analyzer.entity_recognizer", ("EntityRecognizer",)),
    ("presidio_analyzer.local_recognizer", ("LocalRecognizer",)),
    ("presidio_analyzer.pattern", ("Pattern",)),
    ("presidio_analyzer.pattern_recognizer", ("PatternRecognizer",)),
)
_PREDEFINED = "presidio_analyzer.predefined_recognizers"
# The predefined recognizers the detector subclasses (``detectors.pii.engine``).
_PRESIDIO_RECOGNIZERS = {
    "CreditCardRecognizer": f"{_PREDEFINED}.generic.credit_card_recognizer",
    "EmailRecognizer": f"{_PREDEFINED}.generic.email_recognizer",
    "IbanRecognizer": f"{_PREDEFINED}.generic.iban_recognizer",
    "IpRecognizer": f"{_PREDEFINED}.generic.ip_recognizer",
    "UsItinRecognizer": f"{_PREDEFINED}.country_specific.us.us_itin_recognizer",
    "UsPassportRecognizer": f"{_PREDEFINED}.country_specific.us.us_passport_recognizer",
    "UsSsnRecognizer": f"{_PREDEFINED}.country_specific.us.us_ssn_recognizer",
}
# The IBAN module imports ``NlpArtifacts`` (spaCy's Doc inside) for a type annotation only;
# under the stand-ins that name is this placeholder, and the module's global is pointed at the
# real class whenever presidio's NLP engine is loaded (``real_nlp_artifacts``).
_NLP_ENGINE = "presidio_analyzer.nlp_engine"
_ANNOTATION_ONLY = {f"{_PREDEFINED}.generic.iban_recognizer": (_NLP_ENGINE, "NlpArtifacts")}
_STOP_WORDS = "spacy.lang.en.stop_words"


class _AnnotationOnly:
    """Stands for a class a module names only in annotations, until the real one is loaded."""

    def __init__(self, qualified_name: str) -> None:
        self.qualified_name = qualified_name

    def __repr__(self) -> str:
        return f"<{self.qualified_name}, not loaded>"


def _presidio() -> dict[str, Any]:
    """presidio's core classes, ``REGEX_TIMEOUT_SECONDS`` and the predefined recognizers the
    detector subclasses, by name: presidio's own objects."""
    if "presidio_analyzer" in sys.modules:
        import presidio_analyzer
        import presidio_analyzer.pattern_recognizer
        import presidio_analyzer.predefined_recognizers as predefined

        found = {name: getattr(presidio_analyzer, name) for _, names in _PRESIDIO_CORE for name in names}
        found |= {name: getattr(predefined, name) for name in _PRESIDIO_RECOGNIZERS}
        return found | {"REGEX_TIMEOUT_SECONDS": presidio_analyzer.pattern_recognizer.REGEX_TIMEOUT_SECONDS}
    found = {}
    with _stand_ins() as stand_in:
        package = stand_in("presidio_analyzer")
        for module_name, names in _PRESIDIO_CORE:
            module = _load(module_name, stand_in)
            for name in names:
                found[name] = getattr(module, name)
                setattr(package, name, found[name])
        found["REGEX_TIMEOUT_SECONDS"] = module.REGEX_TIMEOUT_SECONDS  # pattern_recognizer's
        for class_name, module_name in _PRESIDIO_RECOGNIZERS.items():
            found[class_name] = getattr(_load(module_name, stand_in), class_name)
    return found


def real_nlp_artifacts() -> type:
    """presidio's ``NlpArtifacts`` (this imports presidio's NLP engines and spaCy), also put
    where a placeholder stood."""
    from presidio_analyzer.nlp_engine import NlpArtifacts

    for module_name, (_, name) in _ANNOTATION_ONLY.items():
        module = sys.modules.get(module_name)
        if module is not None and isinstance(getattr(module, name, None), _AnnotationOnly):
            setattr(module, name, NlpArtifacts)
    return NlpArtifacts


def _english_stop_words() -> set[str]:
    """spaCy's English stop list (``spacy.lang.en.stop_words.STOP_WORDS``), a module of data."""
    if "spacy" not in sys.modules:
        with _stand_ins() as stand_in:
            _load(_STOP_WORDS, stand_in)
    return importlib.import_module(_STOP_WORDS).STOP_WORDS


@contextmanager
def _stand_ins() -> Iterator[Any]:
    """``stand_in(name)``: an empty package module for ``name`` in sys.modules (its
    ``__init__`` not run), until the block ends."""
    made: list[str] = []

    def stand_in(name: str) -> ModuleType:
        module = sys.modules.get(name)
        if module is not None:
            return module
        parent, _, _ = name.rpartition(".")
        spec = importlib.util.find_spec(name) if not parent else importlib.machinery.PathFinder.find_spec(
            name, stand_in(parent).__path__
        )
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError(f"no package {name}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        made.append(name)
        return module

    try:
        yield stand_in
    finally:
        for name in reversed(made):
            del sys.modules[name]


def _load(name: str, stand_in: Any) -> ModuleType:
    """Module ``name`` itself, run under stand-ins for its parent packages."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    parent, _, _ = name.rpartition(".")
    if name in _ANNOTATION_ONLY:
        package, attribute = _ANNOTATION_ONLY[name]
        setattr(stand_in(package), attribute, _AnnotationOnly(f"{package}.{attribute}"))
    spec = importlib.machinery.PathFinder.find_spec(name, stand_in(parent).__path__)
    if spec is None:
        raise ImportError(f"no module {name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


_found = _presidio()
AnalysisExplanation = _found["AnalysisExplanation"]
RecognizerResult = _found["RecognizerResult"]
EntityRecognizer = _found["EntityRecognizer"]
LocalRecognizer = _found["LocalRecognizer"]
Pattern = _found["Pattern"]
PatternRecognizer = _found["PatternRecognizer"]
REGEX_TIMEOUT_SECONDS: int = _found["REGEX_TIMEOUT_SECONDS"]
CreditCardRecognizer = _found["CreditCardRecognizer"]
EmailRecognizer = _found["EmailRecognizer"]
IbanRecognizer = _found["IbanRecognizer"]
IpRecognizer = _found["IpRecognizer"]
UsItinRecognizer = _found["UsItinRecognizer"]
UsPassportRecognizer = _found["UsPassportRecognizer"]
UsSsnRecognizer = _found["UsSsnRecognizer"]
# presidio's ``ContextAwareEnhancer.MAX_SCORE`` (its module imports spaCy); the same as
# ``EntityRecognizer.MAX_SCORE``, which the tests check.
CONTEXT_MAX_SCORE: float = EntityRecognizer.MAX_SCORE
ENGLISH_STOP_WORDS: set[str] = _english_stop_words()
