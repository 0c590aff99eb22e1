"""Source code in prompts: where it is, which language, and whether it is the company's own."""

from detectors.code.detector import CodeDetector
from detectors.code.index_store import DEFAULT_INDEX_DIR
from detectors.code.proprietary import ProprietaryCodeDetector

__all__ = ["DEFAULT_INDEX_DIR", "CodeDetector", "ProprietaryCodeDetector"]
