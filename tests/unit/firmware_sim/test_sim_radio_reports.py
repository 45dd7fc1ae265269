"""From receptions to report bodies: the array path gives exactly what the struct path gives.

``heard_json_lists`` (one array sort, JSON written by ``HeardEncoder``) and
``Badge.report_encoded`` must produce the same bytes as ``heard_lists``,
``strongest_first`` and ``Badge.report``, for any crowd.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.badge import Badge, strongest_first
from firmware_sim.heard_json import HeardEncoder
from firmware_sim.heard_rank import heard_json_lists, heard_lists, rank_heard
from firmware_sim.radio import MAX_DBM, MIN_DBM, RealisticRadio, Reception
from gateway.report_decoder import ReportDecoder
from protocol.encoding import decode_body, encode_body, encode_json, open_envelope
from protocol.messages import MAX_HEARD, Heard, SightingReport
from protocol.topics import BadgeChannel, badge_topic, parse_badge_topic
from tests.unit.firmware_sim.fakes import make_bundles, verifiers
from tests.unit.firmware_sim.frames import frame_of

T0 = 1780563600


def _crowd_reception(n: int, seed: int, side: float) -> Reception:
    rng = np.random.default_rng(seed)
    people = [
        (float(x), float(y), float(h))
        for (x, y), h in zip(rng.uniform(0, side, (n, 2)), rng.uniform(-180, 180, n), strict=True)
    ]
    return RealisticRadio.create(n, rng).receive(frame_of(people))


def _ephids(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [bytes(rng.integers(0, 256, 16, dtype=np.uint8)).hex() for _ in range(n)]


def _expected(reception: Reception, ephids: list[str], n: int) -> list[bytes]:
    return [encode_json(strongest_first(h)) for h in heard_lists(reception, ephids, n)]


@settings(deadline=None, max_examples=40)
@given(st.integers(2, 150), st.integers(0, 2**32 - 1), st.floats(2.0, 40.0))
def test_heard_json_lists_equal_the_struct_path(n: int, seed: int, side: float) -> None:
    reception = _crowd_reception(n, seed, side)
    ephids = _ephids(n, seed)
    assert heard_json_lists(reception, ephids, n, HeardEncoder()) == _expected(reception, ephids, n)


_HEX = "0123456789abcdef"
_EPHID = st.one_of(
    st.sampled_from(["a" * 32, "b" * 32, "0" * 32]),  # shared EphIDs: ties across senders
    st.text(_HEX, min_size=32, max_size=32),
)
_ENTRY = st.tuples(
    st.integers(0, 2**16),  # receiver, sender (taken modulo n)
    st.integers(0, 2**16),
    st.integers(-128, 127),  # median, maximum: beyond MIN_DBM/MAX_DBM too (lexsort path)
    st.integers(-128, 127),
    st.one_of(st.integers(1, 40), st.integers(1, 2**23 - 1)),  # count
)


@settings(deadline=None, max_examples=150)
@given(
    st.lists(_EPHID, min_size=1, max_size=12),
    st.lists(_ENTRY, max_size=300),
    st.booleans(),
)
def test_heard_json_lists_equal_the_struct_path_for_any_entries(
    ephids: list[str], entries: list[tuple[int, int, int, int, int]], in_range: bool
) -> None:
    # Any receptions: repeated pairs and statistics, equal EphIDs, lists over MAX_HEARD,
    # keys that pack into one integer (the keys are sorted and read back) or do not.
    n = len(ephids)
    low, high = (MIN_DBM, MAX_DBM) if in_range else (-128, 127)
    rows = [
        (r % n, s % n, min(max(med, low), high), min(max(peak, low), high), c)
        for r, s, med, peak, c in entries
    ]
    columns = list(zip(*rows, strict=True)) or [()] * 5
    receiver, sender, median, maximum, count = (np.array(c, dtype=np.int64) for c in columns)
    reception = Reception(receiver, sender, median, maximum, count)
    assert heard_json_lists(reception, ephids, n, HeardEncoder()) == _expected(reception, ephids, n)


def test_a_dense_crowd_is_capped_at_max_heard_strongest_first() -> None:
    n = 400
    reception = _crowd_reception(n, 3, 12.0)
    ephids = _ephids(n, 3)
    lists = heard_json_lists(reception, ephids, n, HeardEncoder())
    assert lists == _expected(reception, ephids, n)
    kept, bounds = rank_heard(reception, ephids, n)
    sizes = np.diff(bounds)
    assert sizes.max() == MAX_HEARD  # the crowd is dense enough to need the cap
    assert sizes.sum() == kept.size


def test_ties_fall_back_to_the_ephid_and_huge_counts_to_lexsort() -> None:
    # Equal statistics: order by EphID. Counts of 2**40 do not fit the packed key.
    for count in (7, 2**40):
        reception = Reception(
            receiver=np.array([0, 0, 0, 1], dtype=np.int64),
            sender=np.array([1, 2, 3, 0], dtype=np.int64),
            median=np.array([-70, -70, -60, -80], dtype=np.int64),
            maximum=np.array([-65, -65, -60, -80], dtype=np.int64),
            count=np.array([count, count, count, 1], dtype=np.int64),
        )
        ephids = ["c" * 32, "b" * 32, "a" * 32, "d" * 32]
        kept, bounds = rank_heard(reception, ephids, 4)
        assert reception.sender[kept].tolist() == [3, 2, 1, 0]
        assert bounds.tolist() == [0, 3, 4, 4, 4]


def test_encoder_rejects_entries_outside_the_protocol_ranges() -> None:
    one = np.array([0], dtype=np.int64)
    with pytest.raises(ValueError):
        HeardEncoder().encode_lists(
            ["a" * 32], one, one - 200, one, one + 1, np.array([0, 1], dtype=np.int64)
        )
    with pytest.raises(ValueError):
        HeardEncoder().encode_lists(
            ["a" * 32], one, one - 70, one - 70, one, np.array([0, 1], dtype=np.int64)
        )


def test_report_encoded_is_the_same_signed_message_as_report() -> None:
    bundle = make_bundles(1)[0]
    slow, fast = Badge.from_bundle(bundle), Badge.from_bundle(bundle)
    heard = [Heard(f"{k:032x}", -60 - k, -55 - k, 1 + k) for k in range(5)]
    for entries in (heard, []):
        expected = slow.report(T0, entries)
        got = fast.report_encoded(T0, encode_json(entries))
        assert got == expected
        message = open_envelope(
            parse_badge_topic(got.topic), got.payload, verifiers([bundle])[bundle.badge]
        )
        assert message.seq == slow.seq == fast.seq


def test_encoder_rejects_an_ephid_of_the_wrong_length() -> None:
    one = np.array([0], dtype=np.int64)
    with pytest.raises(ValueError, match="32 hex"):
        HeardEncoder().encode_lists(
            ["abc"], one, one - 70, one - 70, one + 1, np.array([0, 1], dtype=np.int64)
        )


_BUNDLE = make_bundles(1)[0]


@settings(deadline=None, max_examples=150)
@given(
    st.lists(
        st.tuples(
            st.text(_HEX, min_size=32, max_size=32),
            st.integers(MIN_DBM, MAX_DBM),
            st.integers(MIN_DBM, MAX_DBM),
            st.integers(1, 100_000),
        ),
        max_size=MAX_HEARD,
    ),
    st.integers(0, 2**40 - 3600),
    st.integers(0, 2**20),
)
def test_a_drafted_report_is_what_encode_body_writes(
    entries: list[tuple[str, int, int, int]], window_start: int, seq: int
) -> None:
    # HeardEncoder's array entries + the badge's report template, byte for byte the
    # protocol's encoding of the version 2 report; both decoders read it back.
    ephids = [e[0] for e in entries]
    rows = [[k, med, peak, c] for k, (_, med, peak, c) in enumerate(entries)]
    sender, median, maximum, count = np.array(rows, dtype=np.int64).reshape(-1, 4).T.copy()
    bounds = np.array([0, len(entries)], dtype=np.int64)
    heard_json = HeardEncoder().encode_lists(ephids, sender, median, maximum, count, bounds)[0]
    badge = Badge.from_bundle(_BUNDLE)
    badge.seq = seq
    body = badge.report_draft(window_start, heard_json).body
    report = SightingReport(
        event=badge.event,
        badge=badge.badge,
        seq=seq + 1,
        window_start=window_start,
        window_len=badge.settings.window_seconds,
        heard=[Heard(*e) for e in entries],
    )
    assert body == encode_body(report)
    assert decode_body(body, BadgeChannel.REPORTS) == report
    topic = parse_badge_topic(badge_topic(badge.event, badge.badge, BadgeChannel.REPORTS))
    assert encode_json(ReportDecoder().decode(body, topic)) == body
