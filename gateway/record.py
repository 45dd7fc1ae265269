"""Binary change records: how the contact state is written to its append-only log.

The pairing (pending half-contacts and taps) and the aggregator (open contact windows)
describe each change to their state as one *record*: a one-byte tag, fixed-size integer
fields (big-endian, ``struct``) and then names (badge ids, nonces: one length byte and the
ASCII bytes). A *base* is the same records, the ones that rebuild the whole state from
nothing, so loading is always "apply base, then apply log", record by record, in order.

Records are written by the hot path (one or two per accepted report), so building one is
a ``struct.pack`` and a few byte concatenations. Reading checks every length: a record cut
off anywhere, an unknown tag or a name that is not ASCII raises ``ValueError``.

Pure: no I/O.
"""

from __future__ import annotations

import functools
import struct

__all__ = ["ChangeRecords", "RecordReader", "names"]


@functools.lru_cache(maxsize=1 << 15)
def names(*values: str) -> bytes:
    """The names part of a record: per name one length byte (1..255) and its ASCII bytes.

    Cached: the same pairs of badge ids come again and again (at every report of a pair,
    and for every window of a base), and building the bytes costs more than a lookup.
    """
    parts = []
    for value in values:
        raw = value.encode("ascii")
        if not 0 < len(raw) < 256:
            raise ValueError(f"a record name must be 1-255 bytes, not {len(raw)}")
        parts.append(bytes((len(raw),)) + raw)
    return b"".join(parts)


class ChangeRecords:
    """Mixin for state that records its changes: ``self._changes`` holds the records
    appended since the journal last took them (the owner creates it in ``__init__``)."""

    _changes: bytearray

    def take_changes(self) -> bytes:
        """Return the change records since the last call (for the journal), and forget them."""
        changes = bytes(self._changes)
        self._changes.clear()
        return changes

    @property
    def pending_changes(self) -> int:
        """Bytes of change records not yet taken."""
        return len(self._changes)


class RecordReader:
    """Reads the records of one blob, field by field.

    Args:
        blob: a base or log.
        what: what the blob holds, for error messages ("contact log").
    """

    def __init__(self, blob: bytes, what: str) -> None:
        self._view = memoryview(blob)
        self._at = 0
        self._what = what

    @property
    def is_done(self) -> bool:
        """True once every byte was read."""
        return self._at >= len(self._view)

    @property
    def offset(self) -> int:
        """Bytes read so far (the end of the last whole field)."""
        return self._at

    def tag(self) -> bytes:
        """The next record's tag (one byte)."""
        return bytes(self._take(1))

    def fields(self, layout: struct.Struct) -> tuple[int, ...]:
        """The next fixed-size fields."""
        values: tuple[int, ...] = layout.unpack(self._take(layout.size))
        return values

    def name(self) -> str:
        """The next name."""
        (size,) = self._take(1)
        if size == 0:
            raise ValueError(f"{self._what} holds an empty name at byte {self._at}")
        try:
            return bytes(self._take(size)).decode("ascii")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{self._what} holds a name that is not ASCII") from exc

    def _take(self, size: int) -> memoryview:
        end = self._at + size
        if end > len(self._view):
            raise ValueError(f"{self._what} is cut off at byte {self._at} of {len(self._view)}")
        chunk = self._view[self._at : end]
        self._at = end
        return chunk
