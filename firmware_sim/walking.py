"""Walking: people go from room to room along a path, at their own pace, window by window.

A walk is a polyline through the venue: from where the walker is, straight to the
inside of their room's door (every room is convex, so the leg stays inside it), through
the door (the wall between room and corridor is crossed in no time: a position is never
inside it), along the corridor on the walker's own lane, through the other room's door
and on to the destination. The walker covers ``speed * window_seconds`` metres of the
path per window (speed drawn per walk, ``WALK_SPEED_MPS``), so a walk takes
``ceil(length / (speed * window))`` windows, at least one; during window ``k`` (from 0)
they are at distance ``min(length, (k + 1) * step)`` along it, shifted sideways by a
little seeded jitter (never into a wall, never at the destination itself), facing the
way they go within the crowd's ``walk_jitter_deg``. The last window shows them at the
destination.

Two kinds of walks: ``Walker.start`` for walks between a hall and a mingling room (the
crowd keeps the walker ``WALKING`` until the walk is shown to its end), and
``Walker.approach`` for someone the crowd has already put at a standing spot (leaving a
group, served at a desk, arriving from a hall): only the frames show them on the way,
and the window their approach ends in shows them where the crowd puts them.

All draws come from the ``Walker``'s own ``random.Random``, which ``walking_rng``
derives from the crowd's generator without drawing from it, so walking does not shift
the crowd's other draws.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from dataclasses import dataclass, field

from firmware_sim.venue import Venue

logger = logging.getLogger(__name__)

WALK_SPEED_MPS = (1.0, 1.4)
"""Range of walking speeds (uniform, one per walk), metres per second."""
LATERAL_JITTER_M = 0.2
"""A walker is seen up to this far to either side of the path."""
DOOR_INSET_M = 0.05
"""How far inside a room the path passes its door."""
ARRIVAL_SPREAD_M = 1.5
"""Someone walking into a mingling room stops this far at most from the inside of its door."""
LANE_MARGIN_M = 0.3
"""Free space between a corridor lane and the corridor's walls."""

Point = tuple[float, float]


