"""Frame geometry: neighbour search and the face-to-face rule."""

from __future__ import annotations

import math

import numpy as np

from firmware_sim.frame import ABSENT, face_to_face, facing_angles, neighbour_pairs
from tests.unit.firmware_sim.frames import back_to_back, facing_pair, frame_of


def _pairs(frame_pairs: tuple[np.ndarray, np.ndarray]) -> set[tuple[int, int]]:
    i, j = frame_pairs
    return set(zip(i.tolist(), j.tolist(), strict=True))


def test_facing_pair_within_range_is_face_to_face() -> None:
    assert _pairs(face_to_face(facing_pair(1.0))) == {(0, 1)}
    assert _pairs(face_to_face(facing_pair(1.5))) == {(0, 1)}


def test_too_far_is_not_face_to_face() -> None:
    assert _pairs(face_to_face(facing_pair(1.6))) == set()


def test_turned_away_is_not_face_to_face() -> None:
    assert _pairs(face_to_face(back_to_back(0.5))) == set()
    # one looks at the other, the other is turned 70 degrees away
    assert _pairs(face_to_face(frame_of([(0, 0, 0), (1, 0, 180 + 70)]))) == set()
    # both within 60 degrees
    assert _pairs(face_to_face(frame_of([(0, 0, 55), (1, 0, 180 - 55)]))) == {(0, 1)}


def test_one_behind_the_other_is_not_face_to_face() -> None:
    frame = frame_of([(0, 0, -90), (0, 0.95, -90)])
    angle_front, angle_back, distance = facing_angles(frame, np.array([0]), np.array([1]))
    assert math.isclose(distance[0], 0.95)
    assert math.degrees(angle_front[0]) > 170 and math.degrees(angle_back[0]) < 10
    assert _pairs(face_to_face(frame)) == set()


def test_different_rooms_are_not_face_to_face() -> None:
    frame = frame_of([(0, 0, 0), (1, 0, 180)], rooms=[0, 1])
    assert _pairs(face_to_face(frame)) == set()


def test_absent_people_are_ignored() -> None:
    frame = frame_of([(0, 0, 0), (1, 0, 180)], rooms=[0, ABSENT])
    assert _pairs(neighbour_pairs(frame, 10.0)) == set()
    assert _pairs(face_to_face(frame)) == set()


def test_neighbour_pairs_match_brute_force_on_a_crowd() -> None:
    rng = np.random.default_rng(3)
    people = [(float(x), float(y), 0.0) for x, y in rng.uniform(-30, 30, (300, 2))]
    frame = frame_of(people)
    found = _pairs(neighbour_pairs(frame, 4.0))
    expected = {
        (i, j)
        for i in range(300)
        for j in range(i + 1, 300)
        if math.dist(people[i][:2], people[j][:2]) <= 4.0
    }
    assert found == expected
    assert found  # the crowd is dense enough to have close pairs


def test_neighbour_pairs_at_exactly_the_radius_across_cells() -> None:
    # distances that only round to the radius, on both sides of cell edges
    frame = frame_of([(-1e-172, 0.0, 0), (1.0, 0.0, 0), (1.0, 1.0, 0), (-1.0, -1e-300, 0)])
    found = _pairs(neighbour_pairs(frame, 1.0))
    assert found == {(0, 1), (1, 2), (0, 3)}


def test_neighbour_pairs_do_not_wrap_between_rows_of_cells() -> None:
    # far apart in y, but a key computed without margins would make their cells adjacent
    people = [(0.0, 0.0, 0), (0.0, 40.0, 0), (2.0, -0.4, 0), (2.0, 40.4, 0), (0.0, 20.0, 0)]
    found = _pairs(neighbour_pairs(frame_of(people), 1.0))
    assert found == set()
    found = _pairs(neighbour_pairs(frame_of(people), 20.0))
    assert found == {(0, 2), (0, 4), (1, 3), (1, 4)}  # (2, 4) and (3, 4): 20.5 m
