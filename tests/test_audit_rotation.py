"""Rotation by size and by day, retention by purge, restarts and a second writer: one chain throughout."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from llm_dlp.audit.chain import PURGE_EVENT, load_or_create_chain_key
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.purge import PurgeRefused, purge
from llm_dlp.audit.rotation import Rotation, log_files
from llm_dlp.audit.verify import verify
from llm_dlp.cli import main

START = dt.datetime(2025, 6, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    """Time that moves only when the test says so: rotation by day without waiting a day."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def confdir(tmp_path) -> Path:
    return tmp_path / "certs"


@pytest.fixture
def key(confdir) -> bytes:
    return load_or_create_chain_key(confdir)


def write_requests(log: AuditLog, n: int, clock: Clock | None = None, **advance: float) -> None:
    for i in range(n):
        log.write("dlp.decision", tenant="default", user=f"user{i % 3}", decision="allow", findings=[], note="x" * 40)
        if clock is not None and advance:
            clock.advance(**advance)


def verify_cli(path: Path, confdir: Path, capsys) -> tuple[int, str]:
    code = main(["audit", "verify", str(path), "--confdir", str(confdir)])
    return code, capsys.readouterr().out


def test_rotation_by_size_keeps_one_chain(tmp_path, confdir, key, capsys):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, key=key, rotation=Rotation(max_bytes=2_000))
    write_requests(log, 40)
    log.close()
    files = log_files(path)
    assert len(files) > 5 and files[-1] == path
    assert all(f.stat().st_size < 2_000 + 600 for f in files)
    assert [json.loads(f.read_text().splitlines()[0])["seq"] for f in files] == sorted(
        json.loads(f.read_text().splitlines()[0])["seq"] for f in files)
    code, out = verify_cli(path, confdir, capsys)
    assert code == 0 and out.startswith(f"OK: 40 lines in {len(files)} file(s), seq 1..40")


def test_rotation_by_day_names_files_by_their_first_line(tmp_path, key):
    clock = Clock()
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, key=key, rotation=Rotation(max_bytes=None, daily=True), clock=clock)
    write_requests(log, 10, clock, hours=7)  # 09:00, 16:00, 23:00, 06:00 the next day ...
    log.close()
    names = [f.name for f in log_files(path)]
    assert names == [
        "audit.20250601T090000Z.000000000001.jsonl",
        "audit.20250602T060000Z.000000000004.jsonl",
        "audit.20250603T030000Z.000000000007.jsonl",
        "audit.jsonl",
    ]
    assert verify(log_files(path), key).ok


def test_tampering_in_a_rotated_file_is_named_by_file_and_line(tmp_path, confdir, key, capsys):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, key=key, rotation=Rotation(max_bytes=2_000))
    write_requests(log, 40)
    log.close()
    third = log_files(path)[2]
    lines = third.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"user": "user', b'"user": "admin')
    third.write_bytes(b"".join(lines))
    code, out = verify_cli(path, confdir, capsys)
    assert code == 1 and out.startswith(f"FAILED: {third}:2: ") and "edited" in out


def test_a_deleted_rotated_file_is_a_gap(tmp_path, confdir, key, capsys):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, key=key, rotation=Rotation(max_bytes=2_000))
    write_requests(log, 40)
    log.close()
    files = log_files(path)
    files[2].unlink()
    code, out = verify_cli(path, confdir, capsys)
    assert code == 1 and out.startswith(f"FAILED: {files[3]}:1: ") and "missing here" in out


def test_a_deleted_oldest_file_without_a_purge_is_reported(tmp_path, confdir, key, capsys):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, key=key, rotation=Rotation(max_bytes=2_000))
    write_requests(log, 40)
    log.close()
    files = log_files(path)
    files[0].unlink()
    code, out = verify_cli(path, confdir, capsys)
    assert code == 1 and out.startswith(f"FAILED: {files[1]}:1: ") and "no purge event records" in out


def _daily_log(tmp_path: Path, key: bytes, days: int = 6) -> tuple[Path, Clock]:
    clock = Clock()
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, key=key, rotation=Rotation(max_bytes=None, daily=True), clock=clock)
    write_requests(log, days * 4, clock, hours=6)
    log.close()
    return path, clock


