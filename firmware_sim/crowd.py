"""The crowd: an agenda (arrival, sessions, breaks, lunch), conversation groups, queues.

Deterministic from the injected ``random.Random``. While mingling, people stand in
conversation groups of 2-5 on a small circle facing its centre, one group per
standing spot; groups form and dissolve, people leave and join, and some stand
alone facing random directions. During the session most people sit in rows in the
halls facing the stage (side by side and one behind the other: never face-to-face).
On arrival people queue at a registration desk, and at the break some queue for
coffee: one behind the other, facing the desk (never face-to-face). Between the
mingling rooms and the halls people walk through the corridor for a window, in
lanes, facing the way they go; with ``CrowdParams(walking=True)`` they walk along a path
instead (firmware_sim/walking.py): through their room's door, along the corridor and
through the other room's door, at their own pace, for as many windows as the way
takes, and people coming to a standing spot walk there too. Movement happens between
windows: ``Crowd.step`` returns one ``Frame`` per window.

Agendas longer than ``DAY_MIN_WINDOWS`` windows follow a conference day instead of
the single session: arrival, two morning sessions around a coffee break, lunch, two
afternoon sessions around another coffee break, and a farewell during which people
leave one by one. At lunch everyone queues at the buffet of a mingling room (one
behind the other, never face to face), then eats at a table, in a small group
facing its centre, or standing with the others.
"""

from __future__ import annotations

import bisect
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import overload

import numpy as np

from firmware_sim.frame import ABSENT, Floats, Frame, Ints
from firmware_sim.venue import Points, Venue
from firmware_sim.walking import Point, Walker, walking_rng

logger = logging.getLogger(__name__)

DAY_MIN_WINDOWS = 720
"""Agendas of at least this many windows (4 h at 20 s) follow the conference day."""

_DAY_SHAPE: tuple[tuple[str, float], ...] = (
    ("arrival", 0.0625),
    ("session", 0.1875),
    ("break", 0.0625),
    ("session", 0.1875),
    ("lunch", 0.125),
    ("session", 0.1875),
    ("break", 0.0625),
    ("session", 0.0875),
    ("leaving", 0.0375),
)
"""Phases of the conference day and their shares of the agenda (8 h: 30 min arrival,
90 min sessions, 30 min coffee breaks, 60 min lunch, 42 min last session, 18 min farewell)."""


@dataclass(frozen=True)
class Phase:
    """One phase of a day agenda: windows ``start`` to ``end - 1``.

    Attributes:
        kind: ``"arrival"``, ``"session"``, ``"break"``, ``"lunch"`` or ``"leaving"``.
        start: first window of the phase.
        end: first window after the phase.
    """

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Agenda:
    """Phases of the event in windows; from ``windows`` on, nobody is at the venue.

    A short agenda is arrival and mingling, one session and a break (``day`` empty); a
    day agenda lists its phases in ``day`` and ``session_start``/``session_end`` are
    those of its first session.

    Attributes:
        windows: windows in the agenda; from this window on, nobody is at the venue.
        arrival_windows: people arrive during the first ``arrival_windows`` windows.
        session_start: first window of the (first) seated session.
        session_end: first window after the (first) seated session.
        day: the phases of a day agenda, in order, or empty for the short agenda.
    """

    windows: int
    arrival_windows: int
    session_start: int
    session_end: int
    day: tuple[Phase, ...] = ()

    @classmethod
    def for_windows(cls, windows: int) -> Agenda:
        """The default agenda for ``windows`` windows.

        Below ``DAY_MIN_WINDOWS``: 25 % arrival mingling, 50 % session, 25 % break;
        attendees arrive during the first 10 % of the agenda (at least one window).
        From ``DAY_MIN_WINDOWS`` on: the conference day of ``_DAY_SHAPE``; attendees
        arrive during the first 80 % of the arrival phase.
        """
        if windows >= DAY_MIN_WINDOWS:
            return cls.day_of(windows)
        session_start = round(windows * 0.25)
        session_end = max(session_start, round(windows * 0.75))
        arrival = max(1, min(session_start, round(windows * 0.10)))
        return cls(windows, arrival, session_start, session_end)

    @classmethod
    def day_of(cls, windows: int) -> Agenda:
        """The conference day over ``windows`` windows (at least one per phase)."""
        if windows < len(_DAY_SHAPE):
            raise ValueError(f"a day agenda needs at least {len(_DAY_SHAPE)} windows")
        phases: list[Phase] = []
        start, share = 0, 0.0
        for k, (kind, part) in enumerate(_DAY_SHAPE):
            share += part
            left = len(_DAY_SHAPE) - k - 1
            end = windows if left == 0 else round(windows * share)
            end = min(max(end, start + 1), windows - left)
            phases.append(Phase(kind, start, end))
            start = end
        first = phases[0]
        arrival = max(1, round((first.end - first.start) * 0.8))
        session = phases[1]
        return cls(windows, arrival, session.start, session.end, tuple(phases))

    def phase_at(self, w: int) -> int:
        """Index in ``day`` of the phase window ``w`` belongs to (-1 outside a day agenda)."""
        for k, phase in enumerate(self.day):
            if phase.start <= w < phase.end:
                return k
        return -1


