"""Aggregation: a pair's contact windows become meetings once event time has closed them.

Pure: no I/O, no clock. A meeting is a maximal run of one pair's contact windows in
which consecutive windows are at most ``gap_tolerance_seconds`` apart (gap = next start
minus the end of the previous window), lasting at least ``min_meeting_seconds`` (first
start to last end). Results do not depend on the order contacts arrive in, nor on the
order of the two badges.

When is a run final? A report for window ws is accepted only while
``ws + window > W - lateness`` (the verifier's stale rule), so every window that can
still arrive starts after ``W - lateness - window``. A new window extends a run ending
at ``end = last.start + window`` only if it starts at or before ``end + gap_tolerance``.
Hence the run is final once ``end + gap_tolerance <= W - lateness - window``. Runs
earlier in the same pair end earlier still, and a window that could bridge two runs
would have to start before the later one, so it is covered by the same bound.

Every change to the open windows is also written as a binary record (``gateway.record``)
for the journal's contact log (see ``gateway.pairing``): a window set to its RSSI pair,
a run of windows closed. ``dump`` writes the records of every open window (a base).
"""

from __future__ import annotations

import statistics
import struct
from collections import Counter
from typing import Any

from gateway.pairing import Contact
from gateway.record import ChangeRecords, RecordReader, names
from protocol.api import DetectionSettings, Meeting
from protocol.ids import meeting_id

Pair = tuple[str, str]

WINDOW = b"W"
"""Record: pair (a, b)'s contact window now has these RSSIs. ``>qii`` start, rssi a, b; names."""
CLOSED = b"R"
"""Record: pair (a, b)'s windows from first to last start were closed. ``>qq``; names a, b."""
RECORD_TAGS = (WINDOW, CLOSED)

_TAG_QII = struct.Struct(">cqii")
_TAG_QQ = struct.Struct(">cqq")
_QII = struct.Struct(">qii")
_QQ = struct.Struct(">qq")


