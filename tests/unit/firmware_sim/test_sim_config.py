"""SimSettings: defaults, BADGE_ environment, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from firmware_sim.config import SimSettings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BADGE_BUNDLES_DIR", "/tmp/bundles")
    s = SimSettings()
    assert s.bundles_dir == Path("/tmp/bundles")
    assert (s.broker_host, s.broker_port, s.seed, s.minutes, s.speed) == (
        "127.0.0.1",
        1883,
        7,
        60,
        60,
    )
    assert (s.radio, s.connections, s.start_time, s.taps) == ("realistic", 4, 1780563600, True)
    assert s.ground_truth_path is None and s.summary_path is None


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BADGE_BUNDLES_DIR", "b")
    monkeypatch.setenv("BADGE_RADIO", "Ideal")
    monkeypatch.setenv("BADGE_PUBLISH_MODE", "Per-Badge")
    monkeypatch.setenv("BADGE_SPEED", "0")
    monkeypatch.setenv("BADGE_TAPS", "false")
    monkeypatch.setenv("BADGE_LOG_LEVEL", "debug")
    monkeypatch.setenv("BADGE_GROUND_TRUTH_PATH", "out/truth.json")
    s = SimSettings()
    assert (s.radio, s.speed, s.taps, s.log_level) == ("ideal", 0, False, "DEBUG")
    assert s.ground_truth_path == Path("out/truth.json")
    assert s.publish_mode == "per-badge"


@pytest.mark.parametrize(
    "field,value",
    [
        ("speed", -1),
        ("minutes", 0),
        ("connections", 0),
        ("radio", "psychic"),
        ("broker_port", 0),
        ("publish_mode", "carrier-pigeon"),
    ],
)
def test_bad_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        SimSettings(bundles_dir=Path("."), **{field: value})  # type: ignore[arg-type]


def test_bundles_dir_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BADGE_BUNDLES_DIR", raising=False)
    with pytest.raises(ValidationError):
        SimSettings()
