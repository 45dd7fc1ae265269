"""The realistic radio's noise against measured BLE RSSI (Herald robot measurements)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from firmware_sim.frame import Frame
from firmware_sim.radio import RadioParams, RealisticRadio
from tests.conftest import DATASETS

HERALD = sorted((DATASETS / "ble_rssi_herald").glob("*.csv"))


def _fit(path: Path) -> tuple[float, float, float]:
    """Log-distance fit over 0.2-3.4 m: (RSSI at 1 m, exponent, residual sigma)."""
    data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(1, 2))
    rssi, cm = data[:, 0], data[:, 1]
    keep = (cm >= 20) & (cm <= 340) & ~np.isnan(rssi)
    x = -10 * np.log10(cm[keep] / 100)
    design = np.vstack([np.ones_like(x), x]).T
    coef, *_ = np.linalg.lstsq(design, rssi[keep], rcond=None)
    residual = rssi[keep] - design @ coef
    return float(coef[0]), float(coef[1]), float(residual.std())


def _fit_simulated(seed: int = 2) -> tuple[float, float, float]:
    """The same fit over per-window medians the realistic radio produces, 0.2-3.4 m."""
    radio = RealisticRadio(np.zeros(2), np.random.default_rng(seed), RadioParams())
    distances, medians = [], []
    for d in np.linspace(0.2, 3.4, 33):
        frame = Frame(np.array([[0.0, 0.0], [d, 0.0]]), np.array([0.0, math.pi]), np.array([0, 0]))
        for _ in range(30):
            rec = radio.receive(frame)
            distances.extend([d] * len(rec))
            medians.extend(rec.median.tolist())
    x = -10 * np.log10(np.array(distances))
    design = np.vstack([np.ones_like(x), x]).T
    coef, *_ = np.linalg.lstsq(design, np.array(medians, dtype=float), rcond=None)
    residual = np.array(medians) - design @ coef
    return float(coef[0]), float(coef[1]), float(residual.std())


@pytest.fixture(scope="module")
def measured() -> list[tuple[float, float, float]]:
    assert HERALD, f"Herald RSSI data missing in {DATASETS}"
    return [_fit(path) for path in HERALD]


def test_the_data_matches_its_documented_facts(measured: list[tuple[float, float, float]]) -> None:
    exponents = sorted(n for _, n, _ in measured)
    sigmas = [s for _, _, s in measured]
    assert 0.4 < exponents[0] and exponents[-1] < 1.8
    assert 4.0 < min(sigmas) and max(sigmas) < 6.0


def test_per_sample_noise_is_within_the_measured_spread(
    measured: list[tuple[float, float, float]],
) -> None:
    sigmas = [s for _, _, s in measured]
    assert min(sigmas) <= RadioParams().shadowing_sd_db <= max(sigmas)


def test_window_medians_are_steadier_than_single_samples(
    measured: list[tuple[float, float, float]],
) -> None:
    rssi_1m, exponent, sigma = _fit_simulated()
    assert rssi_1m == pytest.approx(RadioParams().rssi_at_1m_dbm, abs=1.0)
    assert exponent == pytest.approx(RadioParams().path_loss_exponent, abs=0.2)
    # a median of ~10 samples spreads far less than one measured sample
    assert sigma < 0.6 * min(s for _, _, s in measured)
