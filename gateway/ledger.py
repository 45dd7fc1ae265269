"""The ledger: the in-memory index of journaled meetings and how far forwarding got.

Meetings live in segments (by event time); within a segment they keep journal order.
The forward cursor is, per segment, the length of the forwarded prefix plus the ids
acknowledged out of order, so it stays small however many meetings a segment holds.
Both journals share this index; only how they persist it differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from protocol.api import Meeting


class Segment:
    """The meetings of one segment in journal order, and how far forwarding got."""

    __slots__ = ("meetings", "positions", "forwarded", "acked")

    def __init__(self) -> None:
        self.meetings: list[Meeting] = []
        self.positions: dict[str, int] = {}
        self.forwarded = 0
        self.acked: set[str] = set()

    @property
    def is_done(self) -> bool:
        return self.forwarded == len(self.meetings)

    def append(self, meeting: Meeting) -> None:
        self.positions[meeting.id] = len(self.meetings)
        self.meetings.append(meeting)

    def mark(self, meeting_id: str) -> bool:
        """Mark one meeting forwarded; True if it was not already."""
        position = self.positions[meeting_id]
        if position < self.forwarded or meeting_id in self.acked:
            return False
        self.acked.add(meeting_id)
        while self.forwarded < len(self.meetings):
            head = self.meetings[self.forwarded].id
            if head not in self.acked:
                break
            self.acked.discard(head)
            self.forwarded += 1
        return True


class Ledger:
    """The in-memory index both journals share: segments, ids, forward cursor."""

    def __init__(self, segment_seconds: int) -> None:
        if segment_seconds < 1:
            raise ValueError("segment_seconds must be at least 1")
        self.segment_seconds = segment_seconds
        self.segments: dict[int, Segment] = {}
        self._where: dict[str, int] = {}
        self.unforwarded = 0

    def segment_of(self, meeting: Meeting) -> int:
        return meeting.last_seen // self.segment_seconds

    def fresh(self, meetings: Iterable[Meeting]) -> dict[int, list[Meeting]]:
        """Group the meetings not journaled yet by segment (first copy of an id wins)."""
        seen: set[str] = set()
        groups: dict[int, list[Meeting]] = {}
        for meeting in meetings:
            if meeting.id in self._where or meeting.id in seen:
                continue
            seen.add(meeting.id)
            groups.setdefault(self.segment_of(meeting), []).append(meeting)
        return dict(sorted(groups.items()))

    def add(self, index: int, meeting: Meeting) -> None:
        if meeting.id in self._where:
            return
        self.segments.setdefault(index, Segment()).append(meeting)
        self._where[meeting.id] = index
        self.unforwarded += 1

    def peek(self, n: int) -> list[Meeting]:
        batch: list[Meeting] = []
        for index in sorted(self.segments):
            segment = self.segments[index]
            for meeting in segment.meetings[segment.forwarded :]:
                if len(batch) >= n:
                    return batch
                if meeting.id not in segment.acked:
                    batch.append(meeting)
        return batch

    def ack(self, ids: Iterable[str]) -> int:
        count = 0
        for meeting_id in ids:
            index = self._where.get(meeting_id)
            if index is not None and self.segments[index].mark(meeting_id):
                count += 1
        self.unforwarded -= count
        return count

    def removable(self) -> list[int]:
        """Segments all forwarded and older than the newest one."""
        if not self.segments:
            return []
        newest = max(self.segments)
        return [i for i, s in sorted(self.segments.items()) if i < newest and s.is_done]

    def remove(self, index: int) -> None:
        segment = self.segments.pop(index)
        for meeting in segment.meetings:
            self._where.pop(meeting.id, None)
        self.unforwarded -= len(segment.meetings) - segment.forwarded - len(segment.acked)

    def cursor(self) -> dict[str, Any]:
        return {
            str(index): [segment.forwarded, sorted(segment.acked)]
            for index, segment in sorted(self.segments.items())
            if segment.forwarded or segment.acked
        }

    def apply_cursor(self, cursor: Mapping[str, Any]) -> None:
        """Restore forwarding progress; entries for missing segments are ignored."""
        for key, (forwarded, acked) in cursor.items():
            segment = self.segments.get(int(key))
            if segment is None:
                continue
            ids = [m.id for m in segment.meetings[: int(forwarded)]] + [
                str(i) for i in acked if str(i) in segment.positions
            ]
            self.ack(ids)
