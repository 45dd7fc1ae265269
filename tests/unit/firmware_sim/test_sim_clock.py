"""SimClock pacing on a fake wall clock; badge clocks drifting and resynchronising."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.clock import BadgeClocks, ClockParams, SimClock
from tests.unit.firmware_sim.fakes import FakeTime

T0 = 1_780_563_600


def test_speed_60_makes_a_20_second_window_take_a_third_of_a_second() -> None:
    fake = FakeTime()
    clock = SimClock(60, now=fake.time, sleep=fake.sleep)
    clock.start(1000)
    for end in (1020, 1040, 1060):
        clock.wait_until(end)
    assert fake.sleeps == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    assert clock.wall_at(1060) == pytest.approx(fake.now)


def test_speed_zero_never_sleeps() -> None:
    fake = FakeTime()
    clock = SimClock(0, now=fake.time, sleep=fake.sleep)
    clock.start(0)
    for end in range(20, 2000, 20):
        assert clock.wait_until(end) == 0.0
    assert fake.sleeps == []


def test_a_late_window_does_not_sleep_and_reports_the_lag() -> None:
    fake = FakeTime()
    clock = SimClock(10, now=fake.time, sleep=fake.sleep)
    clock.start(0)
    fake.now += 5.0  # work took 5 s of wall time; event time 20 was due after 2 s
    assert clock.wait_until(20) == pytest.approx(3.0)
    assert fake.sleeps == []
    clock.wait_until(100)  # due at 10 s of wall time, now is 5 s in
    assert fake.sleeps == pytest.approx([5.0])


def test_clock_must_be_started_and_speed_not_negative() -> None:
    with pytest.raises(ValueError):
        SimClock(-1)
    with pytest.raises(RuntimeError):
        SimClock(1).wall_at(5)


# --- badge clocks ------------------------------------------------------------------


def _clocks(n: int = 50, seed: int = 3, **params: Any) -> BadgeClocks:
    return BadgeClocks(n, ClockParams(**params), np.random.default_rng(seed), boot_time=T0)


def test_an_unsynchronised_clock_drifts_linearly_from_its_boot_offset() -> None:
    clocks = _clocks(resync="none")
    assert np.all(np.abs(clocks.rate) <= 50e-6) and np.all(np.abs(clocks.offset) <= 120)
    hour = clocks.errors(T0 + 3600) - clocks.errors(T0)
    assert hour == pytest.approx(clocks.rate * 3600)
    everyone = np.ones(50, dtype=bool)
    clocks.synchronise(T0, everyone, everyone)
    assert clocks.syncs == 0
    assert clocks.errors(T0) == pytest.approx(clocks.offset)


def test_connecting_sets_the_clock_to_the_gateways_time_minus_the_latency() -> None:
    clocks = _clocks(resync="connect")
    online = np.arange(50) % 2 == 0
    clocks.synchronise(T0, online, online)
    errors = clocks.errors(T0)
    assert np.all((errors[online] <= 0) & (errors[online] >= -0.05))
    assert np.all(np.abs(errors[~online]) > 0.05)  # offline badges kept their boot error
    clocks.synchronise(T0 + 3600, online, np.zeros(50, dtype=bool))
    assert clocks.syncs == 25  # "connect" does not resync a badge that stays connected


def test_periodic_resync_runs_every_interval_for_connected_badges_only() -> None:
    clocks = _clocks(resync="periodic", resync_interval_s=300)
    everyone = np.ones(50, dtype=bool)
    nobody = np.zeros(50, dtype=bool)
    clocks.synchronise(T0, everyone, everyone)
    for t in range(T0 + 20, T0 + 3600, 20):
        clocks.synchronise(t, everyone, nobody)
    assert clocks.syncs == 50 * 12  # at 0, 300, ..., 3300 s
    assert np.all(np.abs(clocks.errors(T0 + 3600)) <= 0.05 + 50e-6 * 300)


@given(
    drift=st.floats(0, 500),
    boot=st.floats(0, 3600),
    latency=st.floats(0, 5),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=50, deadline=None)
def test_a_periodically_resynced_clock_is_never_off_by_more_than_latency_plus_drift(
    drift: float, boot: float, latency: float, seed: int
) -> None:
    clocks = _clocks(
        20, seed, drift_ppm=drift, boot_offset_s=boot, sync_latency_s=latency, resync="periodic"
    )
    everyone = np.ones(20, dtype=bool)
    bound = latency + drift * 1e-6 * 300 + 1e-9
    for k, t in enumerate(range(T0, T0 + 7200, 20)):
        clocks.synchronise(t, everyone, everyone if k == 0 else ~everyone)
        assert np.all(np.abs(clocks.errors(t)) <= bound)
        assert np.all(np.abs(clocks.errors(t + 19.99)) <= bound)


def test_window_labels_follow_each_badges_own_clock() -> None:
    clocks = _clocks(4, resync="none")
    clocks.offset[:] = [0.0, 9.9, -10.1, 31.0]
    clocks.rate[:] = 0.0
    # Up to half a window off: the true window; more: a neighbouring one (or further).
    assert clocks.window_labels(T0, 20).tolist() == [T0, T0, T0 - 20, T0 + 40]
    assert clocks.local_times(T0).tolist() == [T0, T0 + 10, T0 - 10, T0 + 31]


def test_badge_clocks_are_deterministic_from_the_generator() -> None:
    a, b = _clocks(seed=11), _clocks(seed=11)
    assert np.array_equal(a.rate, b.rate) and np.array_equal(a.offset, b.offset)
    assert not np.array_equal(a.offset, _clocks(seed=12).offset)
