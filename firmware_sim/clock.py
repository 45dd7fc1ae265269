"""Clocks: ``SimClock`` paces simulated event time in wall time; ``BadgeClocks`` drift and resync.

``BadgeClocks`` models each badge's own clock: a crystal that runs fast or slow by a
few tens of ppm, an error at power-on, and resynchronisation from the gateway's status
time (docs/simulator.md, "Badge clocks").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


class SimClock:
    """Paces a simulation at ``speed`` simulated seconds per wall second.

    With speed 60 a 20-second window takes a third of a wall second; speed 0 means
    as fast as possible (``wait_until`` never sleeps). The wall clock and the sleep
    are injected so tests run on a fake clock.

    Args:
        speed: simulated seconds per wall second; 0 disables pacing.
        now: monotonic wall clock in seconds.
        sleep: blocks for the given number of wall seconds.
    """

    def __init__(
        self,
        speed: float,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        self.speed = speed
        self._now = now
        self._sleep = sleep
        self._event0 = 0.0
        self._wall0: float | None = None

    def start(self, event_time: float) -> None:
        """Declare that event time ``event_time`` is now."""
        self._event0 = event_time
        self._wall0 = self._now()

    def wall_at(self, event_time: float) -> float:
        """Wall time at which ``event_time`` happens (now, for speed 0).

        Raises:
            RuntimeError: ``start`` was not called.
        """
        if self._wall0 is None:
            raise RuntimeError("SimClock.start() was not called")
        if self.speed == 0:
            return self._now()
        return self._wall0 + (event_time - self._event0) / self.speed

    def wait_until(self, event_time: float) -> float:
        """Sleep until ``event_time`` has come; return how late we already were (wall s)."""
        delay = self.wall_at(event_time) - self._now()
        if delay > 0:
            self._sleep(delay)
            return 0.0
        if self.speed and delay < -1.0:
            logger.debug("behind schedule by %.2f s at event time %s", -delay, event_time)
        return -delay


ResyncPolicy = Literal["none", "connect", "periodic"]


@dataclass(frozen=True)
class ClockParams:
    """How badge clocks drift and resynchronise; the defaults are in docs/simulator.md.

    Attributes:
        drift_ppm: each badge's crystal runs fast or slow by U(-drift_ppm, +drift_ppm)
            parts per million (typical 32 kHz watch crystals: +-20-50 ppm).
        boot_offset_s: error of a badge's real-time clock at power-on, U(-b, +b) seconds
            (+-50 ppm over four weeks in a drawer is +-121 s).
        resync: ``"none"``: the badge trusts its own clock all event; ``"connect"``: it sets
            its clock from the gateway's status time whenever it (re)connects to the broker;
            ``"periodic"``: also every ``resync_interval_s`` while connected.
        resync_interval_s: time between periodic resynchronisations.
        sync_latency_s: a synchronised clock is behind by the delivery latency of the
            gateway's status message, U(0, sync_latency_s).
    """

    drift_ppm: float = 50.0
    boot_offset_s: float = 120.0
    resync: ResyncPolicy = "periodic"
    resync_interval_s: float = 300.0
    sync_latency_s: float = 0.05


class BadgeClocks:
    """The local clocks of ``n`` badges: error = offset + rate x (t - last sync), vectorised.

    A badge's clock error at true event time ``t`` is ``local(t) - t``. Draws come from
    ``rng`` only (the crowd, radio and badges keep their own generators).

    Args:
        n: number of badges.
        params: drift and resynchronisation model.
        rng: the generator of the rates, boot offsets and sync latencies.
        boot_time: true event time the badges are switched on.
    """

    def __init__(
        self, n: int, params: ClockParams, rng: np.random.Generator, boot_time: float
    ) -> None:
        self.params = params
        self._rng = rng
        self.rate: Floats = rng.uniform(-params.drift_ppm, params.drift_ppm, n) * 1e-6
        self.offset: Floats = rng.uniform(-params.boot_offset_s, params.boot_offset_s, n)
        self.synced_at: Floats = np.full(n, float(boot_time))
        self.last_sync: Floats = np.full(n, -np.inf)
        self.syncs = 0

    def errors(self, t: float) -> Floats:
        """Every badge's clock error (local - true) at true time ``t``, seconds."""
        result: Floats = self.offset + self.rate * (t - self.synced_at)
        return result

    def synchronise(self, t: float, connected: Bools, reconnected: Bools) -> None:
        """Apply the resync policy at true time ``t``.

        Args:
            t: true event time.
            connected: badges online now (only they can hear the gateway's status).
            reconnected: badges whose connection came up since the last call (including
                power-on).
        """
        p = self.params
        if p.resync == "none":
            return
        due = reconnected & connected
        if p.resync == "periodic":
            due |= connected & (t - self.last_sync >= p.resync_interval_s)
        count = int(due.sum())
        if not count:
            return
        self.offset[due] = -self._rng.uniform(0.0, p.sync_latency_s, count)
        self.synced_at[due] = t
        self.last_sync[due] = t
        self.syncs += count

    def window_labels(self, window_start: int, window_seconds: int) -> Ints:
        """The window each badge files the true window ``window_start`` under.

        The badge's windows are aligned to its own clock; the report of the local window
        holding most of the true window (the one containing its midpoint) carries
        that local window's start.
        """
        mid = window_start + window_seconds / 2
        local = mid + self.errors(mid)
        labels: Ints = (np.floor(local / window_seconds) * window_seconds).astype(np.int64)
        return labels

    def local_times(self, t: float) -> Ints:
        """Every badge's clock reading at true time ``t``, rounded to whole seconds."""
        readings: Ints = np.rint(t + self.errors(t)).astype(np.int64)
        return readings
