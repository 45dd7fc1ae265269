"""Venue and crowd: layout, agendas (short and the conference day), groups, lunch, determinism."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest

from firmware_sim.crowd import DAY_MIN_WINDOWS, Agenda, Crowd, CrowdParams, Place
from firmware_sim.frame import ABSENT, Frame, face_to_face
from firmware_sim.venue import SPOT_SPACING_M, WALL_GAP_M, build_venue
from firmware_sim.walking import DOOR_INSET_M, LATERAL_JITTER_M

N = 120


def _frames(seed: int, n: int = N, windows: int = 120) -> list[Frame]:
    crowd = Crowd.create(
        build_venue(n), Agenda.for_windows(windows - 10), n, random.Random(seed), CrowdParams()
    )
    return [crowd.step(w) for w in range(windows)]


@pytest.fixture(scope="module")
def frames() -> list[Frame]:
    return _frames(4)


def _same(a: list[Frame], b: list[Frame]) -> bool:
    return all(
        np.array_equal(x.positions, y.positions)
        and np.array_equal(x.headings, y.headings)
        and np.array_equal(x.rooms, y.rooms)
        and x.groups == y.groups
        for x, y in zip(a, b, strict=True)
    )


def test_venue_has_four_named_rooms_and_a_corridor_that_do_not_overlap() -> None:
    venue = build_venue(200)
    assert [r.name for r in venue.rooms] == ["Hall A", "Hall B", "Foyer", "Expo", "Corridor"]
    rooms, corridor = venue.rooms[:4], venue.rooms[4]
    for left, right in zip(rooms, rooms[1:], strict=False):
        assert left.x1 < right.x0
    # The corridor runs behind a wall along the north side of every room.
    assert venue.corridor == 4 and corridor.kind == "corridor"
    assert all(room.y1 < corridor.y0 for room in rooms)
    assert corridor.x0 <= rooms[0].x0 and corridor.x1 >= rooms[-1].x1
    seats = sum(len(venue.rooms[h].seats) for h in venue.halls)
    spots = sum(len(venue.rooms[m].spots) for m in venue.mingle_rooms)
    assert seats >= 0.7 * 200 and spots >= 200


def test_venue_grows_with_the_badge_count() -> None:
    small, large = build_venue(20), build_venue(2000)
    assert sum(r.area_m2 for r in large.rooms) > 20 * sum(r.area_m2 for r in small.rooms)


def test_standing_spots_are_at_least_four_metres_apart() -> None:
    venue = build_venue(200)
    for m in venue.mingle_rooms:
        spots = venue.rooms[m].spots
        gaps = np.linalg.norm(spots[:, None, :] - spots[None, :, :], axis=2)
        np.fill_diagonal(gaps, np.inf)
        assert gaps.min() >= SPOT_SPACING_M - 1e-9


def test_same_seed_same_crowd_and_different_seed_different_crowd() -> None:
    assert _same(_frames(4, windows=60), _frames(4, windows=60))
    assert not _same(_frames(4, windows=60), _frames(5, windows=60))


def test_everyone_stands_inside_their_room(frames: list[Frame]) -> None:
    venue = build_venue(N)
    for frame in frames:
        for person in np.flatnonzero(frame.present).tolist():
            room = venue.rooms[int(frame.rooms[person])]
            x, y = frame.positions[person]
            assert room.x0 <= x <= room.x1 and room.y0 <= y <= room.y1


def test_groups_stand_on_small_circles_facing_the_centre(frames: list[Frame]) -> None:
    sizes: Counter[int] = Counter()
    for frame in frames:
        for group in frame.groups:
            sizes[len(group)] += 1
            members = list(group)
            centre = frame.positions[members].mean(axis=0)
            for person in members:
                radius = float(np.linalg.norm(frame.positions[person] - centre))
                assert 0.45 - 1e-6 <= radius <= 0.7 + 1e-6
                to_centre = math.atan2(*(centre - frame.positions[person])[::-1])
                off = abs((frame.headings[person] - to_centre + math.pi) % (2 * math.pi) - math.pi)
                assert math.degrees(off) <= 15 + 1e-6
    assert set(sizes) <= {2, 3, 4, 5}
    assert sizes[2] > sizes[3] > sizes[4] > sizes[5] > 0


def test_session_seats_most_people_and_nobody_there_is_face_to_face(frames: list[Frame]) -> None:
    agenda = Agenda.for_windows(110)
    venue = build_venue(N)
    frame = frames[(agenda.session_start + agenda.session_end) // 2]
    in_halls = np.isin(frame.rooms, venue.halls)
    assert 0.65 <= in_halls.mean() <= 0.75
    i, j = face_to_face(frame)
    assert not (in_halls[i] | in_halls[j]).any()
    assert frame.present.all()


def test_mingling_produces_multi_minute_conversations(frames: list[Frame]) -> None:
    runs: list[int] = []
    current: dict[tuple[int, ...], int] = {}
    for frame in frames:
        now = {g: current.get(g, 0) + 1 for g in frame.groups}
        runs.extend(length for g, length in current.items() if g not in now)
        current = now
    runs.extend(current.values())
    # a group unchanged for 9 windows (3 minutes) or more is common
    assert np.mean([r >= 9 for r in runs]) > 0.2
    assert max(runs) >= 30


def test_some_people_stand_alone_while_mingling(frames: list[Frame]) -> None:
    agenda = Agenda.for_windows(110)
    frame = frames[agenda.session_end + 10]
    grouped = {p for g in frame.groups for p in g}
    alone = [p for p in np.flatnonzero(frame.present).tolist() if p not in grouped]
    assert 0 < len(alone) < 0.5 * N


def test_nobody_is_present_before_arrival_or_after_the_agenda(frames: list[Frame]) -> None:
    assert frames[0].present.sum() < N
    for frame in frames[110:]:
        assert (frame.rooms == ABSENT).all()
        assert frame.groups == ()


def test_default_agenda_has_the_documented_phases() -> None:
    agenda = Agenda.for_windows(180)
    assert (agenda.session_start, agenda.session_end, agenda.arrival_windows) == (45, 135, 18)
    tiny = Agenda.for_windows(1)
    assert tiny.arrival_windows == 1 and tiny.session_start <= tiny.session_end <= 1


def test_queue_lines_stand_in_their_room_well_away_from_the_standing_spots() -> None:
    venue = build_venue(200)
    for m in venue.mingle_rooms:
        room = venue.rooms[m]
        line = room.queue
        assert len(line) >= 20
        assert np.all((line[:, 0] > room.x0) & (line[:, 0] < room.x1))
        assert np.all((line[:, 1] > room.y0) & (line[:, 1] < room.y1))
        gaps = np.linalg.norm(line[:, None, :] - room.spots[None, :, :], axis=2)
        assert gaps.min() >= 3.0  # a conversation circle (radius <= 0.7 m) stays >= 2.3 m away
        assert np.allclose(np.diff(line[:, 0]), 0.7) and np.ptp(line[:, 1]) == 0


def test_the_corridor_has_a_walking_slot_for_the_whole_audience() -> None:
    for n in (20, 200, 2000):
        venue = build_venue(n)
        assert venue.corridor is not None
        assert len(venue.rooms[venue.corridor].spots) >= 0.7 * n * 1.2


def _crowd(seed: int, n: int = N, windows: int = 120, **params: object) -> Crowd:
    return Crowd.create(
        build_venue(n),
        Agenda.for_windows(windows - 10),
        n,
        random.Random(seed),
        CrowdParams(**params),  # type: ignore[arg-type]
    )


def test_the_audience_walks_the_corridor_for_one_window_each_way() -> None:
    agenda = Agenda.for_windows(110)
    crowd = _crowd(4)
    frames: list[Frame] = []
    for w in range(120):
        frames.append(crowd.step(w))
        # Walkers face the room they go to (within the jitter).
        for person, (room, _, _) in crowd.walk_to.items():
            target = crowd.venue.rooms[room]
            x = frames[-1].positions[person][0]
            toward = 1.0 if (target.x0 + target.x1) / 2 >= x else -1.0
            assert np.cos(frames[-1].headings[person]) * toward > 0.9
    corridor = crowd.venue.corridor
    walking = [int((f.rooms == corridor).sum()) for f in frames]
    seated = [int(np.isin(f.rooms, crowd.venue.halls).sum()) for f in frames]
    assert walking[agenda.session_start] == seated[agenda.session_start + 1] > 0.6 * N
    assert walking[agenda.session_end] == seated[agenda.session_end - 1]
    others = set(range(120)) - {agenda.session_start, agenda.session_end}
    assert all(walking[w] == 0 for w in others)


def test_the_audience_walks_through_doors_and_the_corridor_at_its_own_pace() -> None:
    agenda = Agenda.for_windows(110)
    crowd = _crowd(4, walking=True)
    walker = crowd.walker
    assert walker is not None
    frames: list[Frame] = []
    walked: dict[int, int] = Counter()
    corridor = crowd.venue.corridor
    in_corridor: list[int] = []  # walkers between a hall and a mingling room
    for w in range(120):
        frames.append(crowd.step(w))
        in_corridor.append(sum(int(frames[-1].rooms[p] == corridor) for p in crowd.walk_to))
        for person in crowd.walk_to:
            walked[person] += 1
            walk = walker.walks[person]
            # Walkers face the way their path goes (within the jitter).
            _, leg, _ = walk.along(walk.shown - 1)
            turn = math.remainder(frames[-1].headings[person] - leg.heading, 2 * math.pi)
            assert abs(turn) <= math.radians(crowd.params.walk_jitter_deg) + 1e-9
            if w > 0 and walk.shown > 1:
                step = math.dist(frames[-1].positions[person], frames[-2].positions[person])
                # at most one window's walk, two doors' walls and the sideways jitter
                hop = WALL_GAP_M + 2 * DOOR_INSET_M
                assert step <= walk.step_m + 2 * hop + 2 * LATERAL_JITTER_M + 1e-9
    seated = [int(np.isin(f.rooms, crowd.venue.halls).sum()) for f in frames]
    # The halls fill over a few windows as people arrive at their own pace (walkers inside
    # a hall count as in it), then stay full.
    start, end = agenda.session_start, agenda.session_end
    assert in_corridor[start + 1] > 0.3 * N
    assert seated[start + 1 : end] == sorted(seated[start + 1 : end])
    full = seated[end - 1]
    assert full > 0.6 * N and seated[start + 6 : end] == [full] * (end - start - 6)
    assert 0 < in_corridor[end + 1] <= full
    # A walk between a hall and a mingling room takes more than one window here.
    assert max(walked.values()) > 2
    quiet = set(range(120)) - set(range(start, start + 6)) - set(range(end, end + 6))
    assert all(in_corridor[w] == 0 for w in quiet)
    # Someone leaving a group for another mingling room walks there through the corridor.
    assert any(int((frames[w].rooms == corridor).sum()) > 0 for w in quiet)


def test_people_queue_at_registration_and_for_coffee_and_the_queues_drain() -> None:
    agenda = Agenda.for_windows(110)
    crowd = _crowd(4)
    lengths: list[int] = []
    for w in range(120):
        crowd.step(w)
        lengths.append(sum(len(line) for line in crowd.queues.values()))
    assert max(lengths[: agenda.arrival_windows]) > 0  # registration
    assert max(lengths[agenda.session_end : agenda.session_end + 5]) > 0.1 * N  # coffee
    assert lengths[agenda.session_start - 1] == 0 and lengths[agenda.windows - 1] == 0
    assert all(n == 0 for n in lengths[agenda.windows :])


def test_without_queues_and_corridors_the_crowd_is_the_classic_one() -> None:
    crowd = _crowd(4, corridors=False, queues=False)
    frames = [crowd.step(w) for w in range(120)]
    assert all(not (f.rooms == crowd.venue.corridor).any() for f in frames)
    assert all(not line for line in crowd.queues.values())


def test_short_agendas_keep_one_session_and_long_ones_follow_the_conference_day() -> None:
    assert Agenda.for_windows(180).day == ()
    assert Agenda.for_windows(DAY_MIN_WINDOWS - 1).day == ()
    day = Agenda.for_windows(1440)  # 8 h of 20 s windows
    assert [(p.kind, p.start, p.end) for p in day.day] == [
        ("arrival", 0, 90),
        ("session", 90, 360),
        ("break", 360, 450),
        ("session", 450, 720),
        ("lunch", 720, 900),
        ("session", 900, 1170),
        ("break", 1170, 1260),
        ("session", 1260, 1386),
        ("leaving", 1386, 1440),
    ]
    assert (day.session_start, day.session_end, day.arrival_windows) == (90, 360, 72)
    assert day.phase_at(0) == 0 and day.phase_at(800) == 4 and day.phase_at(1440) == -1
    shortest = Agenda.day_of(9)
    assert [(p.start, p.end) for p in shortest.day] == [(k, k + 1) for k in range(9)]
    with pytest.raises(ValueError, match="at least 9 windows"):
        Agenda.day_of(8)


@pytest.fixture(scope="module")
def lunch() -> tuple[Crowd, list[Frame], list[list[Place]]]:
    crowd = Crowd.create(
        build_venue(N), Agenda.for_windows(DAY_MIN_WINDOWS), N, random.Random(7), CrowdParams()
    )
    lunch = crowd.agenda.day[4]
    frames: list[Frame] = []
    places: list[list[Place]] = []
    for w in range(lunch.end + 2):
        frame = crowd.step(w)
        if w >= lunch.start:
            frames.append(frame)
            places.append(list(crowd.place))
    return crowd, frames, places


def test_at_lunch_people_eat_at_tables_facing_each_other_or_stand_in_groups(
    lunch: tuple[Crowd, list[Frame], list[list[Place]]],
) -> None:
    crowd, frames, places = lunch
    middle = len(frames) // 2
    frame, place = frames[middle], places[middle]
    eating = {p for p in range(N) if place[p] == Place.EATING}
    # Everyone was served; about table_share (0.6) of them sit at tables.
    assert len(crowd.fed) == N and 0.45 * N <= len(eating) <= 0.75 * N
    tables = [g for g in frame.groups if set(g) & eating]
    assert all(set(g) <= eating and 2 <= len(g) <= 4 for g in tables)
    assert sum(len(g) for g in tables) >= 0.9 * len(eating)
    for table in tables:
        members = list(table)
        centre = frame.positions[members].mean(axis=0)
        radii = np.linalg.norm(frame.positions[members] - centre, axis=1)
        assert np.allclose(radii, 0.6)
    i, j = face_to_face(frame)
    at_tables = sum(1 for a, b in zip(i.tolist(), j.tolist(), strict=True) if a in eating)
    assert at_tables >= len(eating)  # everyone at a full table faces someone across it
    standing = [g for g in frame.groups if not set(g) & eating]
    assert standing  # those who eat standing talk in conversation groups
    # After lunch the tables are cleared and the audience is seated again.
    assert Place.EATING not in places[-1] and places[-1].count(Place.SEATED) > 0.6 * N


def test_the_lunch_queue_is_slower_than_the_coffee_queue_but_drains_within_lunch(
    lunch: tuple[Crowd, list[Frame], list[list[Place]]],
) -> None:
    crowd, _, places = lunch
    queueing = [p.count(Place.QUEUEING) for p in places]
    assert max(queueing) > 0.5 * N
    assert queueing[len(queueing) // 2] == 0
    assert crowd.params.lunch_service_s > crowd.params.queue_service_s
