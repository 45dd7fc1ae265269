"""Rate-limited logging of rejections: a flood of bad input must not flood the log.

Every rejection is still counted (the callers' counters); only the log lines are limited.
Per reason, the first ``per_period`` lines of each period are logged; the rest are
suppressed and, once the period is over, summed up in one line
``suppressed K more <reason> in the last 60 s``. The summary is written at the next
rejection of any reason (or by ``flush``), so a flood that stops is still summed up once
anything else is logged, and at shutdown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway.clock import Clock

PER_PERIOD = 10
"""Lines logged per reason and period before the rest are suppressed."""
PERIOD_S = 60.0


@dataclass(slots=True)
class _Window:
    started: float
    logged: int = 0
    suppressed: int = 0
    level: int = logging.WARNING


class RateLimitedLog:
    """Logs at most ``per_period`` lines per reason and period, then one summary line.

    Args:
        logger: where the lines go.
        clock: wall time (injected, so tests drive the periods).
        per_period: lines logged per reason in one period.
        period_s: the period's length in seconds.
    """

    def __init__(
        self,
        logger: logging.Logger,
        clock: Clock,
        *,
        per_period: int = PER_PERIOD,
        period_s: float = PERIOD_S,
    ) -> None:
        if per_period < 0:
            raise ValueError("per_period must be >= 0")
        if period_s <= 0:
            raise ValueError("period_s must be > 0")
        self._logger = logger
        self._clock = clock
        self._per_period = per_period
        self._period_s = period_s
        self._windows: dict[str, _Window] = {}
        self._open_floods = 0  # windows with suppressed lines not yet summed up

    def log(self, level: int, reason: str, msg: str, *args: object) -> bool:
        """Log ``msg % args`` unless ``reason`` used up its lines; True if it was logged."""
        now = self._clock.now()
        if self._open_floods:
            self._summarize(now)
        window = self._windows.get(reason)
        if window is None or now >= window.started + self._period_s:
            if window is not None and window.suppressed:
                self._summary(reason, window)
            window = self._windows[reason] = _Window(now)
        if window.logged < self._per_period:
            window.logged += 1
            if self._logger.isEnabledFor(level):
                self._logger.log(level, msg, *args, stacklevel=2)
            return True
        if not window.suppressed:
            self._open_floods += 1
        window.suppressed += 1
        window.level = max(window.level, level)
        return False

    def suppressed(self, reason: str) -> int:
        """Lines of ``reason`` suppressed in its current period and not summed up yet."""
        window = self._windows.get(reason)
        return window.suppressed if window is not None else 0

    def flush(self) -> None:
        """Sum up every suppressed line now, whether or not its period is over."""
        for reason, window in self._windows.items():
            if window.suppressed:
                self._summary(reason, window)

    def _summarize(self, now: float) -> None:
        for reason, window in self._windows.items():
            if window.suppressed and now >= window.started + self._period_s:
                self._summary(reason, window)

    def _summary(self, reason: str, window: _Window) -> None:
        self._logger.log(
            window.level,
            "suppressed %d more %s in the last %g s",
            window.suppressed,
            reason,
            self._period_s,
        )
        window.suppressed = 0
        self._open_floods -= 1
