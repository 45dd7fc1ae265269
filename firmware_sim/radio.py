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
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from firmware_sim.frame import Floats, Frame, Ints, cosines_along, face_to_face
from firmware_sim.radio_geometry import PairGeometry
from firmware_sim.sampler import (
    bound_candidates,
    normal_tail,
    positive_poisson,
    truncated_normal,
)

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
    """Parameters of ``RealisticRadio``; the defaults (calibrated on Herald) are in docs/radio.md.

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

    rssi_at_1m_dbm: float = -75.0
    path_loss_exponent: float = 1.2
    device_offset_sd_db: float = 2.0
    shadowing_sd_db: float = 5.2
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
body, wall and device terms as in the defaults. These are the defaults of ``RadioParams``.
"""

FREE_SPACE_PARAMS = RadioParams(rssi_at_1m_dbm=-65.0, path_loss_exponent=2.0, shadowing_sd_db=5.0)
"""The earlier, uncalibrated default: free-space path loss (n = 2), -65 dBm at 1 m."""

CALIBRATED_RSSI_THRESHOLD_DBM = -82
"""RSSI threshold tuned for the default (calibrated) radio on the simulated conference.

With gap tolerance 20 s and minimum meeting 60 s (docs/fidelity.md). It is the
protocol's ``DetectionSettings`` default; the earlier -72 dBm suited ``FREE_SPACE_PARAMS``.
"""


def body_loss(angle: Floats, params: RadioParams) -> Floats:
    """Loss through one body turned ``angle`` radians away from the other badge."""
    free = math.radians(params.body_free_angle_deg)
    full = math.radians(params.body_full_angle_deg)
    share = np.clip((angle - free) / (full - free), 0.0, 1.0)
    result: Floats = params.body_loss_db * share
    return result


def body_loss_of_cosine(cosine: Floats, params: RadioParams) -> Floats:
    """``body_loss(arccos(cosine))``, the same floats, with ``arccos`` only where needed.

    Where the angle is clearly below ``body_free_angle_deg`` the loss is 0 and where it
    is clearly beyond ``body_full_angle_deg`` it is ``body_loss_db``; only the pairs in
    between (a third or so) take the ``arccos`` and the ramp. "Clearly" is a 1e-9 margin
    on the cosine, far above the rounding of ``arccos``.
    """
    free = math.radians(params.body_free_angle_deg)
    full = math.radians(params.body_full_angle_deg)
    if not 0.0 <= free < full <= math.pi:  # an unusual model: no shortcut
        return body_loss(np.arccos(cosine), params)
    is_free, is_full = math.cos(free) + 1e-9, math.cos(full) - 1e-9
    result: Floats = np.where(cosine < is_full, params.body_loss_db, 0.0)
    ramp = np.flatnonzero((cosine <= is_free) & (cosine >= is_full))
    result[ramp] = body_loss(np.arccos(cosine[ramp]), params)
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
    return _mean_level(
        distance,
        body_loss(sender_angle, params),
        body_loss(receiver_angle, params),
        is_wall,
        params,
    )


def _mean_level(
    distance: Floats,
    sender_loss: Floats,
    receiver_loss: Floats,
    is_wall: npt.NDArray[np.bool_],
    params: RadioParams,
) -> Floats:
    """``mean_rssi`` from the two body losses (the same operations in the same order)."""
    d = np.maximum(distance, params.min_distance_m)
    result: Floats = (
        params.rssi_at_1m_dbm
        - 10.0 * params.path_loss_exponent * np.log10(d)
        - sender_loss
        - receiver_loss
        - np.where(is_wall, params.wall_loss_db, 0.0)
    )
    return result


def sample_links(
    level: Floats, params: RadioParams, rng: np.random.Generator
) -> tuple[npt.NDArray[np.bool_], Ints, Ints, Ints]:
    """``sample_heard`` (the model is described there), with the heard links as a mask.

    Returns:
        (mask of the links heard at all, then for those links: median rounded half up,
        maximum, count), RSSI clipped to the protocol's ``MIN_DBM``..``MAX_DBM``.
    """
    heard_at, median, maximum, count = sample_heard(level, params, rng)
    heard = np.zeros(level.shape[0], dtype=bool)
    heard[heard_at] = True
    return heard, median, maximum, count


