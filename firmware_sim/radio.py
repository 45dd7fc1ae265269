"""Who hears whom during a window: the ``Radio`` protocol, a realistic BLE model and an ideal one.

A radio turns a ``Frame`` into receptions: for each (receiver, sender) pair the
median, maximum and count of the advertisement samples the receiver picked up in
the window. ``RealisticRadio`` models path loss, per-device offsets, multipath,
body shielding and walls, vectorised with numpy; ``IdealRadio`` hears exactly the
ground-truth face-to-face pairs, for tests and for checking the pipeline alone.
A real BLE scanner could implement the same protocol later.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from firmware_sim.frame import Floats, Frame, Ints, face_to_face, facing_angles, neighbour_pairs

logger = logging.getLogger(__name__)

MIN_DBM = -127
MAX_DBM = 20


@dataclass(frozen=True)
class Reception:
    """What every receiver heard from every sender in one window (parallel arrays).

    Attributes:
        receiver: index of the badge that listened.
        sender: index of the badge it heard.
        median: median RSSI of the received samples, dBm.
        maximum: strongest received sample, dBm.
        count: number of received samples (at least 1).
    """

    receiver: Ints
    sender: Ints
    median: Ints
    maximum: Ints
    count: Ints

    def __len__(self) -> int:
        return int(self.receiver.shape[0])


class Radio(Protocol):
    """Turns where people stand into what their badges hear."""

    def receive(self, frame: Frame) -> Reception:
        """Return what every present badge heard during the frame's window."""
        ...


def _ints(values: npt.ArrayLike) -> Ints:
    return np.asarray(values, dtype=np.int64)


@dataclass(frozen=True)
class IdealRadio:
    """Hears exactly the face-to-face pairs, both directions, and nothing else."""

    rssi_dbm: int = -50
    samples: int = 10

    def receive(self, frame: Frame) -> Reception:
        """Return one strong reception per direction of every face-to-face pair."""
        i, j = face_to_face(frame)
        n = 2 * i.size
        return Reception(
            receiver=np.concatenate([i, j]),
            sender=np.concatenate([j, i]),
            median=_ints(np.full(n, self.rssi_dbm)),
            maximum=_ints(np.full(n, self.rssi_dbm)),
            count=_ints(np.full(n, self.samples)),
        )


@dataclass(frozen=True)
class RadioParams:
    """Parameters of ``RealisticRadio``; the defaults are documented in docs/simulator.md.

    Attributes:
        rssi_at_1m_dbm: mean RSSI at 1 m, line of sight, no body in the way.
        path_loss_exponent: log-distance path-loss exponent.
        device_offset_sd_db: spread of the fixed per-badge offset added to what it receives.
        shadowing_sd_db: spread of the independent per-sample shadowing/multipath term.
        body_loss_db: loss through one body when it is turned fully away.
        body_free_angle_deg: up to this angle a body does not shield at all.
        body_full_angle_deg: from this angle a body shields with the full ``body_loss_db``.
        wall_loss_db: loss of the wall between two rooms.
        samples_mean: mean advertisements sampled per window (Poisson): 1 Hz x 50 % scan duty.
        sensitivity_dbm: weakest sample the receiver picks up.
        max_range_m: beyond this distance nothing is heard (neighbour search radius).
        min_distance_m: distances are clamped to at least this, to keep path loss finite.
    """

    rssi_at_1m_dbm: float = -65.0
    path_loss_exponent: float = 2.0
    device_offset_sd_db: float = 2.0
    shadowing_sd_db: float = 5.0
    body_loss_db: float = 25.0
    body_free_angle_deg: float = 60.0
    body_full_angle_deg: float = 120.0
    wall_loss_db: float = 20.0
    samples_mean: float = 10.0
    sensitivity_dbm: float = -95.0
    max_range_m: float = 10.0
    min_distance_m: float = 0.1


HERALD_PARAMS = RadioParams(rssi_at_1m_dbm=-75.0, path_loss_exponent=1.2, shadowing_sd_db=5.2)
"""Path loss and per-sample noise fitted on the Herald phone-to-phone measurements.

Median over the eight recordings of the log-distance fit over 0.2-3.4 m (docs/radio.md);
body, wall and device terms as in the defaults. The defaults keep free-space n = 2.0
(see docs/radio.md for why, and for what each choice does to detection fidelity).
"""


