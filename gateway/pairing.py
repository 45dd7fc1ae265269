"""Pairing the two halves of an encounter: reports become contact windows, tap halves taps.

Pure: no I/O, no clock. A *half-contact* (A->B, w) is A hearing, in window w, an EphID
that resolves to B at or above the event's RSSI threshold. When both (A->B, w) and
(B->A, w) exist, the pair is in contact during w; that ``Contact`` is emitted once.
Halves whose window can no longer be completed are dropped and counted as evidence.

Every change to that state is also written as a binary record (``gateway.record``) to a
buffer that ``take_changes`` hands to the journal's contact log, so a checkpoint writes
only what changed; ``dump`` writes the records that rebuild the whole state (a *base*)
and ``apply`` replays one record, so base + log give back exactly the same state.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass
from typing import Any

from gateway.record import ChangeRecords, RecordReader, names
from gateway.registry import BadgeRegistry
from protocol.api import Meeting, Registry
from protocol.ids import epoch_of, meeting_id
from protocol.messages import SightingReport, TapHalf, TapTranscript

HALF = b"H"
"""Record: half-contact (hearer -> heard, window w) now has this RSSI. ``>qi`` w, rssi; names."""
CONTACT = b"C"
"""Record: pair (a, b) contacted in window w, both halves gone. ``>q`` w; names a, b."""
EXPIRE = b"X"
"""Record: everything of windows and taps at or before the horizon dropped. ``>q`` horizon."""
TAP_HALF = b"T"
"""Record: a tap transcript was sent by a badge. ``>q`` t; names a, b, nonce_a, nonce_b, sender."""
TAP_DONE = b"U"
"""Record: a tap transcript is complete (forgotten). ``>q`` t; names a, b, nonce_a, nonce_b."""
RECORD_TAGS = (HALF, CONTACT, EXPIRE, TAP_HALF, TAP_DONE)

RESOLVED_EPOCHS = 4
"""EphID epochs whose resolutions are cached (the oldest created is dropped first)."""
_RESOLVED_MIN = 1024
"""An epoch caches at most this many EphIDs plus two per registered badge (junk EphIDs)."""

_UNSEEN = "\x00unseen"  # not a badge id (ids are [A-Za-z0-9_-]): an EphID not yet resolved
_TAG_Q = struct.Struct(">cq")
_TAG_QI = struct.Struct(">cqi")
_Q = struct.Struct(">q")
_QI = struct.Struct(">qi")


@dataclass(frozen=True, slots=True)
class Contact:
    """Badges ``a < b`` were mutually in range during the window starting at ``window_start``.

    ``rssi_a`` is what ``a`` measured of ``b`` (median dBm), ``rssi_b`` the reverse.
    """

    a: str
    b: str
    window_start: int
    rssi_a: int
    rssi_b: int

    @classmethod
    def of(cls, x: str, y: str, window_start: int, rssi_x: int, rssi_y: int) -> Contact:
        """Build a contact from two badges in any order."""
        if x <= y:
            return cls(x, y, window_start, rssi_x, rssi_y)
        return cls(y, x, window_start, rssi_y, rssi_x)


class Pairing(ChangeRecords):
    """Matches half-contacts into contacts and tap halves into tap meetings.

    Args:
        registry: resolves EphIDs; provides the event's settings, event, gateway and zone.
        counters: shared counters (heard_below_threshold, unresolved_ephid, single_sided, ...).
    """

    def __init__(self, registry: BadgeRegistry, counters: Counter[str]) -> None:
        self._registry = registry
        self._counters = counters
        self._halves: dict[int, dict[tuple[str, str], int]] = {}
        self._contacted: dict[int, set[tuple[str, str]]] = {}
        self._taps: dict[TapTranscript, set[str]] = {}
        self._changes = bytearray()
        # EphID (hex, as in reports) -> badge or None, per EphID epoch (a resolution depends
        # on the window only through its epoch): every badge near another hears it, so each
        # EphID comes back in many reports of its epoch. Forgotten whenever the registry is
        # refreshed (revoked badges stop resolving).
        self._resolved: dict[int, dict[str, str | None]] = {}
        self._resolved_for: Registry | None = None
        self._resolved_max = 0
        settings = registry.settings  # fixed for the registry's lifetime (see its update)
        self._threshold = settings.rssi_threshold_dbm
        self._rotation = settings.ephid_rotation_seconds
        epoch_of(0, self._rotation)  # the same check as every resolution's: valid rotation

    @property
    def pending_halves(self) -> int:
        """Half-contacts still waiting for their other half."""
        return sum(len(halves) for halves in self._halves.values())

    @property
    def pending_taps(self) -> int:
        """Tap transcripts seen from one badge only, so far."""
        return len(self._taps)

    def add_report(self, report: SightingReport) -> list[Contact]:
        """Take a verified report; return the contacts it completes."""
        heard = self._strongest_heard(report)
        if not heard:
            return []
        w = report.window_start
        halves = self._halves.setdefault(w, {})
        contacted = self._contacted.setdefault(w, set())
        contacts: list[Contact] = []
        me = report.badge
        changes = self._changes
        for other, rssi in sorted(heard.items()):
            pair = (me, other) if me <= other else (other, me)
            if pair in contacted:
                continue
            back = halves.pop((other, me), None)
            if back is None:
                key = (me, other)
                value = halves[key] = max(rssi, halves.get(key, rssi))
                changes += _TAG_QI.pack(HALF, w, value) + names(me, other)
                continue
            halves.pop((me, other), None)
            contacted.add(pair)
            changes += _TAG_Q.pack(CONTACT, w) + names(*pair)
            # Contact.of, ordered already
            if me <= other:
                contacts.append(Contact(me, other, w, rssi, back))
            else:
                contacts.append(Contact(other, me, w, back, rssi))
        return contacts

    def _strongest_heard(self, report: SightingReport) -> dict[str, int]:
        """Badges heard at or above the threshold, with the strongest median per badge."""
        registry = self._registry
        threshold = self._threshold
        resolved = self._resolved_in(report.window_start)
        room = len(resolved) < self._resolved_max
        me = report.badge
        strongest: dict[str, int] = {}
        unresolved = self_sighting = below = 0
        for entry in report.heard:
            ephid = entry.ephid
            other = resolved.get(ephid, _UNSEEN)
            if other is _UNSEEN:
                other = registry.resolve(bytes.fromhex(ephid), report.window_start)
                if room:
                    resolved[ephid] = other
            if other is None:
                unresolved += 1
            elif other == me:
                self_sighting += 1
            elif entry.rssi_median < threshold:
                below += 1
            else:
                rssi = entry.rssi_median
                seen = strongest.get(other)
                strongest[other] = rssi if seen is None or rssi > seen else seen
        counters = self._counters
        if unresolved:
            counters["unresolved_ephid"] += unresolved
        if self_sighting:
            counters["self_sighting"] += self_sighting
        if below:
            counters["heard_below_threshold"] += below
        return strongest

    def _resolved_in(self, window_start: int) -> dict[str, str | None]:
        """The EphID resolutions cached for a window's epoch (forgotten on a registry refresh)."""
        current = self._registry.registry
        if current is not self._resolved_for:
            self._resolved.clear()
            self._resolved_for = current
            self._resolved_max = _RESOLVED_MIN + 2 * len(self._registry)
        epoch = window_start // self._rotation  # epoch_of, its check done once in __init__
        resolved = self._resolved.get(epoch)
        if resolved is None:
            resolved = self._resolved[epoch] = {}
            while len(self._resolved) > RESOLVED_EPOCHS:
                del self._resolved[next(iter(self._resolved))]
        return resolved

    def add_tap(self, half: TapHalf) -> Meeting | None:
        """Take a verified tap half; return the tap meeting when both halves are in."""
        transcript = half.transcript
        senders = self._taps.setdefault(transcript, set())
        senders.add(half.badge)
        if senders != {transcript.badge_a, transcript.badge_b}:
            self._changes += _tap_record(TAP_HALF, transcript, half.badge)
            return None
        del self._taps[transcript]
        self._changes += _tap_record(TAP_DONE, transcript)
        event = self._registry.event
        return Meeting(
            id=meeting_id("tap", event, transcript.badge_a, transcript.badge_b, transcript.t),
            event=event,
            kind="tap",
            badge_a=transcript.badge_a,
            badge_b=transcript.badge_b,
            first_seen=transcript.t,
            last_seen=transcript.t,
            contact_seconds=0,
            windows=0,
            gateway=self._registry.gateway,
            zone=self._registry.zone,
        )

    def expire(self, watermark: int) -> None:
        """Drop what can no longer be completed once event time reached ``watermark``.

        A report for window w is stale once ``w + window <= watermark - lateness``, so
        a half of such a window will never meet its other half (counted ``single_sided``).
        Tap halves use the same horizon on the tap time (``single_sided_taps``).
        """
        settings = self._registry.settings
        horizon = watermark - settings.allowed_lateness_seconds - settings.window_seconds
        halves, taps = self._drop_through(horizon)
        if halves >= 0:
            self._counters["single_sided"] += halves
            self._counters["single_sided_taps"] += taps
            self._changes += _TAG_Q.pack(EXPIRE, horizon)

    def _drop_through(self, horizon: int) -> tuple[int, int]:
        """Drop windows and taps at or before ``horizon``; return (halves, taps) dropped.

        Halves are -1 when nothing at all was there to drop.
        """
        windows = [w for w in self._halves if w <= horizon]
        windows += [w for w in self._contacted if w <= horizon and w not in self._halves]
        transcripts = [t for t in self._taps if t.t <= horizon]
        if not windows and not transcripts:
            return -1, 0
        halves = 0
        for w in windows:
            halves += len(self._halves.pop(w, ()))
            self._contacted.pop(w, None)
        for transcript in transcripts:
            del self._taps[transcript]
        return halves, len(transcripts)

    def dump(self) -> bytes:
        """The records that rebuild the whole state (a base); take pending changes first."""
        parts: list[bytes] = []
        for w, pairs in self._contacted.items():
            head = _TAG_Q.pack(CONTACT, w)
            parts.extend(head + names(a, b) for a, b in pairs)
        for w, halves in self._halves.items():
            for (hearer, heard), rssi in halves.items():
                parts.append(_TAG_QI.pack(HALF, w, rssi) + names(hearer, heard))
        for transcript, senders in self._taps.items():
            parts.extend(_tap_record(TAP_HALF, transcript, sender) for sender in sorted(senders))
        return b"".join(parts)

    def frozen(self) -> Pairing:
        """A copy of the state alone, whose ``dump`` may run in another thread meanwhile.

        Costs a copy of the containers (no records are built); take pending changes first.
        """
        copy = Pairing(self._registry, Counter())
        copy._halves = {w: dict(halves) for w, halves in self._halves.items()}
        copy._contacted = {w: set(pairs) for w, pairs in self._contacted.items()}
        copy._taps = {transcript: set(senders) for transcript, senders in self._taps.items()}
        return copy

    def clear(self) -> None:
        """Forget the whole state and any pending changes (before loading a base)."""
        self._halves = {}
        self._contacted = {}
        self._taps = {}
        self._changes.clear()

    def apply(self, tag: bytes, reader: RecordReader) -> None:
        """Replay one record (its tag already read) as the change it describes.

        Raises:
            ValueError: the record is cut off, does not parse, or ``tag`` is not ours.
        """
        if tag == HALF:
            w, rssi = reader.fields(_QI)
            hearer, heard = reader.name(), reader.name()
            self._halves.setdefault(w, {})[(hearer, heard)] = rssi
        elif tag == CONTACT:
            (w,) = reader.fields(_Q)
            a, b = reader.name(), reader.name()
            halves = self._halves.setdefault(w, {})
            halves.pop((a, b), None)
            halves.pop((b, a), None)
            self._contacted.setdefault(w, set()).add((a, b))
        elif tag == EXPIRE:
            (horizon,) = reader.fields(_Q)
            self._drop_through(horizon)
        elif tag in (TAP_HALF, TAP_DONE):
            (t,) = reader.fields(_Q)
            a, b, nonce_a, nonce_b = (reader.name() for _ in range(4))
            transcript = TapTranscript(badge_a=a, badge_b=b, nonce_a=nonce_a, nonce_b=nonce_b, t=t)
            if tag == TAP_HALF:
                self._taps.setdefault(transcript, set()).add(reader.name())
            else:
                self._taps.pop(transcript, None)
        else:
            raise ValueError(f"contact record tag {tag!r} is not a pairing record")

    def snapshot(self) -> dict[str, Any]:
        """Return pending halves, emitted pairs of open windows and pending taps, JSON-ready."""
        return {
            "halves": [
                [w, hearer, heard, rssi]
                for w, halves in sorted(self._halves.items())
                for (hearer, heard), rssi in sorted(halves.items())
            ],
            "contacted": [
                [w, a, b] for w, pairs in sorted(self._contacted.items()) for a, b in sorted(pairs)
            ],
            "taps": [
                [t.badge_a, t.badge_b, t.nonce_a, t.nonce_b, t.t, sorted(senders)]
                for t, senders in self._taps.items()
            ],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot.

        Raises:
            KeyError, TypeError, ValueError: the snapshot does not fit.
        """
        self.clear()
        for w, hearer, heard, rssi in state["halves"]:
            self._halves.setdefault(int(w), {})[(str(hearer), str(heard))] = int(rssi)
        for w, a, b in state["contacted"]:
            self._contacted.setdefault(int(w), set()).add((str(a), str(b)))
        for a, b, nonce_a, nonce_b, t, senders in state["taps"]:
            transcript = TapTranscript(
                badge_a=str(a), badge_b=str(b), nonce_a=str(nonce_a), nonce_b=str(nonce_b), t=int(t)
            )
            self._taps[transcript] = {str(s) for s in senders}


def _tap_record(tag: bytes, transcript: TapTranscript, sender: str | None = None) -> bytes:
    t = transcript
    named = (t.badge_a, t.badge_b, t.nonce_a, t.nonce_b) + ((sender,) if sender else ())
    return _TAG_Q.pack(tag, t.t) + names(*named)
