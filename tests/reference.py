"""A deliberately naive statement of design.md §3, to compare the gateway against."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

ExpectedMeeting = tuple[str, str, int, int, int]
"""(badge_a, badge_b, first_seen, last_seen, contact_seconds), badge_a < badge_b."""


def expected_meetings(
    contacts: Iterable[tuple[int, str, str]],
    window: int,
    gap_tolerance: int,
    min_meeting: int,
) -> set[ExpectedMeeting]:
    """Meetings that the contact windows ``(window_start, a, b)`` must produce."""
    by_pair: dict[tuple[str, str], set[int]] = defaultdict(set)
    for start, a, b in contacts:
        by_pair[(min(a, b), max(a, b))].add(start)
    meetings: set[ExpectedMeeting] = set()
    for (a, b), starts in by_pair.items():
        run: list[int] = []
        for start in sorted(starts):
            if run and start - (run[-1] + window) > gap_tolerance:
                _close(meetings, a, b, run, window, min_meeting)
                run = []
            run.append(start)
        _close(meetings, a, b, run, window, min_meeting)
    return meetings


def _close(
    out: set[ExpectedMeeting], a: str, b: str, run: list[int], window: int, min_meeting: int
) -> None:
    if run and run[-1] + window - run[0] >= min_meeting:
        out.add((a, b, run[0], run[-1] + window, len(run) * window))