def walking_rng(rng: random.Random) -> random.Random:
    """A generator for walking derived from ``rng``'s state, without drawing from ``rng``."""
    digest = hashlib.sha256(b"walking:" + repr(rng.getstate()).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Leg:
    """A straight piece of a path inside one room (a door ends a leg)."""

    start: Point
    end: Point
    room: int

    @property
    def length(self) -> float:
        """Length of the leg in metres."""
        return math.dist(self.start, self.end)

    @property
    def heading(self) -> float:
        """Direction of travel in radians (0 = east)."""
        return math.atan2(self.end[1] - self.start[1], self.end[0] - self.start[0])


@dataclass
class Walk:
    """One person's walk: the legs of the path and the pace.

    Attributes:
        legs: the path, in order; consecutive legs meet at a door (or continue).
        step_m: metres covered per window (speed times the window length).
        shown: windows of the walk already shown.
    """

    legs: tuple[Leg, ...]
    step_m: float
    shown: int = 0

    @property
    def length(self) -> float:
        """Length of the path in metres (doors count as no length)."""
        return sum(leg.length for leg in self.legs)

    @property
    def windows(self) -> int:
        """Windows the walk takes: ``ceil(length / step_m)``, at least one."""
        return max(1, math.ceil(self.length / self.step_m - 1e-9))

    @property
    def destination(self) -> Point:
        """Where the walk ends."""
        return self.legs[-1].end

    @property
    def arrived(self) -> bool:
        """Whether every window of the walk has been shown."""
        return self.shown >= self.windows

    def along(self, k: int) -> tuple[Point, Leg, float]:
        """Point of the path during window ``k``, its leg, and the distance walked."""
        if k + 1 >= self.windows:
            return self.legs[-1].end, self.legs[-1], self.length
        distance = min(self.length, (k + 1) * self.step_m)
        left = distance
        for leg in self.legs:
            if left <= leg.length or leg is self.legs[-1]:
                t = left / leg.length if leg.length > 0 else 1.0
                if t >= 1.0:
                    return leg.end, leg, distance
                x = leg.start[0] + (leg.end[0] - leg.start[0]) * t
                y = leg.start[1] + (leg.end[1] - leg.start[1]) * t
                return (x, y), leg, distance
            left -= leg.length
        raise AssertionError("unreachable: the last leg always matches")


def plan(
    venue: Venue,
    origin_room: int,
    origin: Point,
    dest_room: int,
    dest: Point,
    lane_y: float,
) -> tuple[Leg, ...]:
    """The path from ``origin`` in ``origin_room`` to ``dest`` in ``dest_room``.

    Within one room it is a straight line; otherwise it goes through the origin room's
    door, along the corridor at ``lane_y`` and through the destination room's door.

    Raises:
        ValueError: the rooms differ and the venue has no corridor, or a point is not
            inside its room.
    """
    rooms = venue.rooms
    if not rooms[origin_room].contains(*origin):
        raise ValueError(f"walk start {origin} is not inside {rooms[origin_room].name}")
    if not rooms[dest_room].contains(*dest):
        raise ValueError(f"walk end {dest} is not inside {rooms[dest_room].name}")
    if origin_room == dest_room:
        return (Leg(origin, dest, origin_room),)
    corridor = venue.corridor
    if corridor is None:
        raise ValueError("walking between rooms needs a corridor")
    legs: list[Leg] = []
    here, here_room = origin, origin_room
    if origin_room != corridor:
        room = rooms[origin_room]
        door_in = (room.door_x, room.y1 - DOOR_INSET_M)
        legs.append(Leg(origin, door_in, origin_room))
        here = (room.door_x, rooms[corridor].y0 + DOOR_INSET_M)
        here_room = corridor
    if dest_room == corridor:
        legs.append(Leg(here, (here[0], lane_y), corridor))
        legs.append(Leg((here[0], lane_y), dest, corridor))
        return tuple(leg for leg in legs if leg.length > 0 or leg is legs[-1])
    room = rooms[dest_room]
    lane_start = (here[0], lane_y)
    lane_end = (room.door_x, lane_y)
    door_out = (room.door_x, rooms[corridor].y0 + DOOR_INSET_M)
    legs.append(Leg(here, lane_start, here_room))
    legs.append(Leg(lane_start, lane_end, corridor))
    legs.append(Leg(lane_end, door_out, corridor))
    legs.append(Leg((room.door_x, room.y1 - DOOR_INSET_M), dest, dest_room))
    return tuple(leg for leg in legs if leg.length > 0 or leg is legs[-1])


@dataclass
class Walker:
    """Plans and advances everyone's walks, from its own random generator.

    Attributes:
        venue: the venue walked through.
        window_seconds: event time per window.
        jitter_deg: a walker faces the way they go within this angle.
        rng: the walking generator (see ``walking_rng``).
        walks: the walk of everyone walking between a hall and a mingling room, by person.
        approaches: the walk of everyone on their way to a standing spot, by person.
    """

    venue: Venue
    window_seconds: float
    jitter_deg: float
    rng: random.Random
    walks: dict[int, Walk] = field(default_factory=dict)
    approaches: dict[int, Walk] = field(default_factory=dict)

    def arrival_point(self, room: int) -> Point:
        """A drawn point just inside ``room``'s door, where someone walking in stops."""
        r = self.venue.rooms[room]
        y_top = r.y1 - DOOR_INSET_M
        dx = self.rng.uniform(-ARRIVAL_SPREAD_M, ARRIVAL_SPREAD_M)
        dy = self.rng.uniform(0.2, ARRIVAL_SPREAD_M)
        x = min(max(r.door_x + dx, r.x0 + DOOR_INSET_M), r.x1 - DOOR_INSET_M)
        y = min(max(y_top - dy, r.y0 + DOOR_INSET_M), y_top)
        return (x, y)

    def start(
        self, person: int, origin_room: int, origin: Point, dest_room: int, dest: Point | None
    ) -> Walk:
        """``person`` sets off from ``origin``; ``dest`` None: stop inside ``dest_room``'s door.

        Raises:
            ValueError: as ``plan``.
        """
        if dest is None:
            dest = self.arrival_point(dest_room)
        speed = self.rng.uniform(*WALK_SPEED_MPS)
        lane_y = self._lane_y()
        legs = plan(self.venue, origin_room, origin, dest_room, dest, lane_y)
        walk = Walk(legs, speed * self.window_seconds)
        self.walks[person] = walk
        return walk

    def _lane_y(self) -> float:
        corridor = self.venue.corridor
        if corridor is None:
            return 0.0
        room = self.venue.rooms[corridor]
        return self.rng.uniform(room.y0 + LANE_MARGIN_M, room.y1 - LANE_MARGIN_M)

    def approach(
        self, person: int, origin_room: int, origin: Point, dest_room: int, dest: Point
    ) -> None:
        """``person`` walks from ``origin`` to the standing spot ``dest`` in ``dest_room``.

        Raises:
            ValueError: as ``plan``.
        """
        self.approaches.pop(person, None)
        if origin_room == dest_room and math.dist(origin, dest) < 1e-9:
            return
        speed = self.rng.uniform(*WALK_SPEED_MPS)
        legs = plan(self.venue, origin_room, origin, dest_room, dest, self._lane_y())
        self.approaches[person] = Walk(legs, speed * self.window_seconds)

    def on_the_way(self) -> set[int]:
        """Those whose approach is shown in the next frame (not yet at their spot)."""
        return {p for p, walk in self.approaches.items() if walk.shown + 1 < walk.windows}

    def show_approach(self, person: int) -> tuple[Point, float, int] | None:
        """Advance ``person``'s approach by one window; None once they are at the spot
        (from the window the walk ends in on, the crowd shows them there)."""
        walk = self.approaches[person]
        if walk.shown + 1 >= walk.windows:
            del self.approaches[person]
            return None
        return self._show(walk)

    def where(self, person: int) -> tuple[Point, int]:
        """Where ``person`` was last shown (or sets off from) on the path, and the room."""
        walk = self.walks[person] if person in self.walks else self.approaches[person]
        if walk.shown == 0:
            return walk.legs[0].start, walk.legs[0].room
        point, leg, _ = walk.along(walk.shown - 1)
        return point, leg.room

    def show(self, person: int) -> tuple[Point, float, int]:
        """Advance ``person``'s walk by one window: position, heading and room."""
        return self._show(self.walks[person])

    def _show(self, walk: Walk) -> tuple[Point, float, int]:
        k = walk.shown
        walk.shown += 1
        (x, y), leg, _ = walk.along(k)
        jitter = math.radians(self.jitter_deg)
        heading = leg.heading + self.rng.uniform(-jitter, jitter)
        side = self.rng.uniform(-LATERAL_JITTER_M, LATERAL_JITTER_M)
        if walk.arrived:
            return (x, y), heading, leg.room
        moved = (x - side * math.sin(leg.heading), y + side * math.cos(leg.heading))
        if self.venue.rooms[leg.room].contains(*moved):
            x, y = moved
        return (x, y), heading, leg.room

    def forget(self, person: int) -> None:
        """``person`` is no longer walking."""
        self.walks.pop(person, None)
        self.approaches.pop(person, None)
