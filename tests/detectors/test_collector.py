"""``collector_paused``: the cyclic garbage collector off while a load runs, then as it was."""

from __future__ import annotations

import gc

import pytest

from detectors.collector import collector_paused


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_resumed_after(collector_on):
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_inner_pause_leaves_the_outer_one_in_force(collector_on):
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_resumed_when_the_load_raises(collector_on):
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("a model that cannot load")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(collector_on):
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
    gc.enable()


def test_the_pii_detectors_spacy_load_resumes_the_collector(collector_on):
    from detectors.pii import PiiDetector

    detector = PiiDetector()
    assert [f.rule for f in detector.scan("Ring me, my phone: 415 555 0134")] == ["PHONE_NUMBER"]
    assert gc.isenabled()