class Aggregator(ChangeRecords):
    """Keeps each pair's open contact windows and closes them into meetings.

    Args:
        settings: the event's detection settings.
        event: event id written into meetings.
        gateway: this gateway's id.
        zone: the zone written into meetings (may be changed later via ``zone``).
        counters: shared counters (``short_contacts``).
    """

    def __init__(
        self,
        settings: DetectionSettings,
        *,
        event: str,
        gateway: str,
        zone: str,
        counters: Counter[str],
    ) -> None:
        self._settings = settings
        self._event = event
        self._gateway = gateway
        self.zone = zone
        self._counters = counters
        self._open: dict[Pair, dict[int, tuple[int, int]]] = {}
        self._changes = bytearray()

    @property
    def open_pairs(self) -> int:
        """Pairs with contact windows not yet closed into a meeting."""
        return len(self._open)

    @property
    def open_windows(self) -> int:
        """Contact windows not yet closed into a meeting."""
        return sum(len(windows) for windows in self._open.values())

    def add(self, contact: Contact) -> None:
        """Take one contact window. Adding the same window twice keeps the strongest RSSI."""
        if contact.a > contact.b:  # the pairing's contacts are ordered already
            contact = Contact.of(
                contact.a, contact.b, contact.window_start, contact.rssi_a, contact.rssi_b
            )
        windows = self._open.setdefault((contact.a, contact.b), {})
        seen = windows.get(contact.window_start)
        rssi = (contact.rssi_a, contact.rssi_b)
        if seen is not None:
            rssi = (max(seen[0], rssi[0]), max(seen[1], rssi[1]))
        windows[contact.window_start] = rssi
        self._changes += _TAG_QII.pack(WINDOW, contact.window_start, *rssi) + names(
            contact.a, contact.b
        )

    def is_final(self, last_start: int, watermark: int) -> bool:
        """True when no acceptable window can extend a run whose last window starts there."""
        s = self._settings
        end = last_start + s.window_seconds
        return end + s.gap_tolerance_seconds <= watermark - s.allowed_lateness_seconds - (
            s.window_seconds
        )

    def advance(self, watermark: int) -> list[Meeting]:
        """Close every run that ``watermark`` makes final; return the meetings, sorted."""
        s = self._settings
        # is_final(last, watermark) <=> last <= limit (the same inequality, solved for last)
        limit = (
            watermark - s.allowed_lateness_seconds - 2 * s.window_seconds - s.gap_tolerance_seconds
        )
        return self._close(limit)

    def flush(self) -> list[Meeting]:
        """Close everything (end of an event, tests); return the meetings, sorted."""
        return self._close(None)

    def _close(self, limit: int | None) -> list[Meeting]:
        """Close the runs whose last window starts at or before ``limit`` (None: all)."""
        meetings: list[Meeting] = []
        # no run of a pair can be final unless its first window is (later runs end later)
        candidates = (
            self._open
            if limit is None
            else [
                pair for pair, windows in self._open.items() if not windows or min(windows) <= limit
            ]
        )
        for pair in sorted(candidates):
            windows = self._open[pair]
            for run in self._runs(sorted(windows)):
                if limit is not None and run[-1] > limit:
                    break
                meeting = self._meeting(pair, run, windows)
                if meeting is None:
                    self._counters["short_contacts"] += 1
                else:
                    meetings.append(meeting)
                for start in run:
                    del windows[start]
                self._changes += _TAG_QQ.pack(CLOSED, run[0], run[-1]) + names(*pair)
            if not windows:
                del self._open[pair]
        meetings.sort(key=lambda m: (m.first_seen, m.id))
        return meetings

    def _runs(self, starts: list[int]) -> list[list[int]]:
        window, gap = self._settings.window_seconds, self._settings.gap_tolerance_seconds
        runs: list[list[int]] = []
        for start in starts:
            if runs and start - (runs[-1][-1] + window) <= gap:
                runs[-1].append(start)
            else:
                runs.append([start])
        return runs

    def _meeting(
        self, pair: Pair, run: list[int], windows: dict[int, tuple[int, int]]
    ) -> Meeting | None:
        window = self._settings.window_seconds
        first, last_seen = run[0], run[-1] + window
        if last_seen - first < self._settings.min_meeting_seconds:
            return None
        rssi = [value for start in run for value in windows[start]]
        return Meeting(
            id=meeting_id("proximity", self._event, pair[0], pair[1], first),
            event=self._event,
            kind="proximity",
            badge_a=pair[0],
            badge_b=pair[1],
            first_seen=first,
            last_seen=last_seen,
            contact_seconds=len(run) * window,
            windows=len(run),
            gateway=self._gateway,
            zone=self.zone,
            rssi_median_dbm=round(statistics.median(rssi)),
        )

    def dump(self) -> bytes:
        """The records of every open window (a base); take pending changes first."""
        return b"".join(
            _TAG_QII.pack(WINDOW, start, ra, rb) + named
            for (a, b), windows in self._open.items()
            for named in (names(a, b),)
            for start, (ra, rb) in windows.items()
        )

    def frozen(self) -> Aggregator:
        """A copy of the open windows, whose ``dump`` may run in another thread meanwhile."""
        copy = Aggregator(
            self._settings,
            event=self._event,
            gateway=self._gateway,
            zone=self.zone,
            counters=Counter(),
        )
        copy._open = {pair: dict(windows) for pair, windows in self._open.items()}
        return copy

    def clear(self) -> None:
        """Forget every open window and any pending changes (before loading a base)."""
        self._open = {}
        self._changes.clear()

    def apply(self, tag: bytes, reader: RecordReader) -> None:
        """Replay one record (its tag already read) as the change it describes.

        Raises:
            ValueError: the record is cut off, does not parse, or ``tag`` is not ours.
        """
        if tag == WINDOW:
            start, ra, rb = reader.fields(_QII)
            pair = (reader.name(), reader.name())
            self._open.setdefault(pair, {})[start] = (ra, rb)
        elif tag == CLOSED:
            first, last = reader.fields(_QQ)
            pair = (reader.name(), reader.name())
            windows = self._open.get(pair)
            if windows is not None:
                for start in [s for s in windows if first <= s <= last]:
                    del windows[start]
                if not windows:
                    del self._open[pair]
        else:
            raise ValueError(f"contact record tag {tag!r} is not an aggregator record")

    def snapshot(self) -> dict[str, Any]:
        """Return the open windows, JSON-ready: ``[[a, b, [[start, rssi_a, rssi_b]...]]...]``."""
        return {
            "pairs": [
                [a, b, [[start, ra, rb] for start, (ra, rb) in sorted(windows.items())]]
                for (a, b), windows in sorted(self._open.items())
            ]
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot.

        Raises:
            KeyError, TypeError, ValueError: the snapshot does not fit.
        """
        self.clear()
        for a, b, windows in state["pairs"]:
            self._open[(str(a), str(b))] = {
                int(start): (int(ra), int(rb)) for start, ra, rb in windows
            }
