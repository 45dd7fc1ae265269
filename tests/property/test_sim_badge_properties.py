"""Whatever a badge heard, its report is signed, valid and keeps the strongest entries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.badge import Badge
from protocol.encoding import MAX_PAYLOAD, open_envelope
from protocol.errors import ProtocolError
from protocol.messages import MAX_HEARD, Heard, SightingReport
from protocol.topics import BadgeChannel, parse_badge_topic
from tests.unit.firmware_sim.fakes import make_bundles, verifiers

BUNDLE = make_bundles(1)[0]
VERIFIER = verifiers([BUNDLE])[BUNDLE.badge]

heard_entry = st.builds(
    lambda ephid, med, peak, count: Heard(ephid.hex(), med, max(med, peak), count),
    st.binary(min_size=16, max_size=16),
    st.integers(-127, 20),
    st.integers(-127, 20),
    st.integers(1, 100_000),
)


@settings(deadline=None)
@given(st.lists(heard_entry, max_size=150), st.integers(0, 2**30))
def test_reports_verify_and_keep_the_strongest(heard: list[Heard], window: int) -> None:
    badge = Badge.from_bundle(BUNDLE)
    start = window * 20
    topic, payload = badge.report(start, heard)
    assert len(payload) <= MAX_PAYLOAD[BadgeChannel.REPORTS]
    report = open_envelope(parse_badge_topic(topic), payload, VERIFIER)
    assert isinstance(report, SightingReport)
    assert len(report.heard) == min(len(heard), MAX_HEARD)
    kept = [h.rssi_median for h in report.heard]
    assert kept == sorted(kept, reverse=True)
    if len(heard) > MAX_HEARD:
        assert min(kept) >= sorted((h.rssi_median for h in heard), reverse=True)[MAX_HEARD - 1]
    assert set(report.heard) <= set(heard)


@settings(deadline=None)
@given(st.integers(0, 200), st.integers(0, 255))
def test_any_flipped_byte_is_rejected(position: int, flip: int) -> None:
    badge = Badge.from_bundle(BUNDLE)
    topic, payload = badge.report(1780563600, [Heard("ab" * 16, -60, -55, 7)])
    index = position % len(payload)
    tampered = bytearray(payload)
    tampered[index] ^= flip or 1
    with pytest.raises(ProtocolError):
        open_envelope(parse_badge_topic(topic), bytes(tampered), VERIFIER)
