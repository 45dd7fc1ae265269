"""Detected connections against the simulator's ground truth: precision and recall."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

Pair = tuple[str, str]


def pair(a: str, b: str) -> Pair:
    """The unordered pair as a sorted tuple."""
    return (a, b) if a <= b else (b, a)


def true_connections(
    contacts: Iterable[tuple[int, str, str]],
    taps: Iterable[tuple[int, str, str]],
    window_seconds: int,
    link_threshold_seconds: int,
) -> set[Pair]:
    """Pairs whose face-to-face time reaches the link threshold, or who tapped."""
    seconds: dict[Pair, int] = defaultdict(int)
    for _, a, b in contacts:
        seconds[pair(a, b)] += window_seconds
    linked = {p for p, total in seconds.items() if total >= link_threshold_seconds}
    linked.update(pair(a, b) for _, a, b in taps)
    return linked


@dataclass(frozen=True)
class Score:
    """How well the detected set matches the true set."""

    true_positives: int
    detected: int
    truth: int

    @property
    def precision(self) -> float:
        """Share of detected pairs that are true (1.0 when nothing was detected)."""
        return self.true_positives / self.detected if self.detected else 1.0

    @property
    def recall(self) -> float:
        """Share of true pairs that were detected (1.0 when there were none)."""
        return self.true_positives / self.truth if self.truth else 1.0


def score(detected: set[Pair], truth: set[Pair]) -> Score:
    """Compare two sets of pairs."""
    return Score(len(detected & truth), len(detected), len(truth))
