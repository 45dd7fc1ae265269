"""Aggregator: runs, gap bridging, minimum duration, and when a run is final."""

from __future__ import annotations

from collections import Counter

import msgspec
import pytest

from gateway.aggregator import Aggregator
from gateway.pairing import Contact
from protocol.api import DetectionSettings
from protocol.ids import meeting_id

W = 20
GAP = 60
MIN = 60
LATE = 60
SETTINGS = DetectionSettings(
    window_seconds=W,
    gap_tolerance_seconds=GAP,
    min_meeting_seconds=MIN,
    allowed_lateness_seconds=LATE,
)


def make(settings: DetectionSettings = SETTINGS) -> tuple[Aggregator, Counter[str]]:
    counters: Counter[str] = Counter()
    agg = Aggregator(settings, event="ev", gateway="gw", zone="Hall A", counters=counters)
    return agg, counters


def add_windows(agg: Aggregator, starts: list[int], a: str = "x", b: str = "y") -> None:
    for start in starts:
        agg.add(Contact.of(a, b, start, -60, -50))


def test_consecutive_windows_make_one_meeting_with_all_fields() -> None:
    agg, _ = make()
    add_windows(agg, [0, 20, 40, 60])
    agg.add(Contact.of("y", "x", 80, -40, -70))  # reversed order of the badges
    [meeting] = agg.flush()
    assert meeting.id == meeting_id("proximity", "ev", "x", "y", 0)
    assert (meeting.badge_a, meeting.badge_b, meeting.kind) == ("x", "y", "proximity")
    assert (meeting.first_seen, meeting.last_seen) == (0, 100)
    assert (meeting.contact_seconds, meeting.windows) == (100, 5)
    assert (meeting.gateway, meeting.zone, meeting.event) == ("gw", "Hall A", "ev")
    # x measured -60 x4 and -70, y measured -50 x4 and -40 -> median of all ten
    assert meeting.rssi_median_dbm == -55


def test_gaps_up_to_the_tolerance_are_bridged() -> None:
    agg, _ = make()
    # gap = next.start - (prev.start + W): 100 - 40 = 60 <= 60 -> bridged
    add_windows(agg, [0, 20, 100, 120])
    [meeting] = agg.flush()
    assert (meeting.first_seen, meeting.last_seen, meeting.windows) == (0, 140, 4)
    assert meeting.contact_seconds == 80


def test_a_longer_gap_splits_the_meeting() -> None:
    agg, _ = make()
    add_windows(agg, [0, 20, 40, 120, 140, 160])  # gap 120 - 60 = 60 -> bridged
    assert len(agg.flush()) == 1
    agg, _ = make()
    add_windows(agg, [0, 20, 40, 140, 160, 180])  # gap 140 - 60 = 80 -> split
    meetings = agg.flush()
    assert [(m.first_seen, m.last_seen) for m in meetings] == [(0, 60), (140, 200)]


def test_short_contacts_are_dropped_and_counted() -> None:
    agg, counters = make()
    add_windows(agg, [0, 20])  # 40 s < 60 s
    add_windows(agg, [0, 20, 40], a="p", b="q")  # exactly 60 s is enough
    meetings = agg.flush()
    assert [(m.badge_a, m.badge_b) for m in meetings] == [("p", "q")]
    assert counters["short_contacts"] == 1
    assert agg.open_pairs == 0


def test_a_bridged_gap_counts_towards_the_duration() -> None:
    agg, _ = make()
    add_windows(agg, [0, 60])  # duration 80 s, contact 40 s
    [meeting] = agg.flush()
    assert (meeting.last_seen - meeting.first_seen, meeting.contact_seconds) == (80, 40)


def is_stale(window_start: int, watermark: int) -> bool:
    """The verifier's rule."""
    return window_start + W <= watermark - LATE


@pytest.mark.parametrize("last", [0, 20, 400, 1000])
def test_a_run_is_final_exactly_when_every_extending_window_would_be_stale(last: int) -> None:
    agg, _ = make()
    extenders = [s for s in range(last + W, last + W + GAP + 1) if s % W == 0]
    for watermark in range(last - 200, last + 400, W):
        all_stale = all(is_stale(s, watermark) for s in extenders)
        assert agg.is_final(last, watermark) == all_stale, watermark


def test_advance_closes_runs_only_when_final() -> None:
    agg, _ = make()
    add_windows(agg, [0, 20, 40])
    add_windows(agg, [0, 20, 40, 60, 80], a="p", b="q")
    # run x-y ends at 60: final once 60 + GAP <= W - LATE - W, i.e. W >= 200
    assert agg.advance(180) == []
    [first] = agg.advance(200)
    assert (first.badge_a, first.last_seen) == ("x", 60)
    assert agg.open_pairs == 1
    [second] = agg.advance(240)
    assert (second.badge_a, second.last_seen) == ("p", 100)
    assert agg.open_pairs == 0 and agg.advance(10_000) == []


def test_earlier_runs_close_while_later_ones_stay_open() -> None:
    agg, _ = make()
    add_windows(agg, [0, 20, 40, 400])
    [meeting] = agg.advance(300)
    assert meeting.last_seen == 60
    assert agg.open_windows == 1


def test_adding_a_window_twice_is_idempotent() -> None:
    agg, _ = make()
    add_windows(agg, [0, 20, 40, 40, 20])
    [meeting] = agg.flush()
    assert meeting.windows == 3


def test_zone_can_change_for_later_meetings() -> None:
    agg, _ = make()
    add_windows(agg, [0, 20, 40])
    agg.zone = "Expo"
    assert agg.flush()[0].zone == "Expo"


def test_snapshot_restore_gives_the_same_meetings() -> None:
    agg, _ = make()
    add_windows(agg, [0, 20, 40, 200, 220])
    add_windows(agg, [40, 60], a="p", b="q")
    state = msgspec.json.decode(msgspec.json.encode(agg.snapshot()))
    again, _ = make()
    again.restore(state)
    assert again.flush() == agg.flush()
