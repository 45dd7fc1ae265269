"""Replay memory: per badge, the highest seq and digests of the last ``WINDOW`` seqs.

docs/protocol.md section 7: the same badge, seq and bytes again is a duplicate; a seq
seen before with other bytes, or at or below ``highest - WINDOW``, is a replay. Each
badge has a ring of ``WINDOW`` 8-byte digests (slot = seq % WINDOW) and a bitmask of
the slots in use, so a full badge costs about 2 KB however long the event runs.

Persistence is incremental (the checkpoint cost must not grow with the number of
badges): every ``record`` also appends a small binary *change* (badge, seq, digest) to
a buffer that ``take_changes`` hands to the journal, which appends it to a log. Now and
then the journal asks for a *base* (``dump``: every window) and starts a new log.
``load(base, log)`` rebuilds exactly the memory that produced them: applying the
changes after the base repeats the same ``record`` calls in the same order.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator, Mapping
from typing import Any

WINDOW = 256
"""Sequence numbers remembered per badge; anything at or below highest - WINDOW is a replay."""
DIGEST_LEN = 8

NEW = "new"
DUPLICATE = "duplicate"
REPLAY = "replay"

_ALL = (1 << WINDOW) - 1
_SEQ = struct.Struct(">Q")
_MASK_LEN = WINDOW // 8


class _Window:
    """One badge: highest seq, a ring of digests, and which slots hold a seq in the window."""

    __slots__ = ("highest", "present", "ring", "prefix")

    def __init__(self, badge: str) -> None:
        self.highest = -1
        self.present = 0
        self.ring = bytearray(WINDOW * DIGEST_LEN)
        name = badge.encode()
        self.prefix = bytes((len(name),)) + name
        """The badge's part of each change record (id length and id), built once."""

    def classify(self, seq: int, digest: bytes) -> str:
        if seq > self.highest:
            return NEW
        if seq <= self.highest - WINDOW:
            return REPLAY
        slot = seq % WINDOW
        if not self.present >> slot & 1:
            return NEW
        at = slot * DIGEST_LEN
        return DUPLICATE if self.ring[at : at + DIGEST_LEN] == digest else REPLAY

    def record(self, seq: int, digest: bytes) -> None:
        if seq > self.highest:
            step = seq - self.highest
            if self.highest < 0 or step >= WINDOW:
                self.present = 0
            else:
                # the slots of seqs highest+1 .. seq held seqs that now leave the window
                first = (self.highest + 1) % WINDOW
                mask = (1 << step) - 1
                mask = (mask << first | mask >> (WINDOW - first)) & _ALL
                self.present &= ~mask
            self.highest = seq
        elif seq <= self.highest - WINDOW:
            return  # out of the window: never stored (keeps re-applied changes harmless)
        slot = seq % WINDOW
        self.present |= 1 << slot
        self.ring[slot * DIGEST_LEN : (slot + 1) * DIGEST_LEN] = digest

    def entries(self) -> Iterator[tuple[int, bytes]]:
        """(seq, digest) of every seq in the window, oldest first."""
        for seq in range(max(0, self.highest - WINDOW + 1), self.highest + 1):
            slot = seq % WINDOW
            if self.present >> slot & 1:
                yield seq, bytes(self.ring[slot * DIGEST_LEN : (slot + 1) * DIGEST_LEN])


