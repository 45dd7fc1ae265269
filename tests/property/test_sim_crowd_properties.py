"""Crowd properties with corridors, queues and the conference day: determinism, walls, queues
never face-to-face (but with someone walking past), phases in order, lunch for everyone."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.crowd import DAY_MIN_WINDOWS, Agenda, Crowd, CrowdParams, Place
from firmware_sim.frame import Frame, face_to_face, facing_angles
from firmware_sim.radio import RealisticRadio
from firmware_sim.venue import build_venue

people = st.integers(min_value=2, max_value=150)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
lengths = st.integers(min_value=8, max_value=70)


def _run(
    n: int, seed: int, windows: int, walking: bool = False
) -> tuple[Crowd, list[Frame], list[list[list[int]]]]:
    crowd, frames, queues, _ = _run_walking(n, seed, windows, walking)
    return crowd, frames, queues


def _run_walking(
    n: int, seed: int, windows: int, walking: bool
) -> tuple[Crowd, list[Frame], list[list[list[int]]], list[set[int]]]:
    """The crowd, its frames, its queues and who walks along a path, window by window."""
    params = CrowdParams(walking=walking)
    crowd = Crowd.create(
        build_venue(n), Agenda.for_windows(windows), n, random.Random(seed), params
    )
    frames: list[Frame] = []
    queues: list[list[list[int]]] = []
    walkers: list[set[int]] = []
    for w in range(windows + 2):
        frames.append(crowd.step(w))
        queues.append([list(line) for _, line in sorted(crowd.queues.items())])
        walkers.append(_walking(crowd))
    return crowd, frames, queues, walkers


def _assert_same_frames(a: list[Frame], b: list[Frame]) -> None:
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.positions, y.positions)
        assert np.array_equal(x.headings, y.headings)
        assert np.array_equal(x.rooms, y.rooms) and x.groups == y.groups


def _walking(crowd: Crowd) -> set[int]:
    """Who is shown on a path in the crowd's last frame (nobody without ``walking``)."""
    if crowd.walker is None:
        return set()
    return set(crowd.walker.walks) | set(crowd.walker.approaches)


def _assert_queues_face_only_passers_by(
    frame: Frame, queueing: set[int], walking: set[int]
) -> None:
    """Nobody in a queue is face-to-face with anyone but someone walking past on a path
    (``walking``: empty for the one-window corridor walk, where nobody may be)."""
    for a, b in zip(*(x.tolist() for x in face_to_face(frame)), strict=True):
        if a in queueing or b in queueing:
            assert (a in walking) != (b in walking), (a, b)


@given(n=people, seed=seeds, windows=lengths, walking=st.booleans())
@settings(max_examples=15, deadline=None)
def test_the_same_seed_gives_the_same_crowd(n: int, seed: int, windows: int, walking: bool) -> None:
    _, a, qa = _run(n, seed, windows, walking)
    _, b, qb = _run(n, seed, windows, walking)
    assert qa == qb
    _assert_same_frames(a, b)


@given(n=people, seed=seeds, windows=lengths, walking=st.booleans())
@settings(max_examples=15, deadline=None)
def test_nobody_ever_stands_inside_a_wall(n: int, seed: int, windows: int, walking: bool) -> None:
    crowd, frames, _ = _run(n, seed, windows, walking)
    for frame in frames:
        for person in np.flatnonzero(frame.present).tolist():
            room = crowd.venue.rooms[int(frame.rooms[person])]
            x, y = frame.positions[person]
            assert room.x0 < x < room.x1 and room.y0 < y < room.y1
        # and no two people stand on the same spot
        present = frame.positions[frame.present]
        assert len({(round(x, 6), round(y, 6)) for x, y in present.tolist()}) == len(present)


@given(n=people, seed=seeds, windows=lengths, walk=st.booleans())
@settings(max_examples=15, deadline=None)
def test_people_in_a_queue_stand_back_to_front_and_are_never_face_to_face(
    n: int, seed: int, windows: int, walk: bool
) -> None:
    _, frames, queues, walking = _run_walking(n, seed, windows, walk)
    for frame, lines, walkers in zip(frames, queues, walking, strict=True):
        queueing = {p for line in lines for p in line}
        _assert_queues_face_only_passers_by(frame, queueing, walkers)
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


# --- the conference day (agendas of DAY_MIN_WINDOWS windows or more) ----------------

day_people = st.integers(min_value=2, max_value=60)
day_lengths = st.integers(min_value=DAY_MIN_WINDOWS, max_value=DAY_MIN_WINDOWS + 80)


