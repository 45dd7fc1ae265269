"""Ground truth of a simulated event: who was face-to-face in which window, and who tapped."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

Pair = tuple[str, str]


@dataclass
class GroundTruth:
    """What really happened, to score the gateway and server against.

    Attributes:
        event: event id.
        window_seconds: length of a window.
        start: start of the first window, unix seconds.
        windows: number of windows simulated (agenda and tail).
        badges: every badge id, sorted.
        contacts: ``(window_start, a, b)`` with ``a < b`` for each face-to-face window.
        taps: ``(t, a, b)`` with ``a < b`` for each tap.
    """

    event: str
    window_seconds: int
    start: int
    windows: int
    badges: list[str]
    contacts: list[tuple[int, str, str]] = field(default_factory=list)
    taps: list[tuple[int, str, str]] = field(default_factory=list)

    def add_window(
        self, window_start: int, contacts: Iterable[Pair], taps: Iterable[tuple[int, str, str]]
    ) -> None:
        """Record one window's face-to-face pairs and taps."""
        self.contacts.extend((window_start, a, b) for a, b in contacts)
        self.taps.extend(taps)

    def contact_seconds(self) -> dict[Pair, int]:
        """Total face-to-face seconds of every pair that had any."""
        total: dict[Pair, int] = defaultdict(int)
        for _, a, b in self.contacts:
            total[(a, b)] += self.window_seconds
        return dict(total)

    def connections(self, link_threshold_seconds: int) -> set[Pair]:
        """Pairs whose face-to-face time reaches the threshold, or who tapped."""
        linked = {p for p, s in self.contact_seconds().items() if s >= link_threshold_seconds}
        linked.update((a, b) for _, a, b in self.taps)
        return linked

    def to_json(self) -> dict[str, Any]:
        """The ground-truth file's JSON object."""
        return {
            "event": self.event,
            "window_seconds": self.window_seconds,
            "start": self.start,
            "windows": self.windows,
            "badges": list(self.badges),
            "contacts": [list(c) for c in self.contacts],
            "taps": [list(t) for t in self.taps],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroundTruth:
        """Rebuild the ground truth from its JSON object.

        Raises:
            KeyError, TypeError, ValueError: the object is not a ground-truth file.
        """
        return cls(
            event=str(data["event"]),
            window_seconds=int(data["window_seconds"]),
            start=int(data["start"]),
            windows=int(data["windows"]),
            badges=[str(b) for b in data["badges"]],
            contacts=[(int(t), str(a), str(b)) for t, a, b in data["contacts"]],
            taps=[(int(t), str(a), str(b)) for t, a, b in data["taps"]],
        )
