"""The badge's offline buffer: sealed messages kept while it cannot reach the broker.

Bounded, first in first out. Policy when full: the **oldest** message is dropped (and
counted), because the newest windows are the ones the gateway can still use: a report
more than the event's allowed lateness behind event time is rejected as stale anyway.
After reconnecting the badge publishes the whole buffer, in order, before anything new.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from dataclasses import dataclass, field

from firmware_sim.badge import Outgoing

logger = logging.getLogger(__name__)


@dataclass
class OfflineBuffer:
    """A bounded FIFO of sealed messages with a drop-oldest policy.

    Attributes:
        capacity: most messages kept.
        drops: messages dropped because the buffer was full, since boot.
    """

    capacity: int
    drops: int = 0
    _items: deque[Outgoing] = field(default_factory=deque, repr=False)

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError("capacity must be >= 1")

    @property
    def fill(self) -> int:
        """Messages waiting."""
        return len(self._items)

    def put(self, message: Outgoing) -> None:
        """Keep ``message``; when full, drop the oldest first."""
        if len(self._items) >= self.capacity:
            self._items.popleft()
            self.drops += 1
        self._items.append(message)

    def drain(self) -> list[Outgoing]:
        """Everything waiting, oldest first; the buffer is empty afterwards."""
        items = list(self._items)
        self._items.clear()
        return items


@dataclass
class Link:
    """Whether one badge can reach the broker: outages start and end at random.

    Each window an online badge loses its connection with probability ``rate``; an
    outage lasts a geometric number of windows with mean ``mean_windows``.

    Attributes:
        rate: chance per window that an outage starts.
        mean_windows: mean outage length in windows.
        is_online: current state.
    """

    rate: float
    mean_windows: float
    is_online: bool = True

    def step(self, rng: random.Random) -> bool:
        """Advance one window; return whether the badge is online during it."""
        if self.is_online:
            self.is_online = not (self.rate > 0 and rng.random() < self.rate)
        else:
            self.is_online = rng.random() < 1.0 / max(1.0, self.mean_windows)
        return self.is_online
