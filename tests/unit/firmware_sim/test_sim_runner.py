"""run_simulation with the recording publisher: pacing, progress, files, summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmware_sim.clock import SimClock
from firmware_sim.config import SimSettings
from firmware_sim.errors import BundleError
from firmware_sim.runner import run_simulation
from firmware_sim.simulation import plan_timeline, simulate
from firmware_sim.truth import GroundTruth
from protocol.api import DetectionSettings
from tests.unit.firmware_sim.fakes import FakeTime, RecordingPublisher, make_bundles, write_bundles

SUMMARY_KEYS = {
    "badges",
    "windows",
    "reports_sent",
    "taps_sent",
    "status_sent",
    "checkins_sent",
    "messages_sent",
    "publish_failures",
    "wall_seconds",
}


def _settings(tmp_path: Path, **overrides: object) -> SimSettings:
    values: dict[str, object] = {
        "bundles_dir": tmp_path / "bundles",
        "minutes": 4.0,
        "speed": 60.0,
        "ground_truth_path": tmp_path / "out" / "truth.json",
        "summary_path": tmp_path / "out" / "summary.json",
    }
    values.update(overrides)
    return SimSettings(**values)  # type: ignore[arg-type]


def test_run_publishes_what_simulate_yields_paced_and_writes_files(tmp_path: Path) -> None:
    bundles = make_bundles(8)
    write_bundles(tmp_path / "bundles", bundles)
    settings = _settings(tmp_path)
    fake = FakeTime()
    publisher = RecordingPublisher()
    steps: list[tuple[int, int]] = []
    result = run_simulation(
        settings,
        publisher=publisher,
        progress=lambda done, total: steps.append((done, total)),
        clock=SimClock(settings.speed, now=fake.time, sleep=fake.sleep),
    )
    expected = [m for out in simulate(bundles, settings) for m in out.messages]
    assert publisher.messages == [tuple(m) for m in expected]
    assert publisher.closed

    windows = 12 + plan_timeline(DetectionSettings(), 1, 0).tail_windows
    assert steps == [(k, windows) for k in range(1, windows + 1)]
    # an acknowledgement barrier every allowed lateness (60 s = 3 windows): 0, 3, 6, ...
    assert publisher.barriers == len(range(0, windows, 3))
    assert sum(fake.sleeps) == pytest.approx(windows * 20 / 60)

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary == result.summary
    assert SUMMARY_KEYS <= set(summary)
    assert summary["badges"] == 8 and summary["windows"] == windows
    assert summary["reports_sent"] == 8 * windows
    assert summary["status_sent"] == 8 * 2
    assert summary["messages_sent"] == len(expected)
    assert summary["publish_failures"] == 0

    truth = json.loads((tmp_path / "out" / "truth.json").read_text())
    assert set(truth) == {
        "event",
        "window_seconds",
        "start",
        "windows",
        "badges",
        "contacts",
        "taps",
    }
    assert truth["badges"] == [b.badge for b in bundles]
    assert truth["window_seconds"] == 20 and truth["windows"] == windows
    assert truth["start"] == settings.start_time
    assert GroundTruth.from_json(truth) == result.ground_truth
    for start, a, b in truth["contacts"]:
        assert a < b and (start - truth["start"]) % 20 == 0


def test_speed_zero_does_not_sleep(tmp_path: Path) -> None:
    write_bundles(tmp_path / "bundles", make_bundles(3))
    fake = FakeTime()
    run_simulation(
        _settings(tmp_path, speed=0, ground_truth_path=None, summary_path=None),
        publisher=RecordingPublisher(),
        clock=SimClock(0, now=fake.time, sleep=fake.sleep),
    )
    assert fake.sleeps == []
    assert not (tmp_path / "out").exists()


def test_bad_bundle_folder_fails_before_publishing(tmp_path: Path) -> None:
    publisher = RecordingPublisher()
    with pytest.raises(BundleError):
        run_simulation(_settings(tmp_path), publisher=publisher)
    assert not publisher.started


def test_ground_truth_connections_follow_the_threshold_and_taps() -> None:
    truth = GroundTruth("ev", 20, 0, 10, ["a", "b", "c"])
    truth.add_window(0, [("a", "b"), ("a", "c")], [])
    truth.add_window(20, [("a", "b")], [(25, "b", "c")])
    assert truth.contact_seconds() == {("a", "b"): 40, ("a", "c"): 20}
    assert truth.connections(40) == {("a", "b"), ("b", "c")}
    assert truth.connections(41) == {("b", "c")}
