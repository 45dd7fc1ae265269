"""Crowd properties with corridors and queues: determinism, walls, queues never face-to-face."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.crowd import Agenda, Crowd, CrowdParams
from firmware_sim.frame import Frame, face_to_face, facing_angles
from firmware_sim.radio import RealisticRadio
from firmware_sim.venue import build_venue

people = st.integers(min_value=2, max_value=150)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
lengths = st.integers(min_value=8, max_value=70)


def _run(n: int, seed: int, windows: int) -> tuple[Crowd, list[Frame], list[list[list[int]]]]:
    crowd = Crowd.create(
        build_venue(n), Agenda.for_windows(windows), n, random.Random(seed), CrowdParams()
    )
    frames: list[Frame] = []
    queues: list[list[list[int]]] = []
    for w in range(windows + 2):
        frames.append(crowd.step(w))
        queues.append([list(line) for _, line in sorted(crowd.queues.items())])
    return crowd, frames, queues


@given(n=people, seed=seeds, windows=lengths)
@settings(max_examples=15, deadline=None)
def test_the_same_seed_gives_the_same_crowd(n: int, seed: int, windows: int) -> None:
    _, a, qa = _run(n, seed, windows)
    _, b, qb = _run(n, seed, windows)
    assert qa == qb
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.positions, y.positions)
        assert np.array_equal(x.headings, y.headings)
        assert np.array_equal(x.rooms, y.rooms) and x.groups == y.groups


@given(n=people, seed=seeds, windows=lengths)
@settings(max_examples=15, deadline=None)
def test_nobody_ever_stands_inside_a_wall(n: int, seed: int, windows: int) -> None:
    crowd, frames, _ = _run(n, seed, windows)
    for frame in frames:
        for person in np.flatnonzero(frame.present).tolist():
            room = crowd.venue.rooms[int(frame.rooms[person])]
            x, y = frame.positions[person]
            assert room.x0 < x < room.x1 and room.y0 < y < room.y1
        # and no two people stand on the same spot
        present = frame.positions[frame.present]
        assert len({(round(x, 6), round(y, 6)) for x, y in present.tolist()}) == len(present)


@given(n=people, seed=seeds, windows=lengths)
@settings(max_examples=15, deadline=None)
def test_people_in_a_queue_stand_back_to_front_and_are_never_face_to_face(
    n: int, seed: int, windows: int
) -> None:
    _, frames, queues = _run(n, seed, windows)
    for frame, lines in zip(frames, queues, strict=True):
        queueing = {p for line in lines for p in line}
        i, j = face_to_face(frame)
        assert not queueing & (set(i.tolist()) | set(j.tolist()))
        for line in lines:
            if len(line) < 2:
                continue
            front = np.array(line[:-1], dtype=np.int64)
            back = np.array(line[1:], dtype=np.int64)
            at_front, at_back, distance = facing_angles(frame, front, back)
            # The one behind looks at the back of the one in front, 0.7 m away.
            assert np.allclose(distance, 0.7)
            assert np.all(np.degrees(at_front) >= 180 - 30 - 1e-6)
            assert np.all(np.degrees(at_back) <= 30 + 1e-6)


def test_the_realistic_radio_mostly_does_not_hear_queue_neighbours_above_threshold() -> None:
    crowd, frames, queues = _run(150, 3, 60)
    radio = RealisticRadio.create(150, np.random.default_rng(3))
    pairs = heard = 0
    for frame, lines in zip(frames, queues, strict=True):
        reception = radio.receive(frame)
        strong = {
            (r, s)
            for r, s, m in zip(
                reception.receiver.tolist(),
                reception.sender.tolist(),
                reception.median.tolist(),
                strict=True,
            )
            if m >= -72
        }
        for line in lines:
            for a, b in zip(line, line[1:], strict=False):
                pairs += 1
                heard += (a, b) in strong and (b, a) in strong
    assert pairs > 200
    assert heard / pairs < 0.05
