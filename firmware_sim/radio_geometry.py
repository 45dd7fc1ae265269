"""The radio's pairs and their fixed terms, kept from window to window for people who stay put.

Everything in a link's mean level but the two body losses depends only on where the
two people stand and in which rooms: the distance, the direction from one to the
other, the path loss and the wall. A seated hall hardly moves between windows (about
400 of 10,000 people, in the smaller rooms), so ``PairGeometry.update`` keeps the pairs
of people who kept their position and room since the previous frame, with those terms,
and only searches and computes the pairs of people who moved or arrived
(``neighbour_pairs_of``). When many moved (more than ``REUSE_MAX_MOVED_SHARE``), it
starts over with ``neighbour_pairs``.

The pairs and every term are exactly those of ``neighbour_pairs`` and
``unit_directions`` (the same floats); only their order differs once pairs are kept:
kept pairs first, in their previous order, then the new ones. The radio draws its
noise link after link, so a kept order changes which draw goes to which link, not the
distribution of any link.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from firmware_sim.frame import (
    ABSENT,
    Floats,
    Frame,
    Ints,
    neighbour_pairs,
    neighbour_pairs_of,
    unit_directions,
)

if TYPE_CHECKING:
    from firmware_sim.radio import RadioParams

logger = logging.getLogger(__name__)

REUSE_MAX_MOVED_SHARE = 0.25
"""Above this share of present people who moved, all pairs are searched again."""


@dataclass(frozen=True)
class Pairs:
    """Every pair of present people within the radio's range, with the terms that depend on
    where they stand (parallel arrays, ``a < b``).

    Attributes:
        a: first person of each pair.
        b: second person.
        ux: x of the unit vector from ``a`` to ``b`` (0 when they stand on one spot).
        uy: its y.
        path: ``rssi_at_1m_dbm - 10 n log10(distance)``, the distance clamped below.
        wall: ``wall_loss_db`` when they are in different rooms, else 0.
    """

    a: Ints
    b: Ints
    ux: Floats
    uy: Floats
    path: Floats
    wall: Floats

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def kept_and(self, mask: npt.NDArray[np.bool_], other: Pairs) -> Pairs:
        """The pairs where ``mask`` is true, then ``other``'s (one copy of each array)."""
        size = int(np.count_nonzero(mask))
        mine = (self.a, self.b, self.ux, self.uy, self.path, self.wall)
        theirs = (other.a, other.b, other.ux, other.uy, other.path, other.wall)
        fields = []
        for field, more in zip(mine, theirs, strict=True):
            joined = np.empty(size + more.shape[0], dtype=field.dtype)
            np.compress(mask, field, out=joined[:size])
            joined[size:] = more
            fields.append(joined)
        a, b, ux, uy, path, wall = fields
        return Pairs(a, b, ux, uy, path, wall)


def pairs_of(frame: Frame, a: Ints, b: Ints, params: RadioParams) -> Pairs:
    """The terms of the pairs ``a``, ``b`` in ``frame`` (the operations of ``_mean_level``)."""
    distance, ux, uy = unit_directions(frame, a, b)
    d = np.maximum(distance, params.min_distance_m)
    path: Floats = params.rssi_at_1m_dbm - 10.0 * params.path_loss_exponent * np.log10(d)
    wall = np.where(frame.rooms[a] != frame.rooms[b], params.wall_loss_db, 0.0)
    return Pairs(a, b, ux, uy, path, wall)


class PairGeometry:
    """The pairs of the previous frame, updated for the people who moved since.

    Args:
        params: the radio model (its range, path loss and wall loss).
    """

    def __init__(self, params: RadioParams) -> None:
        self._params = params
        self._pairs: Pairs | None = None
        self._positions = np.zeros((0, 2))
        self._rooms = np.zeros(0, dtype=np.int64)

    def update(self, frame: Frame) -> Pairs:
        """Every pair within range in ``frame``, with its terms (this frame's, kept or new)."""
        present = frame.present
        radius = self._params.max_range_m
        pairs = self._pairs
        if pairs is None or self._rooms.shape != frame.rooms.shape:
            pairs = self._search(frame)
        else:
            stayed = (
                present
                & (frame.rooms == self._rooms)
                & (frame.positions == self._positions).all(axis=1)
            )
            moved = present & ~stayed
            movers = int(np.count_nonzero(moved))
            if movers > REUSE_MAX_MOVED_SHARE * int(np.count_nonzero(present)):
                pairs = self._search(frame)
            else:
                if movers or np.any((self._rooms != ABSENT) & ~present):  # moved or left
                    a, b = neighbour_pairs_of(frame, radius, moved)
                    new = pairs_of(frame, a, b, self._params)
                    pairs = pairs.kept_and(stayed[pairs.a] & stayed[pairs.b], new)
        self._pairs = pairs
        self._positions = frame.positions.copy()
        self._rooms = frame.rooms.copy()
        return pairs

    def _search(self, frame: Frame) -> Pairs:
        a, b = neighbour_pairs(frame, self._params.max_range_m)
        return pairs_of(frame, a, b, self._params)
