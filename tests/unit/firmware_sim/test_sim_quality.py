"""The realistic radio lets a gateway see face-to-face contact and rarely anything else.

Figures for the demo size (200 badges, 60 minutes) come from
``python -m tests.unit.firmware_sim.quality``; this test runs a smaller event.
"""

from __future__ import annotations

from pathlib import Path

from firmware_sim.config import SimSettings
from firmware_sim.radio import CALIBRATED_RSSI_THRESHOLD_DBM
from protocol.api import DetectionSettings
from tests.unit.firmware_sim.fakes import make_bundles
from tests.unit.firmware_sim.quality import measure


def test_mutual_hearing_matches_face_to_face_contact() -> None:
    settings = SimSettings(bundles_dir=Path("."), minutes=30.0, seed=11)
    detection = DetectionSettings(rssi_threshold_dbm=CALIBRATED_RSSI_THRESHOLD_DBM)
    q = measure(make_bundles(100, settings=detection), settings)
    assert q.truth_windows > 2000
    assert q.sensitivity > 0.9
    assert q.window_precision > 0.9
    assert q.precision >= 0.95
    assert q.recall >= 0.9


def test_ideal_radio_is_perfect() -> None:
    settings = SimSettings(bundles_dir=Path("."), minutes=20.0, seed=11, radio="ideal")
    q = measure(make_bundles(60), settings)
    assert q.truth_windows > 500
    assert q.sensitivity == q.window_precision == 1.0
