"""Exponential backoff with full jitter, over an injected RNG."""

from __future__ import annotations

import random


class Backoff:
    """Delays ``uniform(0, min(cap, base * 2**attempt))``: spreads retries of many gateways.

    Args:
        base_s: the ceiling of the first delay.
        cap_s: the largest ceiling.
        rng: the random source (inject ``random.Random(seed)`` in tests).
    """

    def __init__(self, base_s: float, cap_s: float, rng: random.Random) -> None:
        self._base = base_s
        self._cap = cap_s
        self._rng = rng
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._attempt

    def ceiling(self) -> float:
        """The largest delay the next call may return."""
        return min(self._cap, self._base * 2.0 ** min(self._attempt, 60))

    def next_delay(self) -> float:
        """Return the next delay and count the attempt."""
        delay = self._rng.uniform(0.0, self.ceiling())
        self._attempt += 1
        return delay

    def reset(self) -> None:
        """Start over after a success."""
        self._attempt = 0
