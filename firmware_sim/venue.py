"""The venue: rooms separated by walls, seats in the halls, standing spots in the mingling rooms.

Rooms are axis-aligned rectangles laid side by side along x (metres), each pair of
neighbours separated by a wall. Halls hold rows of seats facing a stage at ``y = 0``;
mingling rooms hold a grid of standing spots at least ``SPOT_SPACING_M`` apart, one
conversation group (or one person standing alone) per spot. Sizes follow the badge
count, so the density is the same for 20 or 2,000 badges.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
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

RoomKind = Literal["hall", "mingle"]
Points = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Room:
    """One room of the venue.

    Attributes:
        name: human-readable name, e.g. ``"Hall A"``.
        kind: ``"hall"`` (seats facing a stage) or ``"mingle"`` (standing spots).
        x0: west wall.
        y0: south wall (halls: the stage side).
        x1: east wall.
        y1: north wall.
        seats: ``(k, 2)`` seat positions (halls) or an empty array.
        spots: ``(k, 2)`` standing spots (mingling rooms) or an empty array.
        stage_heading: direction seated people face, in radians (halls only).
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


def build_venue(n_badges: int, seated_share: float = 0.7) -> Venue:
    """Lay out "Hall A", "Hall B", "Foyer" and "Expo" for ``n_badges`` attendees.

    The two halls together seat ``HALL_SPARE`` times the expected audience
    (``seated_share`` of the attendees); Foyer and Expo together have a standing
    spot for every attendee plus a few, so everyone could stand alone at once.

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
        rooms.append(Room(name, "mingle", x, 0.0, x + width, depth, empty, spots))
        x += width + WALL_GAP_M
    return Venue(tuple(rooms))
