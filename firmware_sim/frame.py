"""A frame: where everyone stands and faces during one window, and the geometry on top of it.

Positions and headings are constant within a window; people move between windows.
Neighbour search uses a spatial grid (cell hash), so finding the pairs within a
radius costs about the number of close pairs, never all pairs.
"""

from __future__ import annotations

import logging
import math
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
_CELLS_PER_RADIUS = 2
_HALF_NEIGHBOURHOOD = tuple(
    (dx, dy)
    for dx in range(_CELLS_PER_RADIUS + 1)
    for dy in range(-_CELLS_PER_RADIUS, _CELLS_PER_RADIUS + 1)
    if dx > 0 or dy > 0
)
"""Cell offsets to compare a cell with: half the 5 x 5 block around it, itself excluded."""


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


def _runs(lengths: Ints) -> tuple[Ints, Ints]:
    """For runs of the given lengths: (run index, position inside the run) of every element."""
    total = int(lengths.sum())
    run = np.repeat(np.arange(lengths.shape[0], dtype=np.int64), lengths)
    inside = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return run, inside


def neighbour_pairs(frame: Frame, radius: float) -> tuple[Ints, Ints]:
    """Return every pair of present people at most ``radius`` apart, as index arrays with i < j.

    People are sorted into square cells of side ``radius / 2``; only pairs in the same
    cell or in cells at most two apart (half of that neighbourhood, so each pair once)
    are compared, all with array operations: the work grows with the number of close
    pairs, never with all pairs.
    """
    idx = np.flatnonzero(frame.present).astype(np.int64)
    if idx.size < 2:
        return _empty_pairs()
    # Cells a hair wider than radius / 2: a pair whose distance only rounds to the radius
    # (e.g. x = -1e-172 and x = 1 with radius 1) must still land at most two cells apart.
    cells = np.floor(frame.positions[idx] / (radius * (1 + 1e-9) / _CELLS_PER_RADIUS))
    cx = cells[:, 0].astype(np.int64)
    cy = cells[:, 1].astype(np.int64)
    cx -= cx.min()
    cy -= cy.min() - _CELLS_PER_RADIUS  # keep cy +- 2 inside one row of the key
    width = int(cy.max()) + _CELLS_PER_RADIUS + 1
    key = cx * width + cy
    order = np.argsort(key, kind="stable")
    people, key = idx[order], key[order]
    cell_keys, first, size = np.unique(key, return_index=True, return_counts=True)
    cell_of = np.repeat(np.arange(cell_keys.shape[0], dtype=np.int64), size)
    position = np.arange(people.shape[0], dtype=np.int64)
    # Same cell: each person with the ones after it in the cell.
    after = first[cell_of] + size[cell_of] - position - 1
    run, inside = _runs(after)
    firsts = [run]
    seconds = [run + 1 + inside]
    for dx, dy in _HALF_NEIGHBOURHOOD:
        target = cell_keys + dx * width + dy
        at = np.minimum(np.searchsorted(cell_keys, target), cell_keys.shape[0] - 1)
        found = cell_keys[at] == target
        partners = np.where(found, size[at], 0)[cell_of]
        run, inside = _runs(partners)
        firsts.append(run)
        seconds.append(first[at][cell_of][run] + inside)
    # Positions in cell order, contiguous: the gathers below stay in cache.
    x, y = frame.positions[people, 0], frame.positions[people, 1]
    local_i, local_j = np.concatenate(firsts), np.concatenate(seconds)
    gap_x = x[local_i] - x[local_j]
    gap_y = y[local_i] - y[local_j]
    close = np.flatnonzero(gap_x * gap_x + gap_y * gap_y <= radius * radius)
    i, j = people[local_i[close]], people[local_j[close]]
    return np.minimum(i, j), np.maximum(i, j)


