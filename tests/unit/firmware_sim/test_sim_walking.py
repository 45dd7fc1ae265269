"""Walking: paths through doors and the corridor, pace, walls, arrival, determinism."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.crowd import Agenda, Crowd, CrowdParams
from firmware_sim.frame import face_to_face
from firmware_sim.venue import WALL_GAP_M, Venue, build_venue
from firmware_sim.walking import (
    DOOR_INSET_M,
    LATERAL_JITTER_M,
    WALK_SPEED_MPS,
    Walk,
    Walker,
    plan,
    walking_rng,
)

people = st.integers(min_value=2, max_value=400)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
DOOR_HOP_M = WALL_GAP_M + 2 * DOOR_INSET_M
"""How far a walker moves through a door (the wall is crossed in no time)."""


def _point(venue: Venue, room: int, u: float, v: float) -> tuple[float, float]:
    r = venue.rooms[room]
    return (r.x0 + 0.01 + u * (r.x1 - r.x0 - 0.02), r.y0 + 0.01 + v * (r.y1 - r.y0 - 0.02))


@st.composite
def walks(draw: st.DrawFn) -> tuple[Venue, Walker, int, int, tuple[float, float], Walk]:
    n = draw(people)
    venue = build_venue(n)
    rooms = venue.halls + venue.mingle_rooms
    origin_room = draw(st.sampled_from(rooms))
    dest_room = draw(st.sampled_from(rooms))
    unit = st.floats(min_value=0.0, max_value=1.0)
    origin = _point(venue, origin_room, draw(unit), draw(unit))
    dest = _point(venue, dest_room, draw(unit), draw(unit))
    walker = Walker(venue, 20, 10.0, random.Random(draw(seeds)))
    walk = walker.start(0, origin_room, origin, dest_room, dest)
    return venue, walker, origin_room, dest_room, origin, walk


@given(case=walks())
@settings(max_examples=150, deadline=None)
def test_a_walk_goes_at_its_pace_never_through_a_wall_and_ends_at_the_destination(
    case: tuple[Venue, Walker, int, int, tuple[float, float], Walk],
) -> None:
    venue, walker, origin_room, dest_room, origin, walk = case
    speed = walk.step_m / 20
    assert WALK_SPEED_MPS[0] <= speed <= WALK_SPEED_MPS[1]
    # N metres take ceil(N / (speed x window)) windows (or one more), at least one.
    needed = max(1, math.ceil(walk.length / walk.step_m))
    assert walk.windows in (needed, needed + 1)
    # Every point of every leg is inside the leg's room, never inside a wall.
    for leg in walk.legs:
        for k in range(41):
            t = k / 40
            x = leg.start[0] + (leg.end[0] - leg.start[0]) * t
            y = leg.start[1] + (leg.end[1] - leg.start[1]) * t
            assert venue.rooms[leg.room].contains(x, y)
    doors = sum(a.room != b.room for a, b in zip(walk.legs, walk.legs[1:], strict=False))
    assert doors == (0 if origin_room == dest_room else 2)
    before, walked = origin, 0.0
    seen: list[tuple[float, float]] = []
    while not walk.arrived:
        k = walk.shown
        point, _, distance = walk.along(k)
        (x, y), heading, room = walker.show(0)
        seen.append((x, y))
        # Shown inside the room the path is in, a little to the side of the path.
        assert venue.rooms[room].contains(x, y)
        assert math.dist((x, y), point) <= 0.2 + 1e-9
        assert -math.pi - 1 <= heading <= math.pi + 1
        # At most speed x window along the path per window (a door adds its wall).
        assert distance - walked <= walk.step_m + 1e-9
        assert math.dist(before, point) <= walk.step_m + doors * DOOR_HOP_M + 1e-9
        before, walked = point, distance
    assert len(seen) == walk.windows
    assert seen[-1] == walk.destination == walk.legs[-1].end
    assert walker.where(0) == (walk.destination, dest_room)


@given(case=walks())
@settings(max_examples=30, deadline=None)
def test_the_same_seed_walks_the_same_way(
    case: tuple[Venue, Walker, int, int, tuple[float, float], Walk],
) -> None:
    venue, _, origin_room, dest_room, origin, walk = case
    runs = []
    for _ in range(2):
        walker = Walker(venue, 20, 10.0, random.Random(5))
        walker.start(3, origin_room, origin, dest_room, walk.destination)
        shown = []
        while not walker.walks[3].arrived:
            shown.append(walker.show(3))
        runs.append(shown)
    assert runs[0] == runs[1]


def test_walking_into_a_mingling_room_stops_just_inside_its_door() -> None:
    venue = build_venue(200)
    walker = Walker(venue, 20, 10.0, random.Random(1))
    hall, foyer = venue.halls[0], venue.mingle_rooms[0]
    seat = venue.rooms[hall].seats[0]
    ends = set()
    for person in range(20):
        walk = walker.start(person, hall, (float(seat[0]), float(seat[1])), foyer, None)
        room = venue.rooms[foyer]
        x, y = walk.destination
        assert room.contains(x, y) and abs(x - room.door_x) <= 1.5 and room.y1 - y <= 1.6
        # via the hall's door, the corridor and the foyer's door: about 45 m here
        assert walk.length > room.door_x - venue.rooms[hall].door_x
        assert walk.windows >= 2
        ends.add(walk.destination)
    assert len(ends) == 20  # nobody arrives on the same spot


def test_a_walk_needs_points_inside_their_rooms_and_a_corridor() -> None:
    venue = build_venue(50)
    hall, foyer = venue.halls[0], venue.mingle_rooms[0]
    inside = _point(venue, foyer, 0.5, 0.5)
    with pytest.raises(ValueError, match="not inside"):
        plan(venue, hall, (-1.0, 1.0), foyer, inside, 0.0)
    with pytest.raises(ValueError, match="not inside"):
        plan(venue, hall, _point(venue, hall, 0.5, 0.5), foyer, (-1.0, 1.0), 0.0)
    no_corridor = Venue(venue.rooms[:4])
    with pytest.raises(ValueError, match="needs a corridor"):
        plan(no_corridor, hall, _point(venue, hall, 0.5, 0.5), foyer, inside, 0.0)


def test_the_walking_generator_does_not_draw_from_the_crowds() -> None:
    rng = random.Random(9)
    state = rng.getstate()
    a, b = walking_rng(rng), walking_rng(rng)
    assert rng.getstate() == state
    assert a.random() == b.random()
    assert walking_rng(random.Random(10)).random() != walking_rng(random.Random(9)).random()


def test_walkers_in_a_crowd_are_seen_along_their_paths_for_several_windows() -> None:
    n = 200
    crowd = Crowd.create(
        build_venue(n), Agenda.for_windows(90), n, random.Random(7), CrowdParams(walking=True)
    )
    corridor = crowd.venue.corridor
    rooms_seen: dict[int, list[int]] = {}
    passing = 0
    for w in range(100):
        frame = crowd.step(w)
        for person in crowd.walk_to:
            rooms_seen.setdefault(person, []).append(int(frame.rooms[person]))
        # Two walkers facing each other in the corridor are a face-to-face contact.
        i, j = face_to_face(frame)
        passing += sum(
            a in crowd.walk_to and b in crowd.walk_to and frame.rooms[a] == corridor
            for a, b in zip(i.tolist(), j.tolist(), strict=True)
        )
    assert len(rooms_seen) > 0.6 * n
    # Someone leaving a hall is seen in the hall, then the corridor, then the other room.
    paths = [r for r in rooms_seen.values() if len(set(r)) >= 2 and corridor in r]
    assert len(paths) > 0.5 * len(rooms_seen)
    assert max(len(r) for r in rooms_seen.values()) >= 3
    assert passing > 0


def test_people_leaving_a_group_walk_to_their_next_spot_and_talk_once_there() -> None:
    n = 120
    crowd = Crowd.create(
        build_venue(n), Agenda.for_windows(110), n, random.Random(4), CrowdParams(walking=True)
    )
    walker = crowd.walker
    assert walker is not None
    shown: dict[int, int] = {}
    before = crowd.step(0)
    arrived = 0
    for w in range(1, 120):
        frame = crowd.step(w)
        for person, walk in walker.approaches.items():
            point, _, _ = walk.along(walk.shown - 1)
            assert math.dist(frame.positions[person], point) <= LATERAL_JITTER_M + 1e-9
            assert walk.shown < walk.windows  # the last window shows them at the spot
            if walk.shown > 1:
                step = math.dist(frame.positions[person], before.positions[person])
                assert step <= walk.step_m + 2 * DOOR_HOP_M + 2 * LATERAL_JITTER_M + 1e-9
            shown[person] = w
        # Those still on their way are in no conversation group yet.
        assert not {p for g in frame.groups for p in g} & set(walker.approaches)
        for person, last in list(shown.items()):
            if last == w - 1 and person not in walker.approaches:
                arrived += 1
                del shown[person]
                gid = crowd.group_of[person]
                if gid >= 0 and len(crowd.groups[gid].members) == 1:
                    group = crowd.groups[gid]
                    spot = crowd.venue.rooms[group.room].spots[group.spot]
                    assert tuple(frame.positions[person]) == tuple(spot)
        before = frame
    assert arrived > 20
