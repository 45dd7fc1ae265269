"""Forward lag: how long the oldest meeting not yet forwarded has been waiting in the journal."""

from __future__ import annotations

from collections import deque


class ForwardLag:
    """Tracks, per checkpoint, the running total of meetings journaled and when.

    Meetings are forwarded in journal order, so the oldest one still waiting belongs to
    the first checkpoint whose running total exceeds what has been forwarded. Only this
    process's checkpoints are known: meetings found in the journal at start count as
    journaled at start.
    """

    def __init__(self) -> None:
        self._journaled = 0
        self._marks: deque[tuple[int, float]] = deque()

    def journaled(self, count: int, now: float) -> None:
        """Record that ``count`` new meetings were journaled at wall time ``now``."""
        if count > 0:
            self._journaled += count
            self._marks.append((self._journaled, now))

    def seconds(self, unforwarded: int, now: float) -> float:
        """The lag at ``now`` given how many journaled meetings still wait (0 if none)."""
        forwarded = self._journaled - unforwarded
        while self._marks and self._marks[0][0] <= forwarded:
            self._marks.popleft()
        if not self._marks:
            return 0.0
        return max(0.0, now - self._marks[0][1])