def test_purge_deletes_old_files_records_itself_and_still_verifies(tmp_path, confdir, key, capsys):
    path, clock = _daily_log(tmp_path, key)
    before = log_files(path)
    assert main(["audit", "purge", str(path), "--before", "2025-06-04", "--confdir", str(confdir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("deleted 3 file(s), 11 lines, up to seq 11")
    after = log_files(path)
    assert after == before[3:]
    purge_line = json.loads(path.read_text().splitlines()[-1])
    assert purge_line["event"] == PURGE_EVENT
    assert purge_line["anchor_seq"] == 11 and purge_line["files"] == [p.name for p in before[:3]]
    code, out = verify_cli(path, confdir, capsys)
    assert code == 0 and "seq 1..11 purged by record" in out

    # The proxy carries on after the purge; the chain still holds, and still catches an edit.
    log = AuditLog(path, key=key, rotation=Rotation(max_bytes=None, daily=True), clock=clock)
    write_requests(log, 5, clock, hours=6)
    log.close()
    assert verify(log_files(path), key).ok
    newest = log_files(path)[-1]
    newest.write_text(newest.read_text().replace('"user1"', '"mallory"', 1))
    assert not verify(log_files(path), key).ok


def test_purge_only_takes_whole_files_from_the_start_of_the_chain(tmp_path, key):
    path, _clock = _daily_log(tmp_path, key)
    result = purge(path, dt.datetime(2025, 6, 2, 12, tzinfo=dt.UTC), key)
    assert [p.name for p in result.files] == ["audit.20250601T090000Z.000000000001.jsonl"]  # 2 June still has lines after noon
    assert purge(path, dt.datetime(2025, 1, 1, tzinfo=dt.UTC), key).files == []
    assert verify(log_files(path), key).ok


def test_purge_never_removes_the_current_file(tmp_path, key):
    path, _clock = _daily_log(tmp_path, key)
    purge(path, dt.datetime(2030, 1, 1, tzinfo=dt.UTC), key)
    assert log_files(path) == [path]
    assert verify([path], key).ok


def test_deleting_the_purge_record_is_detected(tmp_path, key):
    path, _clock = _daily_log(tmp_path, key)
    purge(path, dt.datetime(2025, 6, 4, tzinfo=dt.UTC), key)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))
    result = verify(log_files(path), key)
    assert not result.ok and "no purge event records" in result.problem.reason


def test_a_tampered_log_is_not_purged(tmp_path, key):
    path, _clock = _daily_log(tmp_path, key)
    first = log_files(path)[0]
    first.write_text(first.read_text().replace('"user0"', '"nobody"', 1))
    with pytest.raises(PurgeRefused, match="edited"):
        purge(path, dt.datetime(2025, 6, 4, tzinfo=dt.UTC), key)
    assert first.exists()


def test_purge_dry_run_deletes_nothing(tmp_path, key):
    path, _clock = _daily_log(tmp_path, key)
    files = log_files(path)
    result = purge(path, dt.datetime(2025, 6, 4, tzinfo=dt.UTC), key, dry_run=True)
    assert len(result.files) == 3 and log_files(path) == files


def test_a_restarted_proxy_continues_the_chain(tmp_path, key):
    path = tmp_path / "audit.jsonl"
    for _restart in range(3):
        log = AuditLog(path, key=key)
        write_requests(log, 4)
        log.close()
    result = verify([path], key)
    assert result.ok and result.last_seq == 12


def test_a_restart_after_rotation_continues_from_the_rotated_file(tmp_path, key):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, key=key, rotation=Rotation(max_bytes=1_000))
    write_requests(log, 9)
    log.close()
    path.unlink()  # e.g. the current file was rotated by hand
    log = AuditLog(path, key=key)
    write_requests(log, 2)
    log.close()
    assert verify(log_files(path), key).ok


def test_two_writers_on_one_log_interleave_into_one_chain(tmp_path, key):
    path = tmp_path / "audit.jsonl"
    proxy_log = AuditLog(path, key=key, rotation=Rotation(max_bytes=3_000))
    other = AuditLog(path, key=key, rotation=Rotation(max_bytes=None, daily=False))
    for i in range(30):
        (proxy_log if i % 3 else other).write("dlp.decision", tenant="t", n=i)
    proxy_log.close()
    other.close()
    files = log_files(path)
    assert len(files) > 1
    result = verify(files, key)
    assert result.ok and result.last_seq == 30


def test_a_torn_last_line_is_named_and_new_lines_start_clean(tmp_path, key):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, key=key)
    write_requests(log, 3)
    log.close()
    with open(path, "ab") as handle:
        handle.write(b'{"time": "2025-06-01T00:00:00.000000Z", "event": "dlp.dec')  # a crash mid-write
    log = AuditLog(path, key=key)
    write_requests(log, 2)
    log.close()
    result = verify([path], key)
    assert result.problem is not None and result.problem.line == 4
    assert len(path.read_text().splitlines()) == 6
