"""Radio and geometry properties of the simulator, for arbitrary crowds."""

from __future__ import annotations

import math
import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.frame import Frame, face_to_face, neighbour_pairs
from firmware_sim.radio import IdealRadio, RadioParams, RealisticRadio, body_loss, mean_rssi

coordinate = st.floats(-25, 25, allow_nan=False)
heading = st.floats(-180, 180, allow_nan=False)
person = st.tuples(coordinate, coordinate, heading, st.integers(-1, 2))
crowd = st.lists(person, min_size=0, max_size=60)


def _frame(people: list[tuple[float, float, float, int]]) -> Frame:
    return Frame(
        np.array([(x, y) for x, y, _, _ in people], dtype=np.float64).reshape(-1, 2),
        np.array([math.radians(h) for _, _, h, _ in people], dtype=np.float64),
        np.array([r for *_, r in people], dtype=np.int64),
    )


@settings(deadline=None)
@given(st.floats(0.1, 50), st.floats(1.01, 10), st.floats(0, math.pi), st.floats(0, math.pi))
def test_mean_rssi_falls_with_distance(d: float, factor: float, a: float, b: float) -> None:
    params = RadioParams()
    near = mean_rssi(np.array([d]), np.array([a]), np.array([b]), np.array([False]), params)
    far = mean_rssi(np.array([d * factor]), np.array([a]), np.array([b]), np.array([False]), params)
    assert far[0] < near[0]


@settings(deadline=None)
@given(st.floats(0, math.pi), st.floats(0, math.pi))
def test_body_loss_grows_with_the_angle_and_is_bounded(a: float, b: float) -> None:
    params = RadioParams()
    low, high = sorted((a, b))
    losses = body_loss(np.array([low, high]), params)
    assert 0.0 <= losses[0] <= losses[1] <= params.body_loss_db


@settings(deadline=None)
@given(crowd, st.floats(0.5, 12))
def test_neighbour_pairs_equal_brute_force(
    people: list[tuple[float, float, float, int]], radius: float
) -> None:
    frame = _frame(people)
    i, j = neighbour_pairs(frame, radius)
    found = set(zip(i.tolist(), j.tolist(), strict=True))
    assert len(found) == i.size
    expected = {
        (a, b)
        for a in range(len(people))
        for b in range(a + 1, len(people))
        if people[a][3] != -1
        and people[b][3] != -1
        and (people[a][0] - people[b][0]) ** 2 + (people[a][1] - people[b][1]) ** 2 <= radius**2
    }
    assert found == expected


@settings(deadline=None)
@given(crowd, st.randoms(use_true_random=False))
def test_face_to_face_does_not_depend_on_who_is_listed_first(
    people: list[tuple[float, float, float, int]], rnd: random.Random
) -> None:
    order = list(range(len(people)))
    rnd.shuffle(order)
    shuffled = [people[k] for k in order]
    i, j = face_to_face(_frame(people))
    si, sj = face_to_face(_frame(shuffled))
    original = set(zip(i.tolist(), j.tolist(), strict=True))
    mapped = {
        tuple(sorted((order[a], order[b]))) for a, b in zip(si.tolist(), sj.tolist(), strict=True)
    }
    assert mapped == original
    assert all(a < b for a, b in original)


@settings(deadline=None)
@given(crowd)
def test_ideal_radio_hears_exactly_the_ground_truth(
    people: list[tuple[float, float, float, int]],
) -> None:
    frame = _frame(people)
    rec = IdealRadio().receive(frame)
    i, j = face_to_face(frame)
    truth = set(zip(i.tolist(), j.tolist(), strict=True)) | set(
        zip(j.tolist(), i.tolist(), strict=True)
    )
    assert set(zip(rec.receiver.tolist(), rec.sender.tolist(), strict=True)) == truth
    assert len(rec) == len(truth)


@settings(deadline=None, max_examples=50)
@given(crowd, st.integers(0, 2**32 - 1))
def test_realistic_receptions_are_valid_reports(
    people: list[tuple[float, float, float, int]], seed: int
) -> None:
    frame = _frame(people)
    radio = RealisticRadio.create(len(people), np.random.default_rng(seed))
    rec = radio.receive(frame)
    present = frame.present
    assert (rec.receiver != rec.sender).all()
    assert present[rec.receiver].all() and present[rec.sender].all()
    assert (rec.count >= 1).all()
    assert (rec.median <= rec.maximum).all()
    assert (rec.median >= -95).all() and (rec.maximum <= 20).all()
    gaps = frame.positions[rec.receiver] - frame.positions[rec.sender]
    assert (np.hypot(gaps[:, 0], gaps[:, 1]) <= radio.params.max_range_m + 1e-9).all()
