"""The set of detectors the proxy, ``scan`` and ``replay`` run on every text segment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from detectors.base import Detector


@dataclass(frozen=True, slots=True)
class DetectorOptions:
    index_dir: Path | None = None
    spacy_model: str | None = None


def build_detectors(options: DetectorOptions = DetectorOptions()) -> list[Detector]:
    from detectors.secrets import SecretDetector

    return [SecretDetector()]
