"""The Clock seam: core code gets wall time only through an injected Clock."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current wall time in seconds since the Unix epoch."""

    def now(self) -> float:
        """Return the current time."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        """Return ``time.time()``."""
        return time.time()
