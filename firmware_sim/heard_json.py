"""Heard lists as report JSON, written with array operations (``HeardEncoder``).

A seated 10,000-badge hall reports about 300,000 heard entries per window; writing
them through ``msgspec`` structs one by one would cost more than signing them, so the
bytes are assembled from per-sender and per-statistics pieces instead.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

_HEAD_LEN = len(b'["') + 32 + len(b'",')
"""An entry up to its statistics: ``["<32 hex>",``."""
_PAD = b"\x00"
"""Fills the rows of ``HeardEncoder`` after each entry; removed afterwards."""
_OPEN, _CLOSE = ord("["), ord("]")
_DENSE_COUNTS = 64
"""Up to this many samples per window, ``_distinct_stats`` uses a table (65,536 x 64 at most)."""


class HeardEncoder:
    """Writes ranked heard lists straight to the JSON ``SightingReport`` bodies use.

    Each entry is an array, ``["<ephid>",median,max,count]`` (``Heard`` is array-like).
    The bytes are exactly what ``msgspec`` writes for the ``Heard`` structs (checked in
    tests/unit/firmware_sim/test_sim_radio_reports.py), without building 64 structs per report:
    the part that names the EphID is made once per sender and window, the RSSI part
    once per distinct (median, max, count) for the whole run, and the entries are
    assembled with array operations.
    """

    def __init__(self) -> None:
        self._tails: dict[int, bytes] = {}

    def encode_lists(
        self,
        ephids: list[str],
        sender: npt.NDArray[np.int64],
        median: npt.NDArray[np.int64],
        maximum: npt.NDArray[np.int64],
        count: npt.NDArray[np.int64],
        bounds: npt.NDArray[np.int64],
    ) -> list[bytes]:
        """The JSON array of each receiver's entries (arrays themselves), in the order given.

        Args:
            ephids: EphID (hex) of every badge, indexed by sender.
            sender, median, maximum, count: the entries (parallel arrays), grouped by
                receiver; receiver ``k``'s are ``bounds[k]:bounds[k + 1]``.
            bounds: ``n + 1`` ascending positions for ``n`` receivers.

        Raises:
            ValueError: an RSSI outside the protocol's dBm range or a count below 1.
        """
        if median.size and (
            min(int(median.min()), int(maximum.min())) < -128
            or max(int(median.max()), int(maximum.max())) > 127
            or not 1 <= int(count.min()) <= int(count.max()) < 1 << 24
        ):
            raise ValueError("heard entries out of range")
        distinct, which = _distinct_stats(median, maximum, count)
        tails = [self._tail(k) for k in distinct.tolist()]
        width = max((len(t) for t in tails), default=1)
        tail_rows = b"".join(t.ljust(width, _PAD) for t in tails)
        head_rows = b"".join(b'["' + e.encode() + b'",' for e in ephids)
        if len(head_rows) != _HEAD_LEN * len(ephids) or _PAD in head_rows:
            raise ValueError("every EphID must be 32 hex characters")
        # One row per entry: "[" (a receiver's first entry) or padding, head, tail (ending
        # in ",", "]" for a receiver's last entry), padding; then drop the padding (a byte
        # that JSON of ASCII EphIDs and numbers never contains): each receiver's list is
        # then one slice of the result.
        rows = np.empty((sender.shape[0], 1 + _HEAD_LEN + width), dtype=np.uint8)
        rows[:, 0] = _PAD[0]
        rows[:, 1 : 1 + _HEAD_LEN] = np.frombuffer(head_rows, np.uint8).reshape(-1, _HEAD_LEN)[
            sender
        ]
        rows[:, 1 + _HEAD_LEN :] = np.frombuffer(tail_rows, np.uint8).reshape(-1, width)[which]
        tail_len = np.array([len(t) for t in tails], dtype=np.int64)[which]
        is_listed = bounds[1:] > bounds[:-1]
        first, last = bounds[:-1][is_listed], bounds[1:][is_listed] - 1
        rows[first, 0] = _OPEN
        rows[last, _HEAD_LEN + tail_len[last]] = _CLOSE  # the last entry's ","
        length = _HEAD_LEN + tail_len
        length[first] += 1
        flat = rows.tobytes().replace(_PAD, b"")  # (memchr-based: faster than translate)
        ends = np.concatenate([[0], np.cumsum(length)])[bounds].tolist()
        return [flat[a:b] if b > a else b"[]" for a, b in zip(ends[:-1], ends[1:], strict=True)]

    def _tail(self, key: int) -> bytes:
        tail = self._tails.get(key)
        if tail is None:
            stats = (key >> 32) - 128, ((key >> 24) & 255) - 128, key & ((1 << 24) - 1)
            tail = b"%d,%d,%d]," % stats
            self._tails[key] = tail
        return tail


def _distinct_stats(
    median: npt.NDArray[np.int64], maximum: npt.NDArray[np.int64], count: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """The distinct (median, maximum, count) as ``HeardEncoder`` keys, and each entry's one.

    Like ``np.unique(key, return_inverse=True)``, without sorting: the medians and maxima
    take 256 values each, so unless a count is huge the keys index a small table.
    """
    pair = (median + 128) * 256 + (maximum + 128)
    top = int(count.max()) + 1 if count.size else 1
    if top > _DENSE_COUNTS:
        distinct, which = np.unique(pair * (1 << 24) + count, return_inverse=True)
        return distinct, which.reshape(-1)
    code = pair * top + count
    seen = np.zeros(65536 * top, dtype=bool)
    seen[code] = True
    codes = np.flatnonzero(seen)
    position = np.empty(seen.shape[0], dtype=np.intp)
    position[codes] = np.arange(codes.shape[0])
    distinct = (codes // top) * (1 << 24) + codes % top
    return distinct, position[code]