@dataclass(frozen=True)
class CrowdParams:
    """Behaviour of the crowd; the defaults are documented in docs/simulator.md.

    Attributes:
        window_seconds: event time per window.
        seated_share: share of the attendees sitting in the halls during the session.
        group_radius_m: range of the radius of a conversation circle.
        heading_jitter_deg: a group member faces the circle's centre within this angle.
        seat_jitter_deg: a seated person faces the stage within this angle.
        group_lifetime_s: mean lifetime of a conversation group (gamma, shape 2).
        membership_s: mean time a person stays in a group before leaving on their own.
        seek_probability: chance per window that someone standing alone looks for company.
        new_group_share: chance that a seeker starts a group with another lone person
            rather than joining an existing group.
        max_group: largest conversation group.
        switch_room_share: chance that someone leaving a group walks to another room.
        corridors: walk through the corridor between halls and mingling rooms.
        walking: with ``corridors``, walk along a path through the doors and the corridor
            for as many windows as the way takes (walking.py); otherwise a walk is one
            window on a random walking slot of the corridor.
        queues: queue at registration on arrival and for coffee at the break.
        coffee_share: share of the audience that queues for coffee after the session.
        queue_service_s: seconds one desk takes per person.
        queue_desks_per_100: desks serving each queue per 100 attendees (at least one).
        queue_jitter_deg: someone in a queue faces the head of the line within this angle.
        walk_jitter_deg: a walker faces the way they go within this angle.
        lunch_service_s: seconds one buffet desk takes per person at lunch.
        table_share: share of those served lunch who eat at a table (the others stand).
        table_size: people per lunch table.
        table_radius_m: radius of the circle people at a table sit on.
    """

    window_seconds: int = 20
    seated_share: float = 0.7
    group_radius_m: tuple[float, float] = (0.45, 0.7)
    heading_jitter_deg: float = 15.0
    seat_jitter_deg: float = 10.0
    group_lifetime_s: float = 360.0
    membership_s: float = 1800.0
    seek_probability: float = 0.3
    new_group_share: float = 0.5
    max_group: int = 5
    switch_room_share: float = 0.2
    corridors: bool = True
    walking: bool = False
    queues: bool = True
    coffee_share: float = 0.4
    queue_service_s: float = 6.0
    queue_desks_per_100: float = 1.0
    queue_jitter_deg: float = 15.0
    walk_jitter_deg: float = 10.0
    lunch_service_s: float = 15.0
    table_share: float = 0.6
    table_size: int = 4
    table_radius_m: float = 0.6


class Place(IntEnum):
    """Where a person is."""

    ABSENT = 0
    MINGLING = 1
    SEATED = 2
    WALKING = 3
    QUEUEING = 4
    EATING = 5


@dataclass
class _Group:
    """People at one standing spot; a group of one is someone standing alone."""

    room: int
    spot: int
    members: list[int]
    radius: float = 0.0
    phase: float = 0.0
    end: float = math.inf
    table: bool = False


