"""The venue: rooms and a corridor separated by walls, seats, standing spots and queue lines.

Rooms are axis-aligned rectangles laid side by side along x (metres), each pair of
neighbours separated by a wall. Halls hold rows of seats facing a stage at ``y = 0``;
mingling rooms hold a grid of standing spots at least ``SPOT_SPACING_M`` apart, one
conversation group (or one person standing alone) per spot, and along their north wall
a strip with a queue line (registration desk, coffee bar). A corridor runs along the
north side of every room, behind a wall, with walking slots in lanes. Every room has a door
to the corridor in the middle of its north wall (halls reach back to the same north line
as the mingling rooms, behind their last row). Sizes follow the badge count, so the
density is the same for 20 or 2,000 badges.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

SEAT_PITCH_M = 0.55
"""Distance between the centres of neighbouring seats in a row."""
ROW_PITCH_M = 0.95
"""Distance between two rows of seats."""
AISLE_M = 1.2
"""Width of the central aisle splitting each row into two blocks."""
STAGE_DEPTH_M = 3.0
"""Free space between the stage wall and the first row."""
SPOT_SPACING_M = 4.0
"""Distance between neighbouring standing spots (so groups stand at least this far apart)."""
MARGIN_M = 2.0
"""Free space between the outermost seats or spots and the walls."""
WALL_GAP_M = 0.3
"""Thickness of the wall between two neighbouring rooms."""
HALL_SPARE = 1.3
"""Seats per expected seated attendee, so the audience spreads with some empty seats."""
QUEUE_STRIP_M = 3.0
"""Depth of the strip along a mingling room's north wall that holds its queue line."""
QUEUE_PITCH_M = 0.7
"""Distance between two people standing one behind the other in a queue."""
LANE_PITCH_M = 0.8
"""Distance between two walking lanes of the corridor."""
STEP_PITCH_M = 1.0
"""Distance between two walking slots of one corridor lane."""
CORRIDOR_MARGIN_M = 0.6
"""Free space between the outer walking lanes and the corridor's walls."""

RoomKind = Literal["hall", "mingle", "corridor"]
Points = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Room:
    """One room of the venue.

    Attributes:
        name: human-readable name, e.g. ``"Hall A"``.
        kind: ``"hall"`` (seats facing a stage), ``"mingle"`` (standing spots and a
            queue line) or ``"corridor"`` (walking slots).
        x0: west wall.
        y0: south wall (halls: the stage side).
        x1: east wall.
        y1: north wall.
        seats: ``(k, 2)`` seat positions (halls) or an empty array.
        spots: ``(k, 2)`` standing spots (mingling rooms), walking slots (corridor) or
            an empty array.
        stage_heading: direction seated people face, in radians (halls only).
        queue: ``(k, 2)`` places of a queue line, head first (mingling rooms), or empty;
            people in it face the head (west).
    """

    name: str
    kind: RoomKind
    x0: float
    y0: float
    x1: float
    y1: float
    seats: Points
    spots: Points
    stage_heading: float = -math.pi / 2
    queue: Points = field(default_factory=lambda: np.zeros((0, 2), dtype=np.float64))

    @property
    def door_x(self) -> float:
        """Where the room's door to the corridor is on its north wall (the middle)."""
        return (self.x0 + self.x1) / 2

    def contains(self, x: float, y: float) -> bool:
        """Whether ``(x, y)`` is strictly inside the room (not in or on a wall)."""
        return self.x0 < x < self.x1 and self.y0 < y < self.y1

    @property
    def area_m2(self) -> float:
        """Floor area of the room."""
        return (self.x1 - self.x0) * (self.y1 - self.y0)


@dataclass(frozen=True)
class Venue:
    """All rooms of an event; a room's index in ``rooms`` is its id in a ``Frame``."""

    rooms: tuple[Room, ...]

    @property
    def halls(self) -> list[int]:
        """Indices of the rooms with seats."""
        return [i for i, room in enumerate(self.rooms) if room.kind == "hall"]

    @property
    def mingle_rooms(self) -> list[int]:
        """Indices of the rooms with standing spots."""
        return [i for i, room in enumerate(self.rooms) if room.kind == "mingle"]

    @property
    def corridor(self) -> int | None:
        """Index of the corridor, if the venue has one."""
        return next((i for i, room in enumerate(self.rooms) if room.kind == "corridor"), None)


