"""The crowd's state: where each person is, the standing groups, queues and walks.

``CrowdState`` holds the fields; the behaviour is layered on it, one concept per
module: ``crowd_groups`` (conversation groups), ``crowd_queues`` (queues and lunch),
``crowd_movement`` (arrival, sessions, walks, leaving), ``crowd_frame`` (the frame
of a window) and ``crowd`` (``Crowd``: creation and the agenda's steps).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from enum import IntEnum

from firmware_sim.agenda import Agenda
from firmware_sim.crowd_params import CrowdParams
from firmware_sim.frame import ABSENT, Frame
from firmware_sim.venue import Venue
from firmware_sim.walking import Point, Walker


class Place(IntEnum):
    """Where a person is."""

    ABSENT = 0
    MINGLING = 1
    SEATED = 2
    WALKING = 3
    QUEUEING = 4
    EATING = 5


@dataclass
class Group:
    """People at one standing spot; a group of one is someone standing alone."""

    room: int
    spot: int
    members: list[int]
    radius: float = 0.0
    phase: float = 0.0
    end: float = math.inf
    table: bool = False


@dataclass
class CrowdState:
    """The state of a crowd (``Crowd``): people, groups, spots, queues, walks, last frame."""

    venue: Venue
    agenda: Agenda
    rng: random.Random
    params: CrowdParams
    arrival: list[int]
    place: list[Place]
    seat: list[tuple[int, int]]
    group_of: list[int]
    groups: dict[int, Group] = field(default_factory=dict)
    free_spots: dict[int, list[int]] = field(default_factory=dict)
    next_group: int = 0
    queues: dict[int, list[int]] = field(default_factory=dict)
    walk_to: dict[int, tuple[int, int, bool]] = field(default_factory=dict)
    departure: list[int] = field(default_factory=list)
    hungry: set[int] = field(default_factory=set)
    fed: set[int] = field(default_factory=set)
    walker: Walker | None = None
    last_frame: Frame | None = None

    @property
    def size(self) -> int:
        """Number of attendees."""
        return len(self.place)

    @property
    def _has_corridor(self) -> bool:
        return self.params.corridors and self.venue.corridor is not None

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
