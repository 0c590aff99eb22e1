"""spaCy pipelines for the PII detector: loaded when first needed, never downloaded.

NLP is a blank English spaCy pipeline (tokenizer only: context words) unless the user names an
installed model; a name that is neither an installed package nor a path is refused, never
downloaded. Importing this module imports spaCy (most of a second of CPU), so the detector
imports it only when a pipeline is loaded.
"""

from __future__ import annotations

from pathlib import Path

import spacy
from spacy.language import Language

from detectors.pii.engine import LANGUAGE


def load_pipeline(spacy_model: str | None) -> Language:
    if spacy_model is None:
        nlp = spacy.blank(LANGUAGE)
    elif spacy.util.is_package(spacy_model) or Path(spacy_model).exists():
        nlp = spacy.load(spacy_model)
    else:
        raise ValueError(
            f"spaCy model {spacy_model!r} is not installed (nor a path); install it first, "
            "or leave spacy_model unset to run without one. It is never downloaded."
        )
    # The proxy bounds request sizes itself; spaCy's own 1,000,000-character cap would raise.
    nlp.max_length = 1 << 31
    return nlp