class ReplayMemory:
    """What the verifier remembers of each badge's seqs, with its change log for the journal."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._changes = bytearray()

    def __len__(self) -> int:
        """How many badges it remembers."""
        return len(self._windows)

    def classify(self, badge: str, seq: int, digest: bytes) -> str:
        """Return NEW, DUPLICATE or REPLAY for a message of ``badge``."""
        window = self._windows.get(badge)
        return window.classify(seq, digest) if window is not None else NEW

    def record(self, badge: str, seq: int, digest: bytes) -> None:
        """Remember an accepted message (and log the change for the next checkpoint)."""
        if len(digest) != DIGEST_LEN:
            raise ValueError(f"digest must be {DIGEST_LEN} bytes")
        window = self._windows.get(badge)
        if window is None:
            window = self._windows[badge] = _Window(badge)
        window.record(seq, digest)
        self._changes += window.prefix + _SEQ.pack(seq) + digest

    def _apply(self, badge: str, seq: int, digest: bytes) -> _Window:
        window = self._windows.get(badge)
        if window is None:
            window = self._windows[badge] = _Window(badge)
        window.record(seq, digest)
        return window

    @property
    def pending_changes(self) -> int:
        """Bytes of changes not yet taken."""
        return len(self._changes)

    def take_changes(self) -> bytes:
        """Return the changes recorded since the last call (for the journal), and forget them."""
        changes = bytes(self._changes)
        self._changes.clear()
        return changes

    def dump(self) -> bytes:
        """Every window as one *base* blob (pending changes are included, so take them first).

        Per badge: id length, id, highest seq, the slot bitmask and the ring, about 2 KB.
        """
        parts: list[bytes] = []
        for badge, window in self._windows.items():
            name = badge.encode()
            parts.append(bytes((len(name),)) + name + _SEQ.pack(window.highest))
            parts.append(window.present.to_bytes(_MASK_LEN, "big"))
            parts.append(bytes(window.ring))
        return b"".join(parts)

    def load(self, base: bytes, log: bytes) -> None:
        """Replace the memory with ``base`` plus the changes in ``log`` (pending changes too).

        Raises:
            ValueError: a blob is cut off or does not parse.
        """
        self._windows = {}
        self._changes.clear()
        view = memoryview(base)
        at = 0
        while at < len(view):
            badge, at = _name(view, at)
            end = at + _SEQ.size + _MASK_LEN + WINDOW * DIGEST_LEN
            if end > len(view):
                raise ValueError("replay base is cut off")
            window = self._windows[badge] = _Window(badge)
            (window.highest,) = _SEQ.unpack_from(view, at)
            at += _SEQ.size
            window.present = int.from_bytes(view[at : at + _MASK_LEN], "big")
            window.ring[:] = view[at + _MASK_LEN : end]
            at = end
        view = memoryview(log)
        at = 0
        while at < len(view):
            badge, at = _name(view, at)
            end = at + _SEQ.size + DIGEST_LEN
            if end > len(view):
                raise ValueError("replay log is cut off")
            (seq,) = _SEQ.unpack_from(view, at)
            self._apply(badge, seq, bytes(view[at + _SEQ.size : end]))
            at = end

    def load_packed(self, packed: Mapping[str, Any]) -> None:
        """Load the older JSON form ``{badge: [highest, base64(offset + digest, ...)]}``.

        Raises:
            TypeError, ValueError: it does not parse.
        """
        self.load(b"", b"")
        for badge, (highest, blob) in packed.items():
            raw = base64.b64decode(str(blob), validate=True)
            if len(raw) % (1 + DIGEST_LEN):
                raise ValueError("replay state has a partial entry")
            top = int(highest)
            for i in range(0, len(raw), 1 + DIGEST_LEN):
                if top < raw[i]:
                    raise ValueError("replay state has a negative seq")
                self._apply(str(badge), top - raw[i], raw[i + 1 : i + 1 + DIGEST_LEN])
            window = self._windows.get(str(badge))
            if window is None or window.highest != top:
                raise ValueError("replay state lacks the digest of its highest seq")


def _name(view: memoryview, at: int) -> tuple[str, int]:
    size = view[at]
    end = at + 1 + size
    if size == 0 or end > len(view):
        raise ValueError("replay blob is cut off")
    try:
        return bytes(view[at + 1 : end]).decode("ascii"), end
    except UnicodeDecodeError as exc:
        raise ValueError("replay blob holds a badge id that is not ASCII") from exc
