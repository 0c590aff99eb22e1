"""Source code in prompts: where it is, which language, and whether it is the company's own."""

from detectors.code.detector import CodeDetector

__all__ = ["CodeDetector"]
