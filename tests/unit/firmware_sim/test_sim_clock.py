"""SimClock pacing on a fake wall clock."""

from __future__ import annotations

import pytest

from firmware_sim.clock import SimClock
from tests.unit.firmware_sim.fakes import FakeTime


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
