"""Detectors: pure functions of text. See ``detectors.base`` for the contract."""

from detectors.base import Detector, Finding, FindingKind, Problem

__all__ = ["Detector", "Finding", "FindingKind", "Problem"]