@dataclass
class Crowd:
    """Moves ``n`` attendees through a venue, one window at a time.

    Build it with ``Crowd.create``; call ``step(w)`` for w = 0, 1, 2, ... in order.
    """

    venue: Venue
    agenda: Agenda
    rng: random.Random
    params: CrowdParams
    arrival: list[int]
    place: list[Place]
    seat: list[tuple[int, int]]
    group_of: list[int]
    groups: dict[int, _Group] = field(default_factory=dict)
    free_spots: dict[int, list[int]] = field(default_factory=dict)
    next_group: int = 0
    queues: dict[int, list[int]] = field(default_factory=dict)
    walk_to: dict[int, tuple[int, int, bool]] = field(default_factory=dict)
    departure: list[int] = field(default_factory=list)
    hungry: set[int] = field(default_factory=set)
    fed: set[int] = field(default_factory=set)
    walker: Walker | None = None
    last_frame: Frame | None = None

    @classmethod
    def create(
        cls, venue: Venue, agenda: Agenda, n: int, rng: random.Random, params: CrowdParams
    ) -> Crowd:
        """A crowd of ``n`` people who have not arrived yet; arrival windows come from ``rng``.

        Walking draws from its own generator, derived from ``rng`` (``walking_rng``).
        """
        walker = None
        if params.walking and params.corridors and venue.corridor is not None:
            jitter = params.walk_jitter_deg
            walker = Walker(venue, params.window_seconds, jitter, walking_rng(rng))
        arrival = [rng.randrange(agenda.arrival_windows) for _ in range(n)]
        free = {r: list(range(len(venue.rooms[r].spots))) for r in venue.mingle_rooms}
        queues: dict[int, list[int]] = {r: [] for r in venue.mingle_rooms}
        departure: list[int] = []
        if agenda.day:
            leaving = agenda.day[-1]
            departure = [rng.randrange(leaving.start, leaving.end) + 1 for _ in range(n)]
        return cls(
            venue=venue,
            agenda=agenda,
            rng=rng,
            params=params,
            arrival=arrival,
            place=[Place.ABSENT] * n,
            seat=[(-1, -1)] * n,
            group_of=[-1] * n,
            free_spots=free,
            queues=queues,
            departure=departure,
            walker=walker,
        )

    @property
    def size(self) -> int:
        """Number of attendees."""
        return len(self.place)

    def step(self, w: int) -> Frame:
        """Move everyone to where they are during window ``w`` and return the frame."""
        if w >= self.agenda.windows:
            self._leave_venue()
        elif self.agenda.day:
            self._day_step(w)
        else:
            self._finish_walks()
            self._serve_queues(w)
            self._arrive(w)
            if w == self.agenda.session_start and self.agenda.session_end > w:
                self._seat_audience()
            if w == self.agenda.session_end:
                self._release_audience()
            self._dissolve_expired(w)
            self._drift_apart()
            self._seek_company(w)
        self.last_frame = self._frame()
        return self.last_frame

    def _day_step(self, w: int) -> None:
        """One window of a day agenda: phase changes, lunch, departures, then mingling."""
        self._finish_walks()
        self._serve_queues(w)
        self._arrive(w)
        k = self.agenda.phase_at(w)
        phase = self.agenda.day[k]
        if phase.start == w and k > 0:
            before = self.agenda.day[k - 1].kind
            if before == "lunch":
                self._end_lunch()
            if phase.kind == "session":
                self._seat_audience()
            elif phase.kind == "lunch":
                self._start_lunch()
            elif before == "session":
                self._release_audience(coffee=phase.kind == "break")
        if phase.kind == "lunch":
            self._queue_for_lunch()
        if phase.kind == "leaving":
            for person in range(self.size):
                if self.departure[person] == w and self.place[person] != Place.ABSENT:
                    self._depart(person)
        self._dissolve_expired(w)
        self._drift_apart()
        self._seek_company(w)

    # --- lunch --------------------------------------------------------------------

    def _start_lunch(self) -> None:
        """Everyone present gets hungry; the audience walks out to the buffets."""
        self.hungry = {p for p in range(self.size) if self.place[p] != Place.ABSENT}
        self._release_audience(coffee=True)

    def _queue_for_lunch(self) -> None:
        """Hungry people mingling join a buffet queue with room, their own room first."""
        for person in sorted(self.hungry):
            if self.place[person] != Place.MINGLING:
                continue
            here = self.groups[self.group_of[person]].room
            rooms = [here] + [r for r in self.venue.mingle_rooms if r != here]
            for room in rooms:
                line = self.queues.get(room)
                if line is not None and len(line) < len(self.venue.rooms[room].queue):
                    self._leave_group(person)
                    line.append(person)
                    self.place[person] = Place.QUEUEING
                    break

    def _eat(self, person: int, room: int) -> None:
        """Someone served lunch sits at a table with room or stands alone with their plate."""
        self.hungry.discard(person)
        self.fed.add(person)
        if self.rng.random() >= self.params.table_share:
            self.place[person] = Place.MINGLING
            self._stand_alone(person, room)
            return
        for gid in sorted(self.groups):
            group = self.groups[gid]
            if group.table and group.room == room and len(group.members) < self.params.table_size:
                group.members.append(person)
                self.group_of[person] = gid
                self.place[person] = Place.EATING
                return
        self._stand_alone(person, room)
        table = self.groups[self.group_of[person]]
        table.table = True
        table.radius = self.params.table_radius_m
        table.phase = self.rng.uniform(0.0, 2 * math.pi)
        self.place[person] = Place.EATING

    def _end_lunch(self) -> None:
        """Lunch is over: the tables empty and everyone still hungry gives up."""
        self.hungry.clear()
        for person in range(self.size):
            if self.place[person] == Place.EATING:
                room = self.groups[self.group_of[person]].room
                self._leave_group(person)
                self.place[person] = Place.MINGLING
                self._stand_alone(person, room)

    def _depart(self, person: int) -> None:
        """``person`` goes home."""
        if self.place[person] in (Place.MINGLING, Place.EATING):
            self._leave_group(person)
        for line in self.queues.values():
            if person in line:
                line.remove(person)
        self.walk_to.pop(person, None)
        if self.walker is not None:
            self.walker.forget(person)
        self.place[person] = Place.ABSENT
        self.seat[person] = (-1, -1)

    # --- movement ---------------------------------------------------------------

    def _arrive(self, w: int) -> None:
        for person, when in enumerate(self.arrival):
            if when == w and self.place[person] == Place.ABSENT:
                room = self.rng.choice(self.venue.mingle_rooms)
                if not self._join_queue(person, room):  # registration
                    self.place[person] = Place.MINGLING
                    self._stand_alone(person, room)

    def _seat_audience(self) -> None:
        mingling = [p for p in range(self.size) if self.place[p] == Place.MINGLING]
        audience = self.rng.sample(mingling, round(len(mingling) * self.params.seated_share))
        halls = self.venue.halls
        per_hall: dict[int, list[int]] = {h: [] for h in halls}
        for k, person in enumerate(audience):
            per_hall[halls[k % len(halls)]].append(person)
        for hall, people in per_hall.items():
            seats = self.rng.sample(range(len(self.venue.rooms[hall].seats)), len(people))
            for person, seat in zip(people, seats, strict=True):
                origin = self._origin(person)
                self._leave_group(person)
                self.seat[person] = (hall, seat)
                if self._has_corridor:
                    self.place[person] = Place.WALKING
                    self.walk_to[person] = (hall, seat, False)
                    self._start_walk(person, origin, hall, self.venue.rooms[hall].seats[seat])
                else:
                    self.place[person] = Place.SEATED
        logger.debug("session starts seated=%d", len(audience))

    def _release_audience(self, coffee: bool = True) -> None:
        """The audience walks to a mingling room; ``coffee``: some queue on arrival there."""
        share = self.params.coffee_share
        if self.hungry:
            share = 1.0
        elif not coffee:
            share = 0.0
        for person in range(self.size):
            # (someone still walking to their seat turns back)
            to_seat = (
                self.walker is not None
                and self.place[person] == Place.WALKING
                and self.walk_to[person][1] >= 0
            )
            if self.place[person] == Place.SEATED or to_seat:
                origin = self._origin(person)
                self.seat[person] = (-1, -1)
                room = self.rng.choice(self.venue.mingle_rooms)
                queue = self.params.queues and self.rng.random() < share
                if self._has_corridor:
                    self.place[person] = Place.WALKING
                    self.walk_to[person] = (room, -1, queue)
                    self._start_walk(person, origin, room, None)
                else:
                    self._settle(person, room, queue)

    @property
    def _has_corridor(self) -> bool:
        return self.params.corridors and self.venue.corridor is not None

    def _origin(self, person: int) -> tuple[int, Point]:
        """Where ``person`` sets off from: their walk, the last frame, or their place."""
        seen = self._seen_at(person)
        if seen is not None:
            return seen
        if self.group_of[person] >= 0:
            group = self.groups[self.group_of[person]]
            x, y = self.venue.rooms[group.room].spots[group.spot]
            return group.room, (float(x), float(y))
        hall, seat = self.seat[person]
        x, y = self.venue.rooms[hall].seats[seat]
        return hall, (float(x), float(y))

    def _seen_at(self, person: int) -> tuple[int, Point] | None:
        """Where ``person`` was last shown (on their way, or in the last frame), if anywhere."""
        walker = self.walker
        if walker is not None and (person in walker.walks or person in walker.approaches):
            point, room = walker.where(person)
            return room, point
        last = self.last_frame
        if last is not None and person < len(last) and last.rooms[person] != ABSENT:
            x, y = last.positions[person]
            return int(last.rooms[person]), (float(x), float(y))
        return None

    def _start_walk(
        self, person: int, origin: tuple[int, Point], room: int, dest: Points | None
    ) -> None:
        """``person`` walks from ``origin`` to ``dest`` in ``room`` (None: into the room)."""
        if self.walker is None:
            return
        end = None if dest is None else (float(dest[0]), float(dest[1]))
        self.walker.start(person, origin[0], origin[1], room, end)

    def _finish_walks(self) -> None:
        """Everyone whose walk has been shown to its end arrives."""
        walker = self.walker
        for person in sorted(self.walk_to):
            if walker is not None and person in walker.walks:
                if not walker.walks[person].arrived:
                    continue
            room, seat, coffee = self.walk_to.pop(person)
            if seat >= 0:
                self.place[person] = Place.SEATED
            else:
                self._settle(person, room, coffee)
            if walker is not None:
                walker.walks.pop(person, None)

    def _settle(self, person: int, room: int, coffee: bool) -> None:
        """Someone arriving in a mingling room queues for coffee or stands alone."""
        if not (coffee and self._join_queue(person, room)):
            self.place[person] = Place.MINGLING
            self._stand_alone(person, room)

    def _join_queue(self, person: int, room: int) -> bool:
        """Join the end of ``room``'s queue if queues are on and it has a free place."""
        line = self.queues.get(room)
        if not self.params.queues or line is None:
            return False
        if len(line) >= len(self.venue.rooms[room].queue):
            return False
        line.append(person)
        self.place[person] = Place.QUEUEING
        return True

    def _serve_queues(self, w: int) -> None:
        """The desks serve the heads of the queues; the served start mingling in the room."""
        desks = max(1.0, self.params.queue_desks_per_100 * self.size / 100)
        service = self.params.lunch_service_s if self.hungry else self.params.queue_service_s
        rate = desks * self.params.window_seconds / service
        served = math.floor(rate * (w + 1)) - math.floor(rate * w)
        for room in sorted(self.queues):
            line = self.queues[room]
            done, line[:] = line[:served], line[served:]
            for person in done:
                if person in self.hungry:
                    self._eat(person, room)
                    continue
                self.place[person] = Place.MINGLING
                self._stand_alone(person, room)

    def _leave_venue(self) -> None:
        self.walk_to.clear()
        if self.walker is not None:
            self.walker.walks.clear()
            self.walker.approaches.clear()
        for line in self.queues.values():
            line.clear()
        for person in range(self.size):
            if self.place[person] in (Place.MINGLING, Place.EATING):
                self._leave_group(person)
            self.place[person] = Place.ABSENT
            self.seat[person] = (-1, -1)

    def _dissolve_expired(self, w: int) -> None:
        for gid in sorted(self.groups):
            group = self.groups[gid]
            if len(group.members) > 1 and group.end <= w and not group.table:
                for person in list(group.members[1:]):
                    self._walk_away(person, group.room)

    def _drift_apart(self) -> None:
        p_leave = self.params.window_seconds / self.params.membership_s
        for gid in sorted(self.groups):
            group = self.groups.get(gid)
            if group is None or len(group.members) < 2 or group.table:
                continue
            for person in list(group.members):
                if len(group.members) > 1 and self.rng.random() < p_leave:
                    self._walk_away(person, group.room)

    def _seek_company(self, w: int) -> None:
        # Per-room indexes kept up to date as people pair up, so a seeker costs about
        # log(groups in the room) instead of a scan of the room's groups: the lone
        # people (sorted list) and the open groups' join weights (a Fenwick tree over
        # the room's groups in id order). The draws and results are those of scanning
        # (tests/unit/firmware_sim/test_sim_crowd_speed.py keeps the scan as the
        # reference): the same lists in the same order, one ``random()`` per weighted
        # pick compared against the same integer prefix sums as ``Random.choices``.
        max_group = self.params.max_group
        lone: dict[int, list[int]] = {}
        candidates: dict[int, list[int]] = {}
        for gid in sorted(self.groups):
            g = self.groups[gid]
            if g.table:
                continue
            if len(g.members) == 1:  # a lone person's group may become an open pair
                lone.setdefault(g.room, []).append(g.members[0])
                candidates.setdefault(g.room, []).append(gid)
            elif len(g.members) < max_group:
                candidates.setdefault(g.room, []).append(gid)
        for people in lone.values():
            people.sort()
        weighted = {
            room: _JoinWeights(gids, [self._join_weight(g) for g in gids])
            for room, gids in candidates.items()
        }
        loners = sorted(
            g.members[0] for g in self.groups.values() if len(g.members) == 1 and not g.table
        )
        self.rng.shuffle(loners)
        for person in loners:
            mine_id = self.group_of[person]
            mine = self.groups[mine_id]
            if len(mine.members) != 1 or self.rng.random() >= self.params.seek_probability:
                continue
            room_lone = lone.setdefault(mine.room, [])
            open_groups = weighted.get(mine.room)
            has_open = open_groups is not None and open_groups.total > 0
            others = _Without(room_lone, bisect.bisect_left(room_lone, person))
            start_new = len(others) > 0 and (
                not has_open or self.rng.random() < self.params.new_group_share
            )
            if start_new:
                partner = self.rng.choice(others)
                self._leave_group(partner)
                mine.members.append(partner)
                self.group_of[partner] = mine_id
                self._start_conversation(mine, w)
                _discard_sorted(room_lone, person)
                _discard_sorted(room_lone, partner)
                if open_groups is not None:
                    open_groups.set(mine_id, self._join_weight(mine_id))
            elif has_open and open_groups is not None:
                # Joiners prefer small groups, so groups of five stay rare.
                target = open_groups.pick(self.rng.random())
                self._leave_group(person)
                self.groups[target].members.append(person)
                self.group_of[person] = target
                _discard_sorted(room_lone, person)
                open_groups.set(target, self._join_weight(target))

    def _join_weight(self, gid: int) -> int:
        """Weight of an open group (2 to ``max_group - 1`` members) for a joiner, else 0."""
        size = len(self.groups[gid].members)
        if 1 < size < self.params.max_group:
            return (self.params.max_group - size) ** 2
        return 0

    # --- group bookkeeping --------------------------------------------------------

    def _start_conversation(self, group: _Group, w: int) -> None:
        low, high = self.params.group_radius_m
        mean_windows = self.params.group_lifetime_s / self.params.window_seconds
        lifetime = max(1, round(self.rng.gammavariate(2.0, mean_windows / 2.0)))
        group.radius = self.rng.uniform(low, high)
        group.phase = self.rng.uniform(0.0, 2 * math.pi)
        group.end = w + lifetime

    def _walk_away(self, person: int, room: int) -> None:
        rooms = self.venue.mingle_rooms
        if len(rooms) > 1 and self.rng.random() < self.params.switch_room_share:
            room = self.rng.choice([r for r in rooms if r != room])
        self._leave_group(person)
        self._stand_alone(person, room)

    def _stand_alone(self, person: int, room: int) -> None:
        """``person`` stands alone at a free spot (walking there, with ``walking``)."""
        origin = self._seen_at(person) if self.walker is not None else None
        self._take_spot(person, room)
        if self.walker is not None and origin is not None:
            group = self.groups[self.group_of[person]]
            x, y = self.venue.rooms[group.room].spots[group.spot]
            self.walker.approach(person, origin[0], origin[1], group.room, (float(x), float(y)))

    def _take_spot(self, person: int, room: int) -> None:
        """A group of one for ``person`` at a free spot drawn in ``room`` (or another)."""
        candidates = [room] + [r for r in self.venue.mingle_rooms if r != room]
        for r in candidates:
            free = self.free_spots[r]  # kept sorted: the draw is over the sorted spots
            if free:
                spot = self.rng.choice(free)
                _discard_sorted(free, spot)
                gid = self.next_group
                self.next_group += 1
                self.groups[gid] = _Group(room=r, spot=spot, members=[person])
                self.group_of[person] = gid
                return
        raise RuntimeError("the venue has no free standing spot; build_venue sizes it for everyone")

    def _leave_group(self, person: int) -> None:
        gid = self.group_of[person]
        if gid < 0:
            return
        group = self.groups[gid]
        group.members.remove(person)
        self.group_of[person] = -1
        if self.walker is not None:
            self.walker.approaches.pop(person, None)
        if not group.members:
            bisect.insort(self.free_spots[group.room], group.spot)
            del self.groups[gid]
        elif len(group.members) == 1:
            group.end = math.inf

    # --- the frame ----------------------------------------------------------------

    def _frame(self) -> Frame:
        n = self.size
        positions = np.zeros((n, 2), dtype=np.float64)
        headings = np.zeros(n, dtype=np.float64)
        rooms = np.full(n, ABSENT, dtype=np.int64)
        jitter = math.radians(self.params.heading_jitter_deg)
        seat_jitter = math.radians(self.params.seat_jitter_deg)
        conversations: list[tuple[int, ...]] = []
        walker = self.walker
        on_the_way = set() if walker is None else walker.on_the_way()
        for gid in sorted(self.groups):
            group = self.groups[gid]
            centre = self.venue.rooms[group.room].spots[group.spot]
            if len(group.members) == 1 and not group.table:
                person = group.members[0]
                positions[person] = centre
                headings[person] = self.rng.uniform(-math.pi, math.pi)
                rooms[person] = group.room
                continue
            m = len(group.members)
            for k, person in enumerate(group.members):
                theta = group.phase + 2 * math.pi * k / m
                positions[person] = (
                    centre[0] + group.radius * math.cos(theta),
                    centre[1] + group.radius * math.sin(theta),
                )
                headings[person] = theta + math.pi + self.rng.uniform(-jitter, jitter)
                rooms[person] = group.room
            talking = [p for p in group.members if p not in on_the_way]
            if m > 1 and len(talking) > 1:  # (those still on their way are not talking yet)
                conversations.append(tuple(sorted(talking)))
        for person in range(n):
            if self.place[person] == Place.SEATED:
                hall, seat = self.seat[person]
                room = self.venue.rooms[hall]
                positions[person] = room.seats[seat]
                headings[person] = room.stage_heading + self.rng.uniform(-seat_jitter, seat_jitter)
                rooms[person] = hall
        self._place_queues(positions, headings, rooms)
        self._place_walkers(positions, headings, rooms)
        if walker is not None:
            for person in sorted(walker.approaches):
                shown = walker.show_approach(person)
                if shown is not None:
                    positions[person], headings[person], rooms[person] = shown
        return Frame(positions, headings, rooms, tuple(conversations))

    def _place_queues(self, positions: Points, headings: Floats, rooms: Ints) -> None:
        """One behind the other on the room's queue line, facing its head (west)."""
        jitter = math.radians(self.params.queue_jitter_deg)
        for room_id in sorted(self.queues):
            places = self.venue.rooms[room_id].queue
            for k, person in enumerate(self.queues[room_id]):
                positions[person] = places[k]
                headings[person] = math.pi + self.rng.uniform(-jitter, jitter)
                rooms[person] = room_id

    def _place_walkers(self, positions: Points, headings: Floats, rooms: Ints) -> None:
        """Along their paths, one window further each frame, facing the way they go
        (``walking``), or on random free slots of the corridor, facing the room they
        walk to."""
        walker = self.walker
        if walker is not None:
            for person in sorted(self.walk_to):
                if person in walker.walks:
                    positions[person], headings[person], rooms[person] = walker.show(person)
            return
        corridor = self.venue.corridor
        if not self.walk_to or corridor is None:
            return
        slots = self.venue.rooms[corridor].spots
        jitter = math.radians(self.params.walk_jitter_deg)
        walkers = sorted(self.walk_to)
        chosen = self.rng.sample(range(len(slots)), min(len(walkers), len(slots)))
        for person, slot in zip(walkers, chosen, strict=False):
            target = self.venue.rooms[self.walk_to[person][0]]
            x, y = slots[slot]
            east = (target.x0 + target.x1) / 2 >= x
            headings[person] = (0.0 if east else math.pi) + self.rng.uniform(-jitter, jitter)
            positions[person] = (x, y)
            rooms[person] = corridor