def _run_day(
    n: int, seed: int, windows: int, walking: bool = False
) -> tuple[Crowd, list[Frame], list[DayWindow]]:
    agenda = Agenda.for_windows(windows)
    params = CrowdParams(walking=walking)
    crowd = Crowd.create(build_venue(n), agenda, n, random.Random(seed), params)
    frames: list[Frame] = []
    seen: list[DayWindow] = []
    for w in range(windows + 2):
        frames.append(crowd.step(w))
        seen.append(
            DayWindow(
                phase=agenda.phase_at(w),
                queues=[list(line) for _, line in sorted(crowd.queues.items())],
                places=list(crowd.place),
                fed=frozenset(crowd.fed),
                walking=_walking(crowd),
            )
        )
    return crowd, frames, seen


@dataclass
class DayWindow:
    """What the crowd looked like after one step of a day."""

    phase: int
    queues: list[list[int]]
    places: list[Place]
    fed: frozenset[int]
    walking: set[int]


@given(n=day_people, seed=seeds, windows=day_lengths, walking=st.booleans())
@settings(max_examples=6, deadline=None)
def test_the_same_seed_gives_the_same_day(n: int, seed: int, windows: int, walking: bool) -> None:
    _, a, sa = _run_day(n, seed, windows, walking)
    _, b, sb = _run_day(n, seed, windows, walking)
    assert sa == sb
    _assert_same_frames(a, b)


@given(n=day_people, seed=seeds, windows=day_lengths, walking=st.booleans())
@settings(max_examples=8, deadline=None)
def test_a_day_keeps_everyone_out_of_the_walls_and_queues_never_face_to_face(
    n: int, seed: int, windows: int, walking: bool
) -> None:
    crowd, frames, seen = _run_day(n, seed, windows, walking)
    lunch = [k for k, phase in enumerate(crowd.agenda.day) if phase.kind == "lunch"]
    lunch_queued: set[int] = set()
    for frame, day in zip(frames, seen, strict=True):
        for person in np.flatnonzero(frame.present).tolist():
            room = crowd.venue.rooms[int(frame.rooms[person])]
            x, y = frame.positions[person]
            assert room.x0 < x < room.x1 and room.y0 < y < room.y1
        present = frame.positions[frame.present]
        assert len({(round(x, 6), round(y, 6)) for x, y in present.tolist()}) == len(present)
        queueing = {p for line in day.queues for p in line}
        _assert_queues_face_only_passers_by(frame, queueing, day.walking)
        if day.phase in lunch:
            lunch_queued |= queueing
        for line in day.queues:
            if len(line) < 2:
                continue
            front = np.array(line[:-1], dtype=np.int64)
            back = np.array(line[1:], dtype=np.int64)
            at_front, at_back, distance = facing_angles(frame, front, back)
            assert np.allclose(distance, 0.7)
            assert np.all(np.degrees(at_front) >= 180 - 30 - 1e-6)
            assert np.all(np.degrees(at_back) <= 30 + 1e-6)
    if n >= 20:  # (a small crowd is served as it joins, within one window)
        assert len(lunch_queued) >= n // 2


@given(n=day_people, seed=seeds, windows=day_lengths, walking=st.booleans())
@settings(max_examples=8, deadline=None)
def test_a_day_visits_every_phase_in_order_and_everyone_has_lunch(
    n: int, seed: int, windows: int, walking: bool
) -> None:
    crowd, frames, seen = _run_day(n, seed, windows, walking)
    day = crowd.agenda.day
    assert [p.kind for p in day] == [
        "arrival",
        "session",
        "break",
        "session",
        "lunch",
        "session",
        "break",
        "session",
        "leaving",
    ]
    phases = [s.phase for s in seen[:windows]]
    assert phases == sorted(phases) and set(phases) == set(range(len(day)))
    assert all(s.phase == -1 for s in seen[windows:])
    for k, phase in enumerate(day):
        inside = seen[phase.start + 1 : phase.end]
        seated = [s.places.count(Place.SEATED) for s in inside]
        if phase.kind == "session":
            if walking:  # the audience walks in at its own pace, then sits all session
                assert seated == sorted(seated) and seated[-1] > 0
            else:  # after one window in the corridor, the audience sits all session
                assert seated[0] > 0 and len(set(seated)) == 1
        else:
            assert max(seated, default=0) == 0
        if phase.kind == "lunch":
            # Everyone is at the venue all through lunch, and everyone is served.
            assert all(f.present.all() for f in frames[phase.start : phase.end])
            assert not seen[phase.start - 1].fed and seen[phase.end - 1].fed == set(range(n))
            # Once served, people eat at a table or standing, until the lunch ends.
            eating = (Place.EATING, Place.MINGLING)
            assert all(s.places[p] in eating for s in inside for p in s.fed)
            if n >= 20:
                assert any(Place.EATING in s.places for s in inside)
        if phase.kind == "leaving":
            present = [int(f.present.sum()) for f in frames[phase.start : phase.end + 1]]
            assert present == sorted(present, reverse=True) and present[-1] == 0
        if k < len(day) - 1:
            assert phase.end == day[k + 1].start
    assert not any(f.present.any() for f in frames[windows:])
