"""Radio models: the ideal radio hears the ground truth, the realistic one behaves physically."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim.frame import Frame, face_to_face
from firmware_sim.radio import (
    CALIBRATED_RSSI_THRESHOLD_DBM,
    IdealRadio,
    RadioParams,
    RealisticRadio,
    Reception,
    body_loss,
    mean_rssi,
)
from tests.unit.firmware_sim.frames import back_to_back, facing_pair, frame_of, side_by_side

THRESHOLD = CALIBRATED_RSSI_THRESHOLD_DBM


def _radio(n: int, seed: int = 5) -> RealisticRadio:
    return RealisticRadio.create(n, np.random.default_rng(seed))


def _windows(radio: RealisticRadio, frame: Frame, windows: int) -> list[Reception]:
    return [radio.receive(frame) for _ in range(windows)]


def _mutual_share(receptions: list[Reception], threshold: int = THRESHOLD) -> float:
    hits = 0
    for rec in receptions:
        above = {
            (r, s)
            for r, s, m in zip(
                rec.receiver.tolist(), rec.sender.tolist(), rec.median.tolist(), strict=True
            )
            if m >= threshold
        }
        hits += (0, 1) in above and (1, 0) in above
    return hits / len(receptions)


def _medians(receptions: list[Reception]) -> list[int]:
    return [m for rec in receptions for m in rec.median.tolist()]


def test_ideal_radio_hears_exactly_the_face_to_face_pairs() -> None:
    frame = frame_of([(0, 0, 0), (1, 0, 180), (1.2, 1.0, 0), (5, 5, 0), (5, 5.5, 180)])
    rec = IdealRadio().receive(frame)
    i, j = face_to_face(frame)
    truth = set(zip(i.tolist(), j.tolist(), strict=True)) | set(
        zip(j.tolist(), i.tolist(), strict=True)
    )
    assert (
        set(zip(rec.receiver.tolist(), rec.sender.tolist(), strict=True))
        == truth
        == {(0, 1), (1, 0)}
    )
    assert rec.median.tolist() == [-50, -50] and rec.count.tolist() == [10, 10]


def test_face_to_face_at_one_metre_is_heard_around_the_reference_level() -> None:
    rec = _windows(_radio(2), facing_pair(1.0), 300)
    medians = _medians(rec)
    reference = RadioParams().rssi_at_1m_dbm  # -75 dBm, calibrated on Herald
    assert reference - 5 < float(np.mean(medians)) < reference + 5
    assert _mutual_share(rec) > 0.9
    counts = [c for r in rec for c in r.count.tolist()]
    assert 8 < float(np.mean(counts)) < 12


def test_rssi_falls_with_distance_on_average() -> None:
    means = [
        float(np.mean(_medians(_windows(_radio(2), facing_pair(d), 200))))
        for d in (0.5, 1, 2, 4, 8)
    ]
    assert means == sorted(means, reverse=True)
    # 16 times the distance: 10 n log10(16) = 14.4 dB with the calibrated n = 1.2
    assert means[0] - means[-1] > 12


def test_back_to_back_is_rarely_heard() -> None:
    rec = _windows(_radio(2), back_to_back(0.5), 500)
    assert _mutual_share(rec) == 0.0
    medians = _medians(rec)
    assert sum(m >= THRESHOLD for m in medians) <= 0.01 * 1000


def test_seated_side_by_side_is_not_heard_mutually_above_threshold() -> None:
    rec = _windows(_radio(2), side_by_side(0.55), 500)
    assert _mutual_share(rec) < 0.01


def test_a_wall_weakens_the_link() -> None:
    open_floor = _medians(_windows(_radio(2), frame_of([(0, 0, 0), (3, 0, 180)]), 200))
    walled = _medians(_windows(_radio(2), frame_of([(0, 0, 0), (3, 0, 180)], rooms=[0, 1]), 200))
    assert float(np.mean(walled)) < float(np.mean(open_floor)) - 10


def test_nothing_is_heard_beyond_the_range() -> None:
    rec = _radio(2).receive(facing_pair(10.5))
    assert len(rec) == 0


def test_receptions_are_well_formed_on_a_crowd() -> None:
    rng = np.random.default_rng(11)
    n = 120
    people = [
        (float(x), float(y), float(h))
        for (x, y), h in zip(rng.uniform(0, 20, (n, 2)), rng.uniform(-180, 180, n), strict=True)
    ]
    radio = _radio(n)
    rec = radio.receive(frame_of(people))
    assert len(rec) > 0
    assert (rec.count >= 1).all()
    assert (rec.median <= rec.maximum).all()
    assert (rec.median >= radio.params.sensitivity_dbm).all()
    assert (rec.receiver != rec.sender).all()
    assert len(set(zip(rec.receiver.tolist(), rec.sender.tolist(), strict=True))) == len(rec)


def test_same_seed_same_receptions() -> None:
    frame = facing_pair(1.2)
    a = _radio(2, seed=9).receive(frame)
    b = _radio(2, seed=9).receive(frame)
    c = _radio(2, seed=10).receive(frame)
    assert a.median.tolist() == b.median.tolist() and a.count.tolist() == b.count.tolist()
    assert (a.median.tolist(), a.count.tolist()) != (c.median.tolist(), c.count.tolist())


def test_body_loss_follows_the_documented_ramp() -> None:
    params = RadioParams()
    angles = np.radians(np.array([0.0, 60.0, 90.0, 120.0, 180.0]))
    assert body_loss(angles, params).tolist() == pytest.approx([0.0, 0.0, 12.5, 25.0, 25.0])


def test_mean_rssi_at_one_metre_is_the_reference() -> None:
    one = np.array([1.0])
    zero = np.array([0.0])
    assert mean_rssi(one, zero, zero, np.array([False]), RadioParams())[0] == pytest.approx(-75.0)
    assert mean_rssi(one, zero, zero, np.array([True]), RadioParams())[0] == pytest.approx(-95.0)
