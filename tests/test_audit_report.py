"""The HTML report, opened offline in headless Chromium: its charts are there and laid out."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest

from llm_dlp.audit.chain import load_or_create_chain_key
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.synthetic import generate
from llm_dlp.cli import main
from llm_dlp.testing.proxyrun import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "artifacts"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # the page must need nothing from any network
]
HOSTILE_USER = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'


class Elements(HTMLParser):
    """Which elements the rendered DOM holds, by tag, id and class."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.tags: Counter[str] = Counter()
        self.inside: list[str] = []
        self.bars: dict[str, int] = defaultdict(int)
        self.rows: dict[str, int] = defaultdict(int)
        self.body: dict[str, str | None] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags[tag] += 1
        if tag == "body":
            self.body = attributes
        if "id" in attributes:
            self.by_id[attributes["id"]] = attributes
        if tag in ("svg", "table"):
            self.inside.append(attributes.get("id") or "")
        if tag == "rect" and "bar" in (attributes.get("class") or "").split() and self.inside:
            self.bars[self.inside[-1]] += 1
        if tag == "tr" and self.inside:
            self.rows[self.inside[-1]] += 1

    def handle_endtag(self, tag):
        if tag in ("svg", "table") and self.inside:
            self.inside.pop()


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run scripts/test-services.sh (Debian's chromium package)")
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, check=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("audit-report")
    confdir = directory / "certs"
    key = load_or_create_chain_key(confdir)
    log = generate(directory / "audit.jsonl", 5_000, key, span=dt.timedelta(days=10))
    just_after = dt.datetime.fromisoformat(log.records[-1]["time"]) + dt.timedelta(minutes=1)
    AuditLog(log.path, key=key, clock=lambda: just_after).write("dlp.decision", tenant="default", user=HOSTILE_USER, decision="block",
                                      host="api.anthropic.com", model="claude-test", reason="<b>blocked</b>",
                                      findings=[{"kind": "secret", "rule": "private-key", "count": 1}])
    out = directory / "report.html"
    assert main(["audit", "report", str(log.path), "--html", str(out), "--confdir", str(confdir)]) == 0
    return out


def test_the_page_is_self_contained(report):
    html = report.read_text()
    assert not re.search(r"<link|<iframe|@import|url\(|\bsrc\s*=\s*[\"']?(?!x\b)", html, re.I)
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}  # a namespace, not a fetch


def test_values_from_the_log_are_escaped(report):
    html = report.read_text()
    assert HOSTILE_USER not in html and "&lt;script&gt;document.title" in html
    assert html.count("<script>") == 1  # the page's own


def test_chromium_renders_every_chart(report, tmp_path):
    dom = chromium("--dump-dom", report.as_uri(), profile=tmp_path / "profile").stdout
    elements = Elements()
    elements.feed(dom)
    for chart in ("chart-over-time", "chart-kinds", "chart-tenants"):
        assert chart in elements.by_id, f"{chart} missing from the rendered page"
        assert elements.bars[chart] > 0, f"{chart} has no bars"
    # Set by the page's own script after layout: all three charts have a size on screen.
    assert elements.body.get("data-charts-drawn") == "3"
    assert elements.bars["chart-kinds"] == 3  # secret, pii, code
    assert elements.bars["chart-tenants"] >= 4
    assert elements.rows["latest-blocks"] == 1 + 25  # header plus the latest 25 blocks
    assert elements.by_id["chain-status"]["class"] == "verify-ok"
    assert "pwned" not in dom.split("<title>")[1].split("</title>")[0]


def test_chromium_screenshot_is_kept_as_an_artefact(report, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "audit-report.png"
    shot.unlink(missing_ok=True)
    shutil.copy(report, ARTIFACTS / "audit-report.html")
    chromium("--window-size=1000,2000", "--hide-scrollbars", f"--screenshot={shot}", report.as_uri(),
             profile=tmp_path / "profile")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 2000)
    assert len(data) > 50_000  # a blank page compresses to a few kilobytes


def test_quiet_periods_show_as_empty_columns_on_a_continuous_axis():
    from llm_dlp.audit.summary import Summary

    summary = Summary()
    for day in (1, 2, 9):
        summary.hourly[dt.datetime(2025, 1, day, 5, tzinfo=dt.UTC)]["block"] += 1
    unit, series = summary.over_time()
    assert unit == "day" and len(series) == 9
    assert [sum(c.values()) for _, c in series] == [1, 1, 0, 0, 0, 0, 0, 0, 1]
    summary.hourly[dt.datetime(2026, 6, 1, tzinfo=dt.UTC)]["allow"] += 1
    unit, series = summary.over_time()
    assert unit == "week" and series[0][0] == dt.datetime(2024, 12, 30, tzinfo=dt.UTC)
