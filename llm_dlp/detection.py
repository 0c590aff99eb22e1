"""The set of detectors the proxy, ``scan`` and ``replay`` run on every text segment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from detectors.base import Detector


@dataclass(frozen=True, slots=True)
class DetectorOptions:
    index_dir: Path | None = None  # proprietary-code index; default detectors.code.DEFAULT_INDEX_DIR
    spacy_model: str | None = None  # an installed spaCy pipeline for names in prose; None: no model


def build_detectors(options: DetectorOptions = DetectorOptions()) -> list[Detector]:
    from detectors.code import DEFAULT_INDEX_DIR, CodeDetector, ProprietaryCodeDetector
    from detectors.pii import PiiConfig, PiiDetector
    from detectors.secrets import SecretDetector

    return [
        SecretDetector(),
        PiiDetector(PiiConfig(spacy_model=options.spacy_model)),
        CodeDetector(),
        ProprietaryCodeDetector(options.index_dir or Path(DEFAULT_INDEX_DIR)),
    ]


def known_rule_ids(detectors: Sequence[Detector]) -> dict[str, set[str]]:
    """Rule ids policies may name, per finding kind, so a typo in a policy is an error."""
    known: dict[str, set[str]] = {}
    for detector in detectors:
        if detector.name == "secrets":
            known["secret"] = {rule.id for rule in detector.rules}  # type: ignore[attr-defined]
        elif detector.name == "pii":
            known["pii"] = set(detector.entities) | {"PII_RECORDS"}  # type: ignore[attr-defined]
    return known
