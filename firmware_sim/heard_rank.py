"""What each badge reports hearing: receptions ranked strongest first, capped, as JSON.

``heard_lists`` gives ``Heard`` structs (the plain path, used by replay and as the
tests' reference); ``rank_heard`` orders a window's receptions with one array sort;
``heard_json_lists`` writes every badge's list as report JSON (``HeardEncoder``). When
the sort keys fit in one integer, ``heard_json_lists`` sorts the keys themselves and
reads the entries back out of them, instead of sorting positions and gathering.
"""

from __future__ import annotations

import logging

import numpy as np

from firmware_sim.frame import Ints
from firmware_sim.heard_json import HeardEncoder
from firmware_sim.radio import MAX_DBM, MIN_DBM, Reception
from protocol.messages import MAX_HEARD, Heard

logger = logging.getLogger(__name__)


def heard_lists(reception: Reception, ephids: list[str], n: int) -> list[list[Heard]]:
    """What each of ``n`` badges heard, as ``Heard`` entries naming the senders' EphIDs."""
    heard: list[list[Heard]] = [[] for _ in range(n)]
    for r, s, median, peak, count in zip(
        reception.receiver.tolist(),
        reception.sender.tolist(),
        reception.median.tolist(),
        reception.maximum.tolist(),
        reception.count.tolist(),
        strict=True,
    ):
        heard[r].append(Heard(ephids[s], median, peak, count))
    return heard


def rank_heard(reception: Reception, ephids: list[str], n: int) -> tuple[Ints, Ints]:
    """What each of ``n`` badges reports, as positions in ``reception``: ``strongest_first``.

    Sorted by receiver, then strongest first (median, peak and count descending, EphID
    ascending), at most ``MAX_HEARD`` per receiver, all in one array sort: the five
    keys packed into one integer when they fit in 62 bits, else ``np.lexsort``.

    Returns:
        (positions, bounds): receiver ``k``'s entries are ``positions[bounds[k]:bounds[k + 1]]``.
    """
    rec = reception
    ephid_rank = _ephid_ranks(ephids, n)[1]
    packed = _packed_keys(rec, ephid_rank, n)
    if packed is not None:
        # The keys are distinct (the EphID ranks differ), so any sort gives this order;
        # the stable one (timsort) uses the runs the radio leaves and is the fastest here.
        order = np.argsort(packed[0], kind="stable")
    else:
        order = np.lexsort(
            (ephid_rank[rec.sender], -rec.count, -rec.maximum, -rec.median, rec.receiver)
        )
    receiver = rec.receiver[order]
    first = np.searchsorted(receiver, np.arange(n + 1))
    is_kept = np.arange(order.shape[0]) - first[receiver] < MAX_HEARD
    return order[is_kept], np.searchsorted(receiver[is_kept], np.arange(n + 1))


def heard_json_lists(
    reception: Reception, ephids: list[str], n: int, encoder: HeardEncoder
) -> list[bytes]:
    """Each of ``n`` badges' heard list as report JSON: ``strongest_first`` of ``heard_lists``.

    With packable keys (``rank_heard``) the keys themselves are sorted and every field
    of the kept entries is read back out of them: the same entries in the same order as
    gathering ``rank_heard``'s positions (equal keys would mean equal entries), with no
    positions to sort or gather.
    """
    rec = reception
    by_rank, ephid_rank = _ephid_ranks(ephids, n)
    packed = _packed_keys(rec, ephid_rank, n)
    if packed is None:
        kept, bounds = rank_heard(rec, ephids, n)
        return encoder.encode_lists(
            ephids, rec.sender[kept], rec.median[kept], rec.maximum[kept], rec.count[kept], bounds
        )
    key, count_bits, badge_bits = packed
    key = np.sort(key, kind="stable")  # (timsort: the fastest here, as in rank_heard)
    low = badge_bits + count_bits
    receiver = key >> (low + 16)
    first = np.searchsorted(receiver, np.arange(n + 1))
    is_kept = np.arange(key.shape[0]) - first[receiver] < MAX_HEARD
    key = key[is_kept]
    bounds = np.searchsorted(receiver[is_kept], np.arange(n + 1))
    count_mask = (1 << count_bits) - 1
    return encoder.encode_lists(
        ephids,
        by_rank[key & ((1 << badge_bits) - 1)],
        MAX_DBM - ((key >> (low + 8)) & 255),
        MAX_DBM - ((key >> low) & 255),
        count_mask - ((key >> badge_bits) & count_mask),
        bounds,
    )


def _ephid_ranks(ephids: list[str], n: int) -> tuple[Ints, Ints]:
    """(badge of each EphID rank, EphID rank of each badge): ranks in ascending EphID order."""
    by_rank = np.argsort(np.array(ephids), kind="stable")
    ephid_rank = np.empty(n, dtype=np.int64)
    ephid_rank[by_rank] = np.arange(n)
    return by_rank, ephid_rank


def _packed_keys(rec: Reception, ephid_rank: Ints, n: int) -> tuple[Ints, int, int] | None:
    """Each reception's sort key as one integer, or None when the parts do not fit 62 bits.

    From the top: receiver, ``MAX_DBM`` - median (8 bits), ``MAX_DBM`` - maximum (8 bits),
    the count's complement (``count_bits``), the sender's EphID rank (``badge_bits``).

    Returns:
        (keys, count_bits, badge_bits), or None.
    """
    badge_bits = max(1, n.bit_length())
    count_bits = int(rec.count.max()).bit_length() if len(rec) else 1
    is_packable = (
        2 * badge_bits + 16 + count_bits <= 62
        and not (len(rec) and (rec.median.min() < MIN_DBM or rec.maximum.min() < MIN_DBM))
        and not (len(rec) and (rec.median.max() > MAX_DBM or rec.maximum.max() > MAX_DBM))
    )
    if not is_packable:
        return None
    key = rec.receiver
    for part, bits in (
        (MAX_DBM - rec.median, 8),
        (MAX_DBM - rec.maximum, 8),
        ((1 << count_bits) - 1 - rec.count, count_bits),
        (ephid_rank[rec.sender], badge_bits),
    ):
        key = (key << bits) | part
    return key, count_bits, badge_bits