def neighbour_pairs_of(
    frame: Frame, radius: float, among: npt.NDArray[np.bool_]
) -> tuple[Ints, Ints]:
    """The pairs of ``neighbour_pairs`` that include at least one person of the mask ``among``.

    The same pairs (the same test of the squared distance), in another order; the work
    grows with the number of people in ``among`` and their neighbours, so it suits a
    few people who moved among many who did not.
    """
    present = frame.present
    idx = np.flatnonzero(present).astype(np.int64)
    movers = np.flatnonzero(among & present).astype(np.int64)
    if idx.size < 2 or movers.size == 0:
        return _empty_pairs()
    side = radius * (1 + 1e-9) / _CELLS_PER_RADIUS  # as in neighbour_pairs
    cells = np.floor(frame.positions[idx] / side)
    low_x, low_y = cells[:, 0].min(), cells[:, 1].min() - _CELLS_PER_RADIUS
    width = int(cells[:, 1].max() - low_y) + _CELLS_PER_RADIUS + 1

    def keys(points: Floats) -> Ints:
        at = np.floor(points / side)
        result: Ints = (at[:, 0] - low_x).astype(np.int64) * width + (at[:, 1] - low_y).astype(
            np.int64
        )
        return result

    key = keys(frame.positions[idx])
    order = np.argsort(key, kind="stable")
    people, key = idx[order], key[order]
    cell_keys, first, size = np.unique(key, return_index=True, return_counts=True)
    mover_keys = keys(frame.positions[movers])
    firsts, seconds = [], []
    # The whole 5 x 5 block around each mover's cell (a mover may be the second of a pair).
    for dx in range(-_CELLS_PER_RADIUS, _CELLS_PER_RADIUS + 1):
        for dy in range(-_CELLS_PER_RADIUS, _CELLS_PER_RADIUS + 1):
            target = mover_keys + dx * width + dy
            at = np.minimum(np.searchsorted(cell_keys, target), cell_keys.shape[0] - 1)
            partners = np.where(cell_keys[at] == target, size[at], 0)
            run, inside = _runs(partners)
            firsts.append(movers[run])
            seconds.append(people[first[at][run] + inside])
    i, j = np.concatenate(firsts), np.concatenate(seconds)
    x, y = frame.positions[:, 0], frame.positions[:, 1]
    gap_x, gap_y = x[i] - x[j], y[i] - y[j]
    # Two movers find each other twice: keep the pair once, from its smaller index.
    keep = (gap_x * gap_x + gap_y * gap_y <= radius * radius) & (i != j) & (~among[j] | (i < j))
    i, j = i[keep], j[keep]
    return np.minimum(i, j), np.maximum(i, j)


def unit_directions(frame: Frame, i: Ints, j: Ints) -> tuple[Floats, Floats, Floats]:
    """(distance, x and y of the unit vector from i to j) of each pair (0, 0 when they coincide)."""
    x, y = frame.positions[:, 0], frame.positions[:, 1]
    gap_x, gap_y = x[j] - x[i], y[j] - y[i]
    distance = np.hypot(gap_x, gap_y)
    safe = np.where(distance > 1e-9, distance, 1.0)
    return distance, gap_x / safe, gap_y / safe


def cosines_along(frame: Frame, i: Ints, j: Ints, ux: Floats, uy: Floats) -> tuple[Floats, Floats]:
    """(cosine of the angle at i, at j) of each pair, from its unit vector (``unit_directions``)."""
    # Each person's heading vector once, not once per pair.
    cos_h, sin_h = np.cos(frame.headings), np.sin(frame.headings)
    cos_i = np.clip(cos_h[i] * ux + sin_h[i] * uy, -1.0, 1.0)
    cos_j = np.clip(-(cos_h[j] * ux + sin_h[j] * uy), -1.0, 1.0)
    return cos_i, cos_j


def facing_cosines(frame: Frame, i: Ints, j: Ints) -> tuple[Floats, Floats, Floats]:
    """Return (cosine of the angle at i, cosine of the angle at j, distance) for each pair.

    The cosines of ``facing_angles``, clipped to -1..1, for callers that need the
    angle itself only for some pairs.
    """
    distance, ux, uy = unit_directions(frame, i, j)
    cos_i, cos_j = cosines_along(frame, i, j, ux, uy)
    return cos_i, cos_j, distance


def facing_angles(frame: Frame, i: Ints, j: Ints) -> tuple[Floats, Floats, Floats]:
    """Return (angle at i, angle at j, distance) for each pair.

    The angle at ``i`` is between i's heading and the direction from i to j, in
    radians (0 = facing the other, pi = back turned).
    """
    cos_i, cos_j, distance = facing_cosines(frame, i, j)
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