def sample_heard(
    level: Floats, params: RadioParams, rng: np.random.Generator
) -> tuple[Ints, Ints, Ints, Ints]:
    """Draw the samples every link receives in one window and summarise them.

    The model: a link takes Poisson(``samples_mean``) advertisements, each received as
    ``rint(level + N(0, shadowing_sd_db))`` and kept when at least ``sensitivity_dbm``.
    It is drawn in an equivalent order that skips the lost samples. By Poisson thinning
    the kept count is Poisson(``mu``) with ``mu = samples_mean x P(kept)``, and the kept
    samples are independent normals conditioned on reaching the sensitivity
    (``truncated_normal``). Whether a link is heard at all is one uniform draw ``u``
    against ``1 - exp(-mu)``; ``mu`` needs ``erfc``, so it is only evaluated where ``u``
    falls below the same expression for a cheap upper bound of ``P(kept)``
    (``tail_bound``, looked up in a table first: ``bound_candidates``). A heard link's
    count is then Poisson(``mu``) conditioned on >= 1.
    A link that is weak (most, in a seated hall) costs one uniform and one ``exp``.

    Returns:
        (positions of the links heard at all, ascending, then for those links: median
        rounded half up, maximum, count), RSSI clipped to ``MIN_DBM``..``MAX_DBM``.
    """
    sd, mean = params.shadowing_sd_db, params.samples_mean
    floor_dbm = math.ceil(params.sensitivity_dbm)  # weakest whole-dBm sample kept
    # rint(x) >= floor_dbm  <=>  x > floor_dbm - 0.5 (the tie has probability 0).
    low = (floor_dbm - 0.5 - level) / sd
    chance: Floats = rng.random(size=(level.shape[0],))
    candidate = bound_candidates(low, chance, mean)
    mu: Floats = normal_tail(low[candidate]) * mean
    is_heard = chance[candidate] < -np.expm1(-mu)
    heard_at = candidate[is_heard]
    count = positive_poisson(mu[is_heard], rng)
    # Draw the samples link after link, the links ordered by count, so the samples of all
    # links with k samples form one (links, k) block that sorts row by row in one call.
    # (Counts in 16 bits: numpy's stable sort of small integers is a radix sort, same order.)
    small = count.astype(np.uint16) if count.shape[0] and count.max() < 1 << 16 else count
    by_count = np.argsort(small, kind="stable")
    sorted_count = count[by_count]
    noise = truncated_normal(np.repeat(low[heard_at[by_count]], sorted_count), rng)
    values = np.rint(np.repeat(level[heard_at[by_count]], sorted_count) + sd * noise)
    # The bound holds up to rounding of the sum; keep the model's invariant exactly.
    np.maximum(values, floor_dbm, out=values)
    median = np.empty(count.shape[0])
    maximum = np.empty(count.shape[0])
    sizes, first_link = np.unique(sorted_count, return_index=True)
    bounds = [*first_link.tolist(), count.shape[0]]
    sample = 0
    for k, begin, end in zip(sizes.tolist(), bounds[:-1], bounds[1:], strict=True):
        block = values[sample : sample + (end - begin) * k].reshape(end - begin, k)
        block.sort(axis=1)
        links = by_count[begin:end]
        median[links] = np.floor((block[:, (k - 1) // 2] + block[:, k // 2]) / 2.0 + 0.5)
        maximum[links] = block[:, -1]
        sample += (end - begin) * k
    return (
        heard_at,
        _ints(np.clip(median, MIN_DBM, MAX_DBM)),
        _ints(np.clip(maximum, MIN_DBM, MAX_DBM)),
        count,
    )


@dataclass(frozen=True)
class RealisticRadio:
    """Log-distance path loss with device offsets, multipath noise, body shielding and walls.

    Build it with ``RealisticRadio.create`` so each badge gets its fixed offset. It keeps
    the previous frame's pairs (``radio_geometry.PairGeometry``): the same frames in the
    same order give the same receptions.

    Attributes:
        offsets: per-badge receive offset in dB.
        rng: the numpy generator all noise is drawn from.
        params: the radio model.
    """

    offsets: Floats
    rng: np.random.Generator
    params: RadioParams = RadioParams()
    _geometry: PairGeometry = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_geometry", PairGeometry(self.params))

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
        # The pairs within range with their distance, path loss and wall, kept from the
        # previous window for the people who did not move (``PairGeometry``).
        pairs = self._geometry.update(frame)
        a, b = pairs.a, pairs.b
        cos_a, cos_b = cosines_along(frame, a, b, pairs.ux, pairs.uy)
        # The mean level is symmetric in the two bodies: compute it once per pair, then
        # add each direction's receiver offset (sender -> receiver: a -> b, then b -> a).
        # The operations of ``_mean_level``, in its order.
        loss_a, loss_b = body_loss_of_cosine(cos_a, p), body_loss_of_cosine(cos_b, p)
        pair_level = pairs.path - loss_a - loss_b - pairs.wall
        # Links a -> b, then b -> a; only the heard ones' ends are looked up.
        level = np.concatenate([pair_level + self.offsets[b], pair_level + self.offsets[a]])
        heard_at, median, maximum, count = sample_heard(level, p, self.rng)
        pair = heard_at % max(1, a.shape[0])
        is_second = heard_at >= a.shape[0]
        return Reception(
            receiver=np.where(is_second, a[pair], b[pair]),
            sender=np.where(is_second, b[pair], a[pair]),
            median=median,
            maximum=maximum,
            count=count,
        )
