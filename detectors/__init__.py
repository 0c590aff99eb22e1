"""Detectors: pure functions of text. See ``detectors.base`` for the contract."""

from detectors.base import Detector, Finding

__all__ = ["Detector", "Finding"]
