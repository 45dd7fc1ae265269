"""The realistic radio's RSSI-versus-distance curve and spread against the Herald measurements.

Stated tolerances (docs/radio.md): after removing each recording's own RSSI at 1 m
(phones differ by 30 dB; badges are one model), the simulated mean curve must lie
within 5 dB of the measured mean in every 0.2 m bin from 0.2 to 3.4 m, within 3 dB
root-mean-square over the bins; the simulated per-sample spread around the curve must
lie within the measured recordings' range (4.1-5.9 dB, +-0.2 dB). The default
``RadioParams()`` (= ``HERALD_PARAMS``) meets all three; the earlier default
``FREE_SPACE_PARAMS`` (n = 2) meets the spread but not the curve (about 5 dB too strong
at 0.3 m).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from firmware_sim.frame import Frame
from firmware_sim.radio import FREE_SPACE_PARAMS, HERALD_PARAMS, RadioParams, RealisticRadio
from tests.conftest import DATASETS

HERALD = sorted((DATASETS / "ble_rssi_herald").glob("*.csv"))
EDGES = np.round(np.arange(0.2, 3.41, 0.2), 2)
MAX_BIN_ERROR_DB = 5.0
MAX_RMS_ERROR_DB = 3.0


def _binned(distance: np.ndarray, rssi: np.ndarray) -> np.ndarray:
    index = np.digitize(distance, EDGES) - 1
    return np.array([rssi[index == k].mean() for k in range(len(EDGES) - 1)])


@pytest.fixture(scope="module")
def measured() -> tuple[np.ndarray, list[float]]:
    """Mean measured RSSI per bin relative to each recording's 1 m level, and each residual sd."""
    assert HERALD, f"Herald RSSI data missing in {DATASETS}"
    distances, levels, sigmas = [], [], []
    for path in HERALD:
        data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(1, 2))
        rssi, metres = data[:, 0], data[:, 1] / 100
        keep = (metres >= 0.2) & (metres <= 3.4) & ~np.isnan(rssi)
        x = -10 * np.log10(metres[keep])
        design = np.vstack([np.ones_like(x), x]).T
        coef, *_ = np.linalg.lstsq(design, rssi[keep], rcond=None)
        sigmas.append(float((rssi[keep] - design @ coef).std()))
        distances.append(metres[keep])
        levels.append(rssi[keep] - coef[0])
    return _binned(np.concatenate(distances), np.concatenate(levels)), sigmas


def _simulated(
    params: RadioParams, samples_mean: float, seed: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """(distance, median RSSI - RSSI at 1 m) of many windows between two facing badges."""
    radio = RealisticRadio(
        np.zeros(2), np.random.default_rng(seed), replace(params, samples_mean=samples_mean)
    )
    distances, levels = [], []
    for d in np.arange(0.21, 3.4, 0.05):
        frame = Frame(np.array([[0.0, 0.0], [d, 0.0]]), np.array([0.0, math.pi]), np.array([0, 0]))
        for _ in range(25):
            rec = radio.receive(frame)
            single = rec.count == 1 if samples_mean < 2 else np.ones(len(rec), dtype=bool)
            distances.extend([d] * int(single.sum()))
            levels.extend((rec.median[single] - params.rssi_at_1m_dbm).tolist())
    return np.array(distances), np.array(levels, dtype=float)


@pytest.mark.parametrize("params", [HERALD_PARAMS, RadioParams()], ids=["herald", "default"])
def test_default_and_herald_curve_within_the_stated_tolerances(
    measured: tuple[np.ndarray, list[float]], params: RadioParams
) -> None:
    curve, _ = measured
    simulated = _binned(*_simulated(params, samples_mean=10.0))
    error = simulated - curve
    assert np.abs(error).max() <= MAX_BIN_ERROR_DB, error.round(1)
    assert math.sqrt(float((error**2).mean())) <= MAX_RMS_ERROR_DB, error.round(1)


def test_free_space_default_is_steeper_than_measured(
    measured: tuple[np.ndarray, list[float]],
) -> None:
    curve, _ = measured
    rms = {
        name: math.sqrt(float(((_binned(*_simulated(p, 10.0)) - curve) ** 2).mean()))
        for name, p in (("default", RadioParams()), ("free space", FREE_SPACE_PARAMS))
    }
    # The earlier default (n = 2) misses the tolerance near 0.3 m (docs/radio.md).
    assert rms["default"] < rms["free space"]


def test_single_sample_spread_within_the_measured_range(
    measured: tuple[np.ndarray, list[float]],
) -> None:
    _, sigmas = measured
    for params in (RadioParams(), FREE_SPACE_PARAMS):
        distance, level = _simulated(params, samples_mean=1.0)
        residual = level + 10 * params.path_loss_exponent * np.log10(distance)
        assert min(sigmas) - 0.2 <= residual.std() <= max(sigmas) + 0.2


def test_the_protocol_default_threshold_is_the_one_tuned_for_the_default_radio() -> None:
    from firmware_sim.radio import CALIBRATED_RSSI_THRESHOLD_DBM
    from protocol.api import DetectionSettings

    assert DetectionSettings().rssi_threshold_dbm == CALIBRATED_RSSI_THRESHOLD_DBM