def body_loss(angle: Floats, params: RadioParams) -> Floats:
    """Loss through one body turned ``angle`` radians away from the other badge."""
    free = math.radians(params.body_free_angle_deg)
    full = math.radians(params.body_full_angle_deg)
    share = np.clip((angle - free) / (full - free), 0.0, 1.0)
    result: Floats = params.body_loss_db * share
    return result


def mean_rssi(
    distance: Floats,
    sender_angle: Floats,
    receiver_angle: Floats,
    is_wall: npt.NDArray[np.bool_],
    params: RadioParams,
) -> Floats:
    """Mean RSSI of a link before the per-device offset and the per-sample noise.

    Args:
        distance: metres between the badges.
        sender_angle: angle between the sender's heading and the direction to the receiver.
        receiver_angle: angle between the receiver's heading and the direction to the sender.
        is_wall: whether a wall stands between them (different rooms).
        params: the radio model.
    """
    d = np.maximum(distance, params.min_distance_m)
    result: Floats = (
        params.rssi_at_1m_dbm
        - 10.0 * params.path_loss_exponent * np.log10(d)
        - body_loss(sender_angle, params)
        - body_loss(receiver_angle, params)
        - np.where(is_wall, params.wall_loss_db, 0.0)
    )
    return result


@dataclass(frozen=True)
class RealisticRadio:
    """Log-distance path loss with device offsets, multipath noise, body shielding and walls.

    Build it with ``RealisticRadio.create`` so each badge gets its fixed offset.

    Attributes:
        offsets: per-badge receive offset in dB.
        rng: the numpy generator all noise is drawn from.
        params: the radio model.
    """

    offsets: Floats
    rng: np.random.Generator
    params: RadioParams = RadioParams()

    @classmethod
    def create(
        cls, n_badges: int, rng: np.random.Generator, params: RadioParams | None = None
    ) -> RealisticRadio:
        """A radio for ``n_badges`` badges whose offsets are drawn from ``rng``."""
        params = params or RadioParams()
        offsets = rng.normal(0.0, params.device_offset_sd_db, n_badges)
        return cls(offsets, rng, params)

    def receive(self, frame: Frame) -> Reception:
        """Sample every link within ``max_range_m`` and summarise what each receiver got."""
        p = self.params
        a, b = neighbour_pairs(frame, p.max_range_m)
        angle_a, angle_b, distance = facing_angles(frame, a, b)
        # Both directions of every pair: sender -> receiver.
        sender = np.concatenate([a, b])
        receiver = np.concatenate([b, a])
        sender_angle = np.concatenate([angle_a, angle_b])
        receiver_angle = np.concatenate([angle_b, angle_a])
        dist = np.concatenate([distance, distance])
        wall = frame.rooms[sender] != frame.rooms[receiver]
        level = mean_rssi(dist, sender_angle, receiver_angle, wall, p) + self.offsets[receiver]
        return self._sample(receiver, sender, level)

    def _sample(self, receiver: Ints, sender: Ints, level: Floats) -> Reception:
        p = self.params
        links = level.shape[0]
        taken = _ints(self.rng.poisson(p.samples_mean, links))
        width = max(1, int(taken.max())) if links else 1
        noise = self.rng.normal(0.0, p.shadowing_sd_db, (links, width))
        samples = np.rint(level[:, None] + noise)
        valid = (np.arange(width)[None, :] < taken[:, None]) & (samples >= p.sensitivity_dbm)
        count = valid.sum(axis=1)
        heard = count > 0
        samples, valid, count = samples[heard], valid[heard], count[heard]
        ordered = np.sort(np.where(valid, samples, -np.inf), axis=1)
        first = width - count
        low = np.take_along_axis(ordered, (first + (count - 1) // 2)[:, None], axis=1)[:, 0]
        high = np.take_along_axis(ordered, (first + count // 2)[:, None], axis=1)[:, 0]
        median = np.floor((low + high) / 2.0 + 0.5)
        maximum = ordered[:, -1]
        return Reception(
            receiver=receiver[heard],
            sender=sender[heard],
            median=_ints(np.clip(median, MIN_DBM, MAX_DBM)),
            maximum=_ints(np.clip(maximum, MIN_DBM, MAX_DBM)),
            count=_ints(count),
        )
