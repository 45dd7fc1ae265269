"""Hand-built frames for radio and geometry tests."""

from __future__ import annotations

import math

import numpy as np

from firmware_sim.frame import Frame


def frame_of(people: list[tuple[float, float, float]], rooms: list[int] | None = None) -> Frame:
    """A frame from ``(x, y, heading in degrees)`` per person, all in room 0 unless given."""
    positions = np.array([(x, y) for x, y, _ in people], dtype=np.float64).reshape(-1, 2)
    headings = np.array([math.radians(h) for _, _, h in people], dtype=np.float64)
    room_ids = np.array(rooms if rooms is not None else [0] * len(people), dtype=np.int64)
    return Frame(positions, headings, room_ids)


def facing_pair(distance: float) -> Frame:
    """Two people ``distance`` apart looking at each other."""
    return frame_of([(0.0, 0.0, 0.0), (distance, 0.0, 180.0)])


def back_to_back(distance: float) -> Frame:
    """Two people ``distance`` apart with their backs turned to each other."""
    return frame_of([(0.0, 0.0, 180.0), (distance, 0.0, 0.0)])


def side_by_side(distance: float) -> Frame:
    """Two people seated ``distance`` apart in a row, both facing the stage."""
    return frame_of([(0.0, 0.0, -90.0), (distance, 0.0, -90.0)])
