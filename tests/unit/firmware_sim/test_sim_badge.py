"""Badge firmware model: signed reports, EphID rotation, sequence numbers, taps, status."""

from __future__ import annotations

import pytest

from firmware_sim.badge import Badge, strongest_first
from protocol.encoding import MAX_PAYLOAD, open_envelope
from protocol.errors import InvalidSignature
from protocol.ids import derive_ephid
from protocol.messages import MAX_HEARD, BadgeStatus, Heard, SightingReport, TapHalf, TapTranscript
from protocol.topics import BadgeChannel, badge_topic, parse_badge_topic
from tests.unit.firmware_sim.fakes import make_bundles, verifiers

T0 = 1780563600


@pytest.fixture
def pair() -> tuple[Badge, Badge]:
    bundles = make_bundles(2)
    return Badge.from_bundle(bundles[0], start_time=T0), Badge.from_bundle(
        bundles[1], start_time=T0
    )


def _heard(k: int, rssi: int) -> Heard:
    return Heard(f"{k:032x}", rssi, rssi + 3, 5)


def test_report_verifies_with_the_protocol(pair: tuple[Badge, Badge]) -> None:
    a, b = pair
    topic, payload = a.report(T0, [Heard(b.ephid(T0).hex(), -60, -55, 9)])
    assert topic == badge_topic(a.event, a.badge, BadgeChannel.REPORTS)
    verifier = verifiers(make_bundles(2))[a.badge]
    message = open_envelope(parse_badge_topic(topic), payload, verifier)
    assert isinstance(message, SightingReport)
    assert message.badge == a.badge and message.event == a.event
    assert message.window_start == T0 and message.window_len == a.settings.window_seconds
    assert message.heard == [Heard(b.ephid(T0).hex(), -60, -55, 9)]


def test_report_moved_to_another_badge_topic_fails(pair: tuple[Badge, Badge]) -> None:
    a, b = pair
    _, payload = a.report(T0, [])
    other = badge_topic(a.event, b.badge, BadgeChannel.REPORTS)
    with pytest.raises(InvalidSignature):
        open_envelope(parse_badge_topic(other), payload, verifiers(make_bundles(2))[b.badge])


def test_report_keeps_the_strongest_and_fits_the_size_limit(pair: tuple[Badge, Badge]) -> None:
    a, _ = pair
    heard = [_heard(k, -100 + (k * 7) % 60) for k in range(150)]
    topic, payload = a.report(T0, heard)
    report = open_envelope(parse_badge_topic(topic), payload, verifiers(make_bundles(2))[a.badge])
    assert isinstance(report, SightingReport)
    assert len(report.heard) == MAX_HEARD
    medians = [h.rssi_median for h in report.heard]
    assert medians == sorted(medians, reverse=True)
    assert min(medians) >= sorted((h.rssi_median for h in heard), reverse=True)[MAX_HEARD - 1]
    assert len(payload) <= MAX_PAYLOAD[BadgeChannel.REPORTS]


def test_strongest_first_breaks_ties_deterministically() -> None:
    heard = [
        Heard("b" * 32, -60, -50, 3),
        Heard("a" * 32, -60, -50, 3),
        Heard("c" * 32, -60, -40, 1),
    ]
    assert [h.ephid[0] for h in strongest_first(heard)] == ["c", "a", "b"]


def test_ephid_rotates_per_epoch(pair: tuple[Badge, Badge]) -> None:
    a, _ = pair
    rotation = a.settings.ephid_rotation_seconds
    epoch_start = (T0 // rotation) * rotation
    assert a.ephid(epoch_start) == a.ephid(epoch_start + rotation - 1)
    assert a.ephid(epoch_start) != a.ephid(epoch_start + rotation)
    assert a.ephid(epoch_start) == derive_ephid(a.ephid_key, a.event, epoch_start // rotation)
    seen = {a.ephid(epoch_start + k * rotation) for k in range(10)}
    assert len(seen) == 10


def test_seq_grows_by_one_across_channels(pair: tuple[Badge, Badge]) -> None:
    a, b = pair
    transcript = TapTranscript(
        badge_a=a.badge, badge_b=b.badge, nonce_a="1" * 32, nonce_b="2" * 32, t=T0 + 5
    )
    check = verifiers(make_bundles(2))[a.badge]
    seqs = []
    for topic, payload in (
        a.status(T0),
        a.tap(transcript),
        a.report(T0, []),
        a.report(T0 + 20, []),
    ):
        seqs.append(open_envelope(parse_badge_topic(topic), payload, check).seq)
    assert seqs == [1, 2, 3, 4]
    assert a.seq == 4


def test_tap_halves_carry_the_same_transcript(pair: tuple[Badge, Badge]) -> None:
    a, b = pair
    transcript = TapTranscript(
        badge_a=a.badge, badge_b=b.badge, nonce_a="1" * 32, nonce_b="2" * 32, t=T0 + 5
    )
    checks = verifiers(make_bundles(2))
    halves = []
    for badge in (a, b):
        topic, payload = badge.tap(transcript)
        half = open_envelope(parse_badge_topic(topic), payload, checks[badge.badge])
        assert isinstance(half, TapHalf)
        halves.append(half)
    assert halves[0].transcript == halves[1].transcript == transcript
    assert halves[0].badge != halves[1].badge


def test_tap_refuses_a_transcript_of_other_badges(pair: tuple[Badge, Badge]) -> None:
    a, _ = pair
    transcript = TapTranscript(badge_a="x1", badge_b="x2", nonce_a="1" * 32, nonce_b="2" * 32, t=T0)
    with pytest.raises(ValueError, match="not part of the tap"):
        a.tap(transcript)
    assert a.seq == 0


def test_status_battery_drains_with_event_time(pair: tuple[Badge, Badge]) -> None:
    a, _ = pair
    check = verifiers(make_bundles(2))[a.badge]
    batteries = []
    for hours in (0, 1, 5, 100):
        topic, payload = a.status(T0 + hours * 3600)
        status = open_envelope(parse_badge_topic(topic), payload, check)
        assert isinstance(status, BadgeStatus)
        assert (status.buffer_fill, status.boot_count, status.drops) == (0, 1, 0)
        batteries.append(status.battery)
    assert batteries[0] == 100
    assert batteries == sorted(batteries, reverse=True)
    assert batteries[1] < batteries[0]
    assert batteries[-1] == 0


def test_mac_address_rotates_with_the_ephid_and_is_random_static(pair: tuple[Badge, Badge]) -> None:
    a, b = pair
    rotation = a.settings.ephid_rotation_seconds
    start = 1780563600 - 1780563600 % rotation
    macs = [a.mac_address(start + k * rotation) for k in range(4)]
    assert len(set(macs)) == 4, "a new address every epoch"
    assert a.mac_address(start) == a.mac_address(start + rotation - 1)
    assert a.ephid(start) == a.ephid(start + rotation - 1)
    assert a.mac_address(start) != b.mac_address(start)
    for mac in macs:
        octets = [int(x, 16) for x in mac.split(":")]
        assert len(octets) == 6 and octets[0] >> 6 == 0b11
