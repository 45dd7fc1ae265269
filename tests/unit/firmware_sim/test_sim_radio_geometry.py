"""Pairs kept between windows (``PairGeometry``) are exactly the pairs searched afresh."""

from __future__ import annotations

import random
from dataclasses import fields

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.crowd import Agenda, Crowd, CrowdParams
from firmware_sim.frame import ABSENT, Frame, neighbour_pairs, neighbour_pairs_of
from firmware_sim.radio import RadioParams, RealisticRadio
from firmware_sim.radio_geometry import PairGeometry, Pairs, pairs_of
from firmware_sim.venue import build_venue
from firmware_sim.world import _narrow, _pack, _unpack

PARAMS = RadioParams(max_range_m=4.0)


def _sorted(pairs: Pairs) -> dict[str, list[float]]:
    """Every field of the pairs, ordered by (a, b): kept pairs come in another order."""
    order = np.lexsort((pairs.b, pairs.a))
    return {f.name: getattr(pairs, f.name)[order].tolist() for f in fields(Pairs)}


def _fresh(frame: Frame, params: RadioParams) -> Pairs:
    return pairs_of(frame, *neighbour_pairs(frame, params.max_range_m), params)


def _random_frame(rng: np.random.Generator, n: int, side: float) -> Frame:
    return Frame(
        rng.uniform(0.0, side, (n, 2)), rng.uniform(-np.pi, np.pi, n), rng.integers(-1, 3, n)
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 80), st.floats(1.0, 30.0), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_pairs_of_some_people_are_the_pairs_that_include_them(
    n: int, side: float, seed: int, share: float
) -> None:
    rng = np.random.default_rng(seed)
    frame = _random_frame(rng, n, side)
    among = rng.random(n) < share
    i, j = neighbour_pairs_of(frame, PARAMS.max_range_m, among)
    found = list(zip(i.tolist(), j.tolist(), strict=True))
    assert len(found) == len(set(found))  # each pair once
    everyone = zip(*(a.tolist() for a in neighbour_pairs(frame, PARAMS.max_range_m)), strict=True)
    assert set(found) == {(a, b) for a, b in everyone if among[a] or among[b]}


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 80),
    st.floats(2.0, 30.0),
    st.integers(0, 2**32 - 1),
    st.lists(st.tuples(st.floats(0.0, 0.4), st.floats(0.0, 0.2)), min_size=1, max_size=6),
)
def test_kept_pairs_are_the_pairs_searched_again(
    n: int, side: float, seed: int, steps: list[tuple[float, float]]
) -> None:
    rng = np.random.default_rng(seed)
    frame = _random_frame(rng, n, side)
    geometry = PairGeometry(PARAMS)
    assert _sorted(geometry.update(frame)) == _sorted(_fresh(frame, PARAMS))
    for moving, switching in steps:  # some move, some leave or arrive, headings all turn
        positions, rooms = frame.positions.copy(), frame.rooms.copy()
        moved = rng.random(n) < moving
        positions[moved] = rng.uniform(0.0, side, (int(moved.sum()), 2))
        switched = rng.random(n) < switching
        rooms[switched] = np.where(rooms[switched] == ABSENT, 0, ABSENT)
        frame = Frame(positions, rng.uniform(-np.pi, np.pi, n), rooms)
        assert _sorted(geometry.update(frame)) == _sorted(_fresh(frame, PARAMS))


def test_a_crowd_day_keeps_most_pairs_and_finds_the_same_ones() -> None:
    n, params = 600, CrowdParams(walking=True)
    crowd = Crowd.create(
        build_venue(n, params.seated_share), Agenda.for_windows(60), n, random.Random(4), params
    )
    geometry, radio_params = PairGeometry(RadioParams()), RadioParams()
    for w in range(62):  # the agenda and two empty windows after it
        frame = crowd.step(w)
        assert _sorted(geometry.update(frame)) == _sorted(_fresh(frame, radio_params))


def test_the_radio_hears_a_still_frame_the_same_way_as_a_fresh_radio() -> None:
    # Nobody moved: the kept pairs are in the searched order, so the draws are too.
    rng = np.random.default_rng(8)
    frame = _random_frame(rng, 60, 12.0)
    kept = RealisticRadio.create(60, np.random.default_rng(1))
    fresh = RealisticRadio.create(60, np.random.default_rng(1))
    for _ in range(3):
        got = kept.receive(frame)
        expected = RealisticRadio(fresh.offsets, fresh.rng, fresh.params).receive(frame)
        assert np.array_equal(got.receiver, expected.receiver)
        assert np.array_equal(got.median, expected.median)


@given(st.lists(st.integers(-(2**40), 2**40), max_size=20))
def test_receptions_narrowed_for_the_pipe_come_back_equal(values: list[int]) -> None:
    field = np.array(values, dtype=np.int64)
    assert np.array_equal(_narrow(field).astype(np.int64), field)
    assert _narrow(np.array([-127, 20])).dtype == np.int8
    assert _narrow(np.array([0, 9_999])).dtype == np.int16
    radio = RealisticRadio.create(40, np.random.default_rng(2))
    reception = radio.receive(_random_frame(np.random.default_rng(3), 40, 8.0))
    back = _unpack(_pack(reception))
    for name in ("receiver", "sender", "median", "maximum", "count"):
        assert np.array_equal(getattr(back, name), getattr(reception, name))
        assert getattr(back, name).dtype == np.int64