def _seat_grid(capacity: int, x_offset: float) -> tuple[Points, float, float]:
    """Seats for at least ``capacity`` people; returns (seats, width, depth)."""
    per_block = max(3, math.ceil(math.sqrt(capacity) / 2))
    rows = max(1, math.ceil(capacity / (2 * per_block)))
    seats: list[tuple[float, float]] = []
    for row in range(rows):
        y = STAGE_DEPTH_M + row * ROW_PITCH_M
        for col in range(2 * per_block):
            aisle = AISLE_M if col >= per_block else 0.0
            seats.append((x_offset + MARGIN_M + col * SEAT_PITCH_M + aisle, y))
    width = 2 * MARGIN_M + (2 * per_block - 1) * SEAT_PITCH_M + AISLE_M
    depth = STAGE_DEPTH_M + (rows - 1) * ROW_PITCH_M + MARGIN_M
    return np.array(seats, dtype=np.float64), width, depth


def _spot_grid(count: int, x_offset: float) -> tuple[Points, float, float]:
    """At least ``count`` standing spots on a square grid; returns (spots, width, depth)."""
    cols = max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / cols))
    spots = [
        (x_offset + MARGIN_M + c * SPOT_SPACING_M, MARGIN_M + r * SPOT_SPACING_M)
        for r in range(rows)
        for c in range(cols)
    ]
    width = 2 * MARGIN_M + (cols - 1) * SPOT_SPACING_M
    depth = 2 * MARGIN_M + (rows - 1) * SPOT_SPACING_M
    return np.array(spots, dtype=np.float64), width, depth


def _queue_line(x0: float, x1: float, y: float) -> Points:
    """Queue places along ``y`` from the west wall (the head) eastwards."""
    count = max(1, math.floor((x1 - x0 - 2 * MARGIN_M) / QUEUE_PITCH_M) + 1)
    return np.array(
        [(x0 + MARGIN_M + k * QUEUE_PITCH_M, y) for k in range(count)], dtype=np.float64
    )


def _corridor(x1: float, y0: float, walkers: int) -> Room:
    """A corridor from x = 0 to ``x1`` north of ``y0``, with lanes for ``walkers`` people."""
    per_lane = max(1, math.floor((x1 - 2 * MARGIN_M) / STEP_PITCH_M) + 1)
    lanes = max(2, math.ceil(walkers * 1.2 / per_lane))
    slots = [
        (MARGIN_M + k * STEP_PITCH_M, y0 + CORRIDOR_MARGIN_M + lane * LANE_PITCH_M)
        for lane in range(lanes)
        for k in range(per_lane)
    ]
    depth = 2 * CORRIDOR_MARGIN_M + (lanes - 1) * LANE_PITCH_M
    empty: Points = np.zeros((0, 2), dtype=np.float64)
    return Room("Corridor", "corridor", 0.0, y0, x1, y0 + depth, empty, np.array(slots))


def build_venue(n_badges: int, seated_share: float = 0.7) -> Venue:
    """Lay out "Hall A", "Hall B", "Foyer", "Expo" and the "Corridor" for ``n_badges`` attendees.

    The two halls together seat ``HALL_SPARE`` times the expected audience
    (``seated_share`` of the attendees); Foyer and Expo together have a standing
    spot for every attendee plus a few, so everyone could stand alone at once, and a
    queue line each. The corridor runs north of all four rooms, behind a wall, with
    walking slots for the whole audience at once.

    Args:
        n_badges: number of attendees.
        seated_share: share of attendees sitting in the halls during the session.
    """
    empty: Points = np.zeros((0, 2), dtype=np.float64)
    hall_capacity = math.ceil(n_badges * seated_share / 2 * HALL_SPARE) + 4
    spots_per_room = math.ceil(n_badges / 2) + 2
    rooms: list[Room] = []
    x = 0.0
    for name in ("Hall A", "Hall B"):
        seats, width, depth = _seat_grid(hall_capacity, x)
        rooms.append(Room(name, "hall", x, 0.0, x + width, depth, seats, empty))
        x += width + WALL_GAP_M
    for name in ("Foyer", "Expo"):
        spots, width, depth = _spot_grid(spots_per_room, x)
        queue = _queue_line(x, x + width, depth + QUEUE_STRIP_M / 2)
        y1 = depth + QUEUE_STRIP_M
        rooms.append(Room(name, "mingle", x, 0.0, x + width, y1, empty, spots, queue=queue))
        x += width + WALL_GAP_M
    back = max(room.y1 for room in rooms)
    # The halls reach back to the mingling rooms' north wall (behind their last row), so
    # every door opens on the corridor through one wall.
    rooms = [replace(room, y1=back) for room in rooms]
    north = back + WALL_GAP_M
    rooms.append(_corridor(x - WALL_GAP_M, north, math.ceil(n_badges * seated_share)))
    return Venue(tuple(rooms))
