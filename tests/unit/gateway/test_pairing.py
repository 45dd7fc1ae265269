"""Pairing: mutual half-contacts make one contact; single-sided evidence is counted; taps."""

from __future__ import annotations

from collections import Counter

import msgspec

from gateway.pairing import Contact, Pairing
from gateway.registry import BadgeRegistry
from protocol.api import DetectionSettings, Meeting
from protocol.ids import meeting_id
from protocol.messages import Heard, SightingReport, TapHalf
from tests.unit.gateway.conftest import EVENT
from tests.unit.gateway.support import GATEWAY, T0, WINDOW, ZONE, TestBadge, transcript

THRESHOLD = DetectionSettings().rssi_threshold_dbm
LATENESS = 60


def report(member: TestBadge, w: int, heard: list[tuple[TestBadge, int]]) -> SightingReport:
    return msgspec.json.decode(member.report(w, heard)[1][64:], type=SightingReport)


def tap(member: TestBadge, a: TestBadge, b: TestBadge, t: int) -> TapHalf:
    return msgspec.json.decode(member.tap(transcript(a, b, t))[1][64:], type=TapHalf)


def make(badge_registry: BadgeRegistry) -> tuple[Pairing, Counter[str]]:
    counters: Counter[str] = Counter()
    return Pairing(badge_registry, counters), counters


def test_mutual_sighting_makes_one_contact(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    pairing, _ = make(badge_registry)
    a, b = members[0], members[1]
    assert pairing.add_report(report(a, T0, [(b, -60)])) == []
    assert pairing.pending_halves == 1
    contacts = pairing.add_report(report(b, T0, [(a, -55)]))
    assert contacts == [Contact(a.badge, b.badge, T0, -60, -55)]
    assert pairing.pending_halves == 0
    # another report of the same window cannot emit the pair again
    assert pairing.add_report(report(a, T0, [(b, -50)])) == []


def test_contact_is_ordered_whoever_reports_first(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    pairing, _ = make(badge_registry)
    a, b = members[0], members[1]
    pairing.add_report(report(b, T0, [(a, -55)]))
    assert pairing.add_report(report(a, T0, [(b, -60)])) == [
        Contact(a.badge, b.badge, T0, -60, -55)
    ]


def test_threshold_is_inclusive_and_weak_sightings_are_evidence(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    pairing, counters = make(badge_registry)
    a, b, c = members[0], members[1], members[2]
    pairing.add_report(report(a, T0, [(b, THRESHOLD), (c, THRESHOLD - 1)]))
    pairing.add_report(report(c, T0, [(a, -40)]))
    contacts = pairing.add_report(report(b, T0, [(a, THRESHOLD)]))
    assert contacts == [Contact(a.badge, b.badge, T0, THRESHOLD, THRESHOLD)]
    assert counters["heard_below_threshold"] == 1
    assert pairing.pending_halves == 1  # c->a waits for a partner that will never come


def test_windows_do_not_mix(badge_registry: BadgeRegistry, members: list[TestBadge]) -> None:
    pairing, _ = make(badge_registry)
    a, b = members[0], members[1]
    pairing.add_report(report(a, T0, [(b, -60)]))
    assert pairing.add_report(report(b, T0 + WINDOW, [(a, -60)])) == []


def test_unresolvable_revoked_and_own_ephids_are_counted(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    pairing, counters = make(badge_registry)
    a = members[0]
    unknown = Heard(ephid="00" * 16, rssi_median=-50, rssi_max=-45, count=3)
    message = msgspec.json.decode(
        a.report(T0, [(members[3], -50), (a, -50)], extra=[unknown])[1][64:], type=SightingReport
    )
    assert pairing.add_report(message) == []
    assert counters["unresolved_ephid"] == 2  # the revoked badge and the unknown EphID
    assert counters["self_sighting"] == 1
    assert pairing.pending_halves == 0


def test_expire_drops_halves_that_can_no_longer_match(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    pairing, counters = make(badge_registry)
    a, b, c = members[0], members[1], members[2]
    pairing.add_report(report(a, T0, [(b, -60), (c, -60)]))
    # the window is stale once T0 + WINDOW <= W - LATENESS
    pairing.expire(T0 + WINDOW + LATENESS - 1)
    assert pairing.pending_halves == 2
    pairing.expire(T0 + WINDOW + LATENESS)
    assert pairing.pending_halves == 0
    assert counters["single_sided"] == 2


def test_two_tap_halves_make_a_tap_meeting(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    pairing, _ = make(badge_registry)
    a, b = members[0], members[1]
    t = T0 + 7
    assert pairing.add_tap(tap(b, a, b, t)) is None
    assert pairing.add_tap(tap(b, a, b, t)) is None  # the same badge twice is still one half
    assert pairing.pending_taps == 1
    meeting = pairing.add_tap(tap(a, a, b, t))
    assert meeting == Meeting(
        id=meeting_id("tap", EVENT, a.badge, b.badge, t),
        event=EVENT,
        kind="tap",
        badge_a=a.badge,
        badge_b=b.badge,
        first_seen=t,
        last_seen=t,
        contact_seconds=0,
        windows=0,
        gateway=GATEWAY,
        zone=ZONE,
    )
    assert pairing.pending_taps == 0


def test_tap_halves_with_different_transcripts_do_not_match(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    pairing, counters = make(badge_registry)
    a, b = members[0], members[1]
    assert pairing.add_tap(tap(a, a, b, T0)) is None
    assert pairing.add_tap(tap(b, a, b, T0 + 1)) is None
    pairing.expire(T0 + 1 + WINDOW + LATENESS)
    assert pairing.pending_taps == 0
    assert counters["single_sided_taps"] == 2


def test_snapshot_restore_continues_where_it_stopped(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    pairing, _ = make(badge_registry)
    a, b, c = members[0], members[1], members[2]
    pairing.add_report(report(a, T0, [(b, -60), (c, -61)]))
    pairing.add_report(report(c, T0, [(a, -62)]))  # a-c emitted already
    pairing.add_tap(tap(a, a, b, T0 + 3))
    state = msgspec.json.decode(msgspec.json.encode(pairing.snapshot()))
    again, _ = make(badge_registry)
    again.restore(state)
    assert again.snapshot() == pairing.snapshot()
    assert again.add_report(report(b, T0, [(a, -50)])) == [Contact(a.badge, b.badge, T0, -60, -50)]
    assert again.add_report(report(a, T0, [(c, -50)])) == []  # already emitted before
    assert again.add_tap(tap(b, a, b, T0 + 3)) is not None
