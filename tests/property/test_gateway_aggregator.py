"""Aggregator properties: order-independent, symmetric, as defined, never closes too early."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.aggregator import Aggregator
from gateway.pairing import Contact
from protocol.api import DetectionSettings, Meeting

BADGES = ["a", "b", "c", "d"]


def detection(window: int, gap: int, minimum: int, lateness: int) -> DetectionSettings:
    return DetectionSettings(
        window_seconds=window,
        gap_tolerance_seconds=gap,
        min_meeting_seconds=minimum,
        allowed_lateness_seconds=lateness,
    )


detections = st.builds(
    detection,
    window=st.sampled_from([10, 20, 30]),
    gap=st.integers(0, 120),
    minimum=st.integers(0, 200),
    lateness=st.integers(0, 120),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[DetectionSettings, list[Contact]]:
    settings_ = draw(detections)
    window = settings_.window_seconds
    contacts = draw(
        st.lists(
            st.builds(
                lambda pair, i, ra, rb: Contact.of(pair[0], pair[1], i * window, ra, rb),
                st.sampled_from([(x, y) for x in BADGES for y in BADGES if x < y]),
                st.integers(0, 40),
                st.integers(-90, -30),
                st.integers(-90, -30),
            ),
            max_size=60,
        )
    )
    return settings_, contacts


def aggregate(settings_: DetectionSettings, contacts: list[Contact]) -> list[Meeting]:
    counters: Counter[str] = Counter()
    aggregator = Aggregator(settings_, event="ev", gateway="gw", zone="z", counters=counters)
    for contact in contacts:
        aggregator.add(contact)
    return aggregator.flush()


@given(scenarios(), st.randoms())
def test_order_does_not_matter(
    scenario: tuple[DetectionSettings, list[Contact]], rnd: random.Random
) -> None:
    settings_, contacts = scenario
    shuffled = list(contacts)
    rnd.shuffle(shuffled)
    assert aggregate(settings_, shuffled) == aggregate(settings_, contacts)


@given(scenarios(), st.lists(st.booleans(), min_size=60, max_size=60))
def test_badge_order_does_not_matter(
    scenario: tuple[DetectionSettings, list[Contact]], flips: list[bool]
) -> None:
    settings_, contacts = scenario
    mirrored = [
        Contact.of(c.b, c.a, c.window_start, c.rssi_b, c.rssi_a) if flip else c
        for c, flip in zip(contacts, flips, strict=False)
    ]
    raw_swapped = [
        Contact(c.b, c.a, c.window_start, c.rssi_b, c.rssi_a) for c in contacts
    ]  # not normalised: the aggregator must normalise itself
    expected = aggregate(settings_, contacts)
    assert aggregate(settings_, mirrored) == expected
    assert aggregate(settings_, raw_swapped) == expected


def reference(settings_: DetectionSettings, contacts: list[Contact]) -> set[tuple[object, ...]]:
    """The definition, written as plainly as possible."""
    window, gap = settings_.window_seconds, settings_.gap_tolerance_seconds
    starts: dict[tuple[str, str], set[int]] = {}
    for c in contacts:
        starts.setdefault((c.a, c.b), set()).add(c.window_start)
    expected: set[tuple[object, ...]] = set()
    for pair, values in starts.items():
        ordered = sorted(values)
        run = [ordered[0]]
        for start in [*ordered[1:], None]:
            if start is not None and start - (run[-1] + window) <= gap:
                run.append(start)
                continue
            if run[-1] + window - run[0] >= settings_.min_meeting_seconds:
                expected.add((pair, run[0], run[-1] + window, len(run), len(run) * window))
            if start is not None:
                run = [start]
    return expected


@given(scenarios())
def test_meetings_match_the_definition(scenario: tuple[DetectionSettings, list[Contact]]) -> None:
    settings_, contacts = scenario
    meetings = aggregate(settings_, contacts)
    got = {
        ((m.badge_a, m.badge_b), m.first_seen, m.last_seen, m.windows, m.contact_seconds)
        for m in meetings
    }
    assert got == reference(settings_, contacts)
    assert len(got) == len(meetings)
    for m in meetings:
        assert m.last_seen - m.first_seen >= settings_.min_meeting_seconds
        assert m.contact_seconds <= m.last_seen - m.first_seen


@settings(max_examples=200)
@given(scenarios(), st.lists(st.integers(0, 200), min_size=60, max_size=60))
def test_closing_on_the_watermark_never_closes_too_early(
    scenario: tuple[DetectionSettings, list[Contact]], slack: list[int]
) -> None:
    """Contacts arrive in window order, the watermark only as far as the stale rule allows.

    Meetings closed along the way plus a final flush equal aggregating everything at
    once: no run was closed while a window that would extend it could still arrive.
    """
    settings_, contacts = scenario
    window, lateness = settings_.window_seconds, settings_.allowed_lateness_seconds
    ordered = sorted(contacts, key=lambda c: c.window_start)
    counters: Counter[str] = Counter()
    aggregator = Aggregator(settings_, event="ev", gateway="gw", zone="z", counters=counters)
    closed: list[Meeting] = []
    watermark = 0
    for i, contact in enumerate(ordered):
        assert not contact.window_start + window <= watermark - lateness  # not stale
        aggregator.add(contact)
        if i + 1 < len(ordered):
            # the largest watermark under which the next contact is still accepted
            highest = ordered[i + 1].window_start + window + lateness - 1
            watermark = max(watermark, highest - slack[i])
            closed += aggregator.advance(watermark)
    closed += aggregator.flush()
    assert sorted(closed, key=lambda m: m.id) == sorted(
        aggregate(settings_, contacts), key=lambda m: m.id
    )
