"""Watermark: the quorum-th largest latest window start, monotone, robust to one runaway clock."""

from __future__ import annotations

import heapq

from hypothesis import given
from hypothesis import strategies as st

from gateway.watermark import Watermark


def test_needs_a_quorum_before_it_exists() -> None:
    w = Watermark(2)
    assert w.value is None
    assert not w.observe("a", 100)
    assert w.value is None
    assert w.observe("b", 60)
    assert w.value == 60


def test_a_runaway_badge_cannot_close_everyone() -> None:
    w = Watermark(2)
    w.observe("a", 100)
    w.observe("b", 100)
    w.observe("runaway", 10**9)
    assert w.value == 100
    w.observe("c", 140)
    assert w.value == 140


def test_never_goes_back() -> None:
    w = Watermark(2)
    for badge, t in [("a", 100), ("b", 120), ("a", 20), ("b", 0), ("c", 40)]:
        w.observe(badge, t)
    assert w.value == 100


def test_restore_round_trip_even_with_another_quorum() -> None:
    w = Watermark(3)
    for badge, t in [("a", 100), ("b", 120), ("c", 140)]:
        w.observe(badge, t)
    again = Watermark(3)
    again.restore(w.snapshot())
    assert again.value == 100
    smaller = Watermark(2)
    smaller.restore(w.snapshot())
    assert smaller.value == 120


@given(
    quorum=st.integers(1, 4),
    events=st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(0, 500)), max_size=60),
)
def test_matches_the_definition(quorum: int, events: list[tuple[str, int]]) -> None:
    w = Watermark(quorum)
    latest: dict[str, int] = {}
    for badge, t in events:
        before = w.value
        moved = w.observe(badge, t)
        latest[badge] = max(t, latest.get(badge, t))
        expected = heapq.nlargest(quorum, latest.values())[-1] if len(latest) >= quorum else None
        assert w.value == expected
        assert moved == (w.value != before)
