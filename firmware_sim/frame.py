"""A frame: where everyone stands and faces during one window, and the geometry on top of it.

Positions and headings are constant within a window; people move between windows.
Neighbour search uses a spatial grid (cell hash), so finding the pairs within a
radius costs about the number of close pairs, never all pairs.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

FACE_TO_FACE_DISTANCE_M = 1.5
"""Greatest distance at which two people count as face-to-face."""
FACE_TO_FACE_ANGLE_DEG = 60.0
"""Greatest angle between one's heading and the direction to the other."""
ABSENT = -1
"""Room id of someone who is not at the venue."""

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
_HALF_NEIGHBOURHOOD = ((1, -1), (1, 0), (1, 1), (0, 1))


@dataclass(frozen=True)
class Frame:
    """Everyone's position and heading during one window.

    Attributes:
        positions: ``(n, 2)`` metres in venue coordinates.
        headings: ``(n,)`` direction each person faces, radians.
        rooms: ``(n,)`` room index, or ``ABSENT``.
        groups: conversation groups (two or more people) as sorted person indices.
    """

    positions: Floats
    headings: Floats
    rooms: Ints
    groups: tuple[tuple[int, ...], ...] = ()

    @property
    def present(self) -> npt.NDArray[np.bool_]:
        """Mask of the people at the venue."""
        mask: npt.NDArray[np.bool_] = self.rooms != ABSENT
        return mask

    def __len__(self) -> int:
        return int(self.rooms.shape[0])


def _empty_pairs() -> tuple[Ints, Ints]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)


def neighbour_pairs(frame: Frame, radius: float) -> tuple[Ints, Ints]:
    """Return every pair of present people at most ``radius`` apart, as index arrays with i < j.

    People are hashed into square cells of side ``radius``; only the same and the
    neighbouring cells are compared.
    """
    idx = np.flatnonzero(frame.present).astype(np.int64)
    if idx.size < 2:
        return _empty_pairs()
    # Cells a hair wider than the radius: a pair whose distance only rounds to the radius
    # (e.g. x = -1e-172 and x = 1 with radius 1) must still land in neighbouring cells.
    cells = np.floor(frame.positions[idx] / (radius * (1 + 1e-9))).astype(np.int64)
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for person, (cx, cy) in zip(idx.tolist(), cells.tolist(), strict=True):
        buckets[(cx, cy)].append(person)
    firsts: list[Ints] = []
    seconds: list[Ints] = []
    for (cx, cy), members_list in buckets.items():
        members = np.array(members_list, dtype=np.int64)
        if members.size > 1:
            a, b = np.triu_indices(members.size, k=1)
            firsts.append(members[a])
            seconds.append(members[b])
        for dx, dy in _HALF_NEIGHBOURHOOD:
            other_list = buckets.get((cx + dx, cy + dy))
            if other_list:
                other = np.array(other_list, dtype=np.int64)
                firsts.append(np.repeat(members, other.size))
                seconds.append(np.tile(other, members.size))
    if not firsts:
        return _empty_pairs()
    i = np.concatenate(firsts)
    j = np.concatenate(seconds)
    gap = frame.positions[i] - frame.positions[j]
    close = np.einsum("ij,ij->i", gap, gap) <= radius * radius
    i, j = i[close], j[close]
    return np.minimum(i, j), np.maximum(i, j)


def facing_angles(frame: Frame, i: Ints, j: Ints) -> tuple[Floats, Floats, Floats]:
    """Return (angle at i, angle at j, distance) for each pair.

    The angle at ``i`` is between i's heading and the direction from i to j, in
    radians (0 = facing the other, pi = back turned).
    """
    gap = frame.positions[j] - frame.positions[i]
    distance = np.hypot(gap[:, 0], gap[:, 1])
    safe = np.where(distance > 1e-9, distance, 1.0)
    ux, uy = gap[:, 0] / safe, gap[:, 1] / safe
    hi, hj = frame.headings[i], frame.headings[j]
    cos_i = np.clip(np.cos(hi) * ux + np.sin(hi) * uy, -1.0, 1.0)
    cos_j = np.clip(-(np.cos(hj) * ux + np.sin(hj) * uy), -1.0, 1.0)
    return np.arccos(cos_i), np.arccos(cos_j), distance


def face_to_face(
    frame: Frame,
    max_distance: float = FACE_TO_FACE_DISTANCE_M,
    max_angle_deg: float = FACE_TO_FACE_ANGLE_DEG,
) -> tuple[Ints, Ints]:
    """Return the ground-truth face-to-face pairs (i < j, sorted) of a frame.

    A pair is face-to-face when both are in the same room, at most ``max_distance``
    apart, and each is within ``max_angle_deg`` of facing the other.
    """
    i, j = neighbour_pairs(frame, max_distance)
    if i.size == 0:
        return i, j
    angle_i, angle_j, _ = facing_angles(frame, i, j)
    limit = math.radians(max_angle_deg)
    keep = (frame.rooms[i] == frame.rooms[j]) & (angle_i <= limit) & (angle_j <= limit)
    i, j = i[keep], j[keep]
    order = np.lexsort((j, i))
    return i[order], j[order]
