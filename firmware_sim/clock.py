"""SimClock: maps simulated event time to wall time, so a simulated event runs faster than life."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


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
