"""The findings cache shared in a real Redis: a second proxy instance reuses the first one's
findings, Redis holds no text, and a Redis that goes away mid-run turns hits into rescans."""

from __future__ import annotations

from detectors.secrets import SecretDetector
from llm_dlp.keys import ValueHasher
from llm_dlp.providers import Segment
from llm_dlp.scan_cache import open_findings_cache
from llm_dlp.scan_workers import SegmentScanner
from llm_dlp.testing import secrets_factory as make
from tests.test_vault import running_redis

HASHER = ValueHasher(b"k" * 32)


def test_a_fleet_shares_findings_through_redis_and_survives_its_loss(tmp_path):
    secret = make.aws_secret_access_key()
    segment = Segment(("messages", 0, "content"), f"aws_secret_access_key = {secret}", "user")
    with running_redis(tmp_path / "redis") as url:
        first = open_findings_cache(HASHER, [SecretDetector()], 1 << 20, url)
        found = SegmentScanner([SecretDetector()], first).find([segment])[0]
        assert found and first.stats.misses == 1
        other = open_findings_cache(HASHER, [SecretDetector()], 1 << 20, url)
        assert SegmentScanner([SecretDetector()], other).find([segment])[0] == found
        assert other.stats.hits == 1
        import redis

        client = redis.Redis.from_url(url)
        keys = client.keys("llm-dlp:findings:*")
        assert len(keys) == 1
        stored = client.get(keys[0])
        assert secret.encode() not in stored and b"aws_secret_access_key" not in stored
    # Redis is gone: a new instance scans (a miss), it does not skip.
    third = open_findings_cache(HASHER, [SecretDetector()], 1 << 20, url)
    assert SegmentScanner([SecretDetector()], third).find([segment])[0] == found
    assert third.stats.hits == 0
