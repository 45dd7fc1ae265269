"""SocioPatterns trace parsing: bad lines reported with line numbers, and the SFHH file's facts."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from firmware_sim.errors import TraceError
from firmware_sim.trace import bystanders, contact_events, load_trace, parse_trace
from tests.conftest import DATASETS

SFHH = DATASETS / "sfhh_2009_tij.dat"


def test_good_lines_grouped_by_window_with_pairs_ordered() -> None:
    trace = parse_trace(["40 3 1", "20 1 2", "40 2 1", "# comment", "", "20 10 9"])
    assert trace.windows == {20: (("1", "2"), ("9", "10")), 40: (("1", "2"), ("1", "3"))}
    assert trace.ids == ("1", "2", "3", "9", "10")
    assert trace.bad_lines == 0
    assert trace.lines == 6
    assert trace.contacts == 4


def test_bad_lines_are_counted_with_line_numbers_and_reasons() -> None:
    lines = [
        "20 1 2",  # 1 ok
        "20 1",  # 2 fields
        "x 1 2",  # 3 time
        "-20 1 2",  # 4 time
        "20 1 1",  # 5 self
        "20 2 1",  # 6 repeated (reversed)
        "30 1 2",  # 7 off grid
        "40 1 bad/id",  # 8 id
        "40 1 2 3",  # 9 fields
        "60 007 2",  # 10 ok, id normalised to 7
        "80 \ufffd 2",  # 11 id (undecodable byte)
    ]
    trace = parse_trace(lines)
    assert trace.bad_lines == 9
    assert [(i.line, i.reason.split()[0]) for i in trace.issues] == [
        (2, "expected"),
        (3, "time"),
        (4, "time"),
        (5, "self-contact"),
        (6, "repeated"),
        (7, "time"),
        (8, "id"),
        (9, "expected"),
        (11, "id"),
    ]
    assert "off the 20 s grid" in trace.issues[5].reason
    assert trace.windows == {20: (("1", "2"),), 60: (("2", "7"),)}


def test_commas_and_textual_ids_are_accepted() -> None:
    trace = parse_trace(["20,a,b", "20\tb\t1"])
    assert trace.windows == {20: (("1", "b"), ("a", "b"))}


def test_other_window_lengths() -> None:
    trace = parse_trace(["60 1 2", "120 1 2", "150 1 2"], window_seconds=60)
    assert sorted(trace.windows) == [60, 120]
    assert trace.bad_lines == 1
    with pytest.raises(ValueError):
        parse_trace([], window_seconds=0)


def test_contact_events_with_and_without_gap_tolerance() -> None:
    trace = parse_trace(["20 1 2", "40 1 2", "80 1 2", "200 1 2", "40 2 3"])
    strict = [(e.pair, e.start, e.end) for e in contact_events(trace)]
    assert strict == [
        (("1", "2"), 0, 40),
        (("2", "3"), 20, 40),
        (("1", "2"), 60, 80),
        (("1", "2"), 180, 200),
    ]
    bridged = [(e.pair, e.start, e.end) for e in contact_events(trace, 20)]
    assert bridged == [(("1", "2"), 0, 80), (("2", "3"), 20, 40), (("1", "2"), 180, 200)]


def test_bystanders_stand_between_their_own_contacts() -> None:
    # 1 talks at 20 and 100 (silence 60 s), 3 at 20 and 200 (silence 160 s).
    trace = parse_trace(["20 1 2", "20 3 4", "60 2 4", "100 1 2", "200 3 5"])
    assert bystanders(trace, 0) == {}
    assert bystanders(trace, 60) == {60: ("1",)}
    assert bystanders(trace, 160) == {60: ("1", "3"), 100: ("3",)}
    with pytest.raises(ValueError, match="presence_gap"):
        bystanders(trace, -1)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read"):
        load_trace(tmp_path / "missing.dat")
    junk = tmp_path / "junk.dat"
    junk.write_bytes(b"hello world\n\xff\xfe 1 2\n")
    with pytest.raises(TraceError, match="no usable contact line; line 1"):
        load_trace(junk)


def test_sfhh_facts_from_the_dataset_readme() -> None:
    """Oracles from ../shared/datasets/README.md, measured independently of this parser."""
    trace = load_trace(SFHH)
    assert trace.lines == 70_261
    assert trace.bad_lines == 0
    assert trace.contacts == 70_261
    assert len(trace.ids) == 403
    assert len(trace.pair_windows()) == 9_565
    events = contact_events(trace)
    assert len(events) == 26_040
    durations = [e.seconds for e in events]
    assert round(statistics.fmean(durations)) == 54
    assert statistics.median(durations) == 20
    assert max(durations) == 24_320
    assert round(100 * sum(1 for d in durations if d == 20) / len(durations), 1) == 60.0
    span_h = (max(trace.windows) - min(trace.windows)) / 3600
    assert 31.7 <= span_h <= 31.8