class _Without(Sequence[int]):
    """``values`` without the item at ``skip`` (a view: nothing is copied)."""

    def __init__(self, values: list[int], skip: int) -> None:
        self._values = values
        self._skip = skip
        self._len = len(values) - (skip < len(values))

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...

    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(self._len))]
        if not 0 <= index < self._len:
            raise IndexError(index)
        return self._values[index + (index >= self._skip)]


class _JoinWeights:
    """Integer weights of a fixed, ascending list of keys, with weighted picks in O(log n).

    A Fenwick tree: ``pick(u)`` returns what ``random.choices(keys, weights)`` returns
    when its ``random()`` is ``u`` (the first key whose running total of weights exceeds
    ``u * total``, the last positive one if none does), ignoring keys of weight 0.
    """

    def __init__(self, keys: list[int], weights: list[int]) -> None:
        self._keys = keys
        self._at = {key: k for k, key in enumerate(keys)}
        self._weights = list(weights)
        size = len(keys)
        tree = [0] + list(weights)
        for k in range(1, size + 1):  # linear-time build
            parent = k + (k & -k)
            if parent <= size:
                tree[parent] += tree[k]
        self._tree = tree
        self._top = 1 << (size.bit_length() - 1) if size else 0
        self.total = sum(weights)

    def set(self, key: int, weight: int) -> None:
        """Give ``key`` the weight ``weight``."""
        k = self._at[key]
        delta = weight - self._weights[k]
        if not delta:
            return
        self._weights[k] = weight
        self.total += delta
        k += 1
        while k < len(self._tree):
            self._tree[k] += delta
            k += k & -k

    def pick(self, u: float) -> int:
        """The key ``random.choices`` would pick with ``random() == u`` (needs total > 0)."""
        x = u * (self.total + 0.0)
        if x >= self.total:  # choices clamps to the last key; the last positive one here
            x = self.total - 0.5
        position, below, step = 0, 0, self._top
        tree, size = self._tree, len(self._tree) - 1
        while step:
            nxt = position + step
            if nxt <= size and below + tree[nxt] <= x:
                position = nxt
                below += tree[nxt]
            step >>= 1
        return self._keys[position]


def _discard_sorted(values: list[int], value: int) -> None:
    """Remove ``value`` from the sorted list ``values`` (it must be there)."""
    at = bisect.bisect_left(values, value)
    if at < len(values) and values[at] == value:
        del values[at]
