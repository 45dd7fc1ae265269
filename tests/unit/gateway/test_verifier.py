"""Verifier: every rule has a case that must be rejected, with its stable reason."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.registry import BadgeRegistry
from gateway.verifier import ACCEPTED, DUPLICATE, REASONS, REPLAY_WINDOW, Verifier
from gateway.watermark import Watermark
from protocol.encoding import MAX_PAYLOAD
from protocol.messages import TapTranscript
from protocol.signing import BadgeKey, sign
from protocol.topics import BadgeChannel, badge_topic
from tests.unit.gateway.conftest import EVENT
from tests.unit.gateway.support import T0, WINDOW, FakeClock, TestBadge, transcript


def make(badge_registry: BadgeRegistry, clock: FakeClock, live: bool = False) -> Verifier:
    return Verifier(badge_registry, clock, Watermark(2), live_clock=live)


def signed_body(member: TestBadge, body: bytes, channel: BadgeChannel) -> tuple[str, bytes]:
    topic = badge_topic(EVENT, member.badge, channel)
    return topic, sign(member.signer, topic, body) + body


@pytest.fixture
def verifier(badge_registry: BadgeRegistry, clock: FakeClock) -> Verifier:
    return make(badge_registry, clock)


def test_valid_messages_of_every_kind_are_accepted(
    verifier: Verifier, members: list[TestBadge]
) -> None:
    a, b = members[0], members[1]
    for topic, payload in (
        a.report(T0, [(b, -60)]),
        a.tap(transcript(a, b, T0 + 5)),
        a.checkin(T0 + 7),
        a.status(T0 + 8),
    ):
        verdict = verifier.check(topic, payload)
        assert verdict.outcome == ACCEPTED, verdict
        assert verdict.badge == a.badge
        assert verdict.message is not None
    assert verifier.check(*b.report(T0)).is_accepted
    assert verifier.watermark.value == T0


@pytest.mark.parametrize(
    "topic",
    [
        f"inperson/v1/{EVENT}/badges/b000/bogus",
        f"inperson/v1/{EVENT}/badges/b000",
        f"inperson/v2/{EVENT}/badges/b000/reports",
        f"inperson/v1/{EVENT}/gateways/b000/reports",
        f"inperson/v1/{EVENT}/badges/b 0/reports",
        "",
    ],
)
def test_bad_topic_is_malformed(verifier: Verifier, members: list[TestBadge], topic: str) -> None:
    _, payload = members[0].report(T0)
    assert verifier.check(topic, payload).outcome == "malformed"


def test_other_event_is_wrong_event(verifier: Verifier) -> None:
    stranger = TestBadge.named("b000", "ev-other")
    assert verifier.check(*stranger.report(T0)).outcome == "wrong_event"


def test_oversized_is_rejected_before_anything_else(
    verifier: Verifier, members: list[TestBadge]
) -> None:
    topic, payload = members[0].report(T0)
    padded = payload + b" " * (MAX_PAYLOAD[BadgeChannel.REPORTS] + 1 - len(payload))
    assert verifier.check(topic, padded).outcome == "oversized"
    tap_topic = badge_topic(EVENT, "nobody", BadgeChannel.TAPS)
    assert verifier.check(tap_topic, b"x" * 1025).outcome == "oversized"


def test_too_short_for_an_envelope_is_malformed(
    verifier: Verifier, members: list[TestBadge]
) -> None:
    topic, _ = members[0].report(T0)
    assert verifier.check(topic, b"{}").outcome == "malformed"
    assert verifier.check(topic, b"").outcome == "malformed"


def test_unregistered_badge_is_unknown(verifier: Verifier) -> None:
    intruder = TestBadge.named("b999", EVENT)
    assert verifier.check(*intruder.report(T0)).outcome == "unknown_badge"


def test_revoked_badge_is_rejected(verifier: Verifier, members: list[TestBadge]) -> None:
    assert verifier.check(*members[3].report(T0)).outcome == "revoked_badge"


def test_forged_unsigned_and_tampered_messages_fail_the_signature(
    verifier: Verifier, members: list[TestBadge]
) -> None:
    a = members[0]
    forger = TestBadge(a.badge, EVENT, BadgeKey(b"\x01" * 32), a.ephid_key)
    assert verifier.check(*forger.report(T0)).outcome == "bad_signature"
    topic, payload = a.report(T0)
    body = payload[64:]
    assert verifier.check(topic, body).outcome == "bad_signature"  # unsigned
    tampered = payload[:-3] + (b"0" if payload[-3:-2] != b"0" else b"1") + payload[-2:]
    assert verifier.check(topic, tampered).outcome == "bad_signature"
    other_topic = badge_topic(EVENT, members[1].badge, BadgeChannel.REPORTS)
    assert verifier.check(other_topic, payload).outcome == "bad_signature"  # moved topic


def test_signed_garbage_is_malformed(verifier: Verifier, members: list[TestBadge]) -> None:
    a = members[0]
    for body in (b"not json at all", b'{"v":2,"event":"x"}', b"[1,2,3]", b'{"v":2}' + b" " * 10):
        verdict = verifier.check(*signed_body(a, body, BadgeChannel.REPORTS))
        assert verdict.outcome == "malformed", body


def test_unknown_schema_version_is_unsupported(
    verifier: Verifier, members: list[TestBadge]
) -> None:
    a = members[0]
    for version in (1, 3):  # reports are version 2 (heard entries are arrays)
        fields = {"event": EVENT, "badge": a.badge, "seq": 1, "window_start": T0, "window_len": 20}
        body = msgspec.json.encode({"v": version, **fields, "heard": []})
        verdict = verifier.check(*signed_body(a, body, BadgeChannel.REPORTS))
        assert verdict.outcome == "unsupported_version"
        assert f"sighting report schema version {version} is not supported" in verdict.detail


def test_body_naming_another_badge_is_topic_mismatch(
    verifier: Verifier, members: list[TestBadge]
) -> None:
    a, b = members[0], members[1]
    _, payload = b.report(T0)
    body = payload[64:]  # b's body, re-signed by a for a's own topic
    assert verifier.check(*signed_body(a, body, BadgeChannel.REPORTS)).outcome == "topic_mismatch"


def test_window_length_and_alignment_are_checked(
    verifier: Verifier, members: list[TestBadge]
) -> None:
    a = members[0]
    assert verifier.check(*a.report(T0, window_len=30)).outcome == "wrong_window_len"
    assert verifier.check(*a.report(T0 + 5)).outcome == "malformed"


def test_tap_half_from_a_third_badge_is_malformed(
    verifier: Verifier, members: list[TestBadge]
) -> None:
    a, b, c = members[0], members[1], members[2]
    assert verifier.check(*c.tap(transcript(a, b, T0))).outcome == "malformed"
    unsorted = TapTranscript(
        badge_a=b.badge, badge_b=a.badge, nonce_a="11" * 16, nonce_b="22" * 16, t=T0
    )
    assert verifier.check(*a.tap(unsorted)).outcome == "malformed"


def test_report_behind_the_watermark_is_stale(verifier: Verifier, members: list[TestBadge]) -> None:
    a, b, c = members[0], members[1], members[2]
    later = T0 + 10 * WINDOW
    assert verifier.check(*a.report(later)).is_accepted
    assert verifier.check(*b.report(later)).is_accepted
    assert verifier.watermark.value == later
    lateness = 60
    # stale iff window_start + window <= W - lateness
    boundary = later - lateness - WINDOW
    assert verifier.check(*c.report(boundary)).outcome == "stale"
    assert verifier.check(*c.report(boundary + WINDOW)).is_accepted


def test_one_runaway_badge_does_not_move_event_time(
    verifier: Verifier, members: list[TestBadge]
) -> None:
    a, b, c = members[0], members[1], members[2]
    assert verifier.check(*a.report(T0 + 100_000)).is_accepted
    assert verifier.check(*b.report(T0)).is_accepted
    assert verifier.watermark.value == T0
    assert verifier.check(*c.report(T0)).is_accepted


def test_live_clock_rejects_future_and_old_messages(
    badge_registry: BadgeRegistry, clock: FakeClock, members: list[TestBadge]
) -> None:
    verifier = make(badge_registry, clock, live=True)
    a = members[0]
    skew, lateness = 60, 60
    clock.t = T0
    assert verifier.check(*a.report(T0 + skew + WINDOW)).outcome == "future"
    assert verifier.check(*a.status(T0 + skew + 1)).outcome == "future"
    assert verifier.check(*a.report(T0 - lateness - skew - WINDOW)).outcome == "stale"
    assert verifier.check(*a.checkin(T0 - lateness - skew)).outcome == "stale"
    assert verifier.check(*a.report(T0 + skew)).is_accepted
    assert verifier.check(*a.report(T0 - lateness - skew)).is_accepted


def test_without_live_clock_wall_time_is_ignored(
    verifier: Verifier, clock: FakeClock, members: list[TestBadge]
) -> None:
    clock.t = 0.0
    assert verifier.check(*members[0].report(T0 + 10**6)).is_accepted


def test_duplicate_delivery_is_not_an_error(verifier: Verifier, members: list[TestBadge]) -> None:
    a, b = members[0], members[1]
    message = a.report(T0)
    assert verifier.check(*message).is_accepted
    verdict = verifier.check(*message)
    assert verdict.outcome == DUPLICATE
    assert not verdict.is_rejected and not verdict.is_accepted
    # even once the watermark moved past it, a redelivery stays a duplicate
    for member in (a, b):
        assert verifier.check(*member.report(T0 + 20 * WINDOW)).is_accepted
    assert verifier.check(*message).outcome == DUPLICATE


def test_reused_sequence_number_with_other_bytes_is_a_replay(
    verifier: Verifier, members: list[TestBadge]
) -> None:
    a = members[0]
    assert verifier.check(*a.report(T0, seq=7)).is_accepted
    assert verifier.check(*a.report(T0 + WINDOW, seq=7)).outcome == "replay"
    assert verifier.check(*a.report(T0 + WINDOW, seq=6)).is_accepted  # late, not reused


def test_sequence_older_than_the_window_is_a_replay(
    verifier: Verifier, members: list[TestBadge]
) -> None:
    a = members[0]
    old = a.status(T0)
    assert verifier.check(*old).is_accepted
    for _ in range(REPLAY_WINDOW):
        assert verifier.check(*a.status(T0)).is_accepted
    assert verifier.check(*old).outcome == "replay"
    assert verifier.check(*a.status(T0)).is_accepted


def test_rejected_messages_leave_no_trace(verifier: Verifier, members: list[TestBadge]) -> None:
    a, b = members[0], members[1]
    stale_free = a.report(T0 + 5, seq=3)  # malformed (not aligned): must not burn seq 3
    assert verifier.check(*stale_free).outcome == "malformed"
    assert verifier.check(*a.report(T0, seq=3)).is_accepted
    assert verifier.watermark.value is None
    assert verifier.check(*b.report(T0)).is_accepted
    assert verifier.watermark.value == T0


def test_snapshot_restores_replay_state_and_watermark(
    badge_registry: BadgeRegistry, clock: FakeClock, members: list[TestBadge]
) -> None:
    first = make(badge_registry, clock)
    a, b = members[0], members[1]
    sent = [a.report(T0 + i * WINDOW) for i in range(5)] + [b.report(T0 + 4 * WINDOW)]
    for message in sent:
        assert first.check(*message).is_accepted
    state = msgspec.json.decode(msgspec.json.encode(first.snapshot()))
    base = first.replay.take_changes()  # the journal's log of what was recorded
    second = make(badge_registry, clock)
    second.restore(state)
    second.replay.load(b"", base)
    assert second.watermark.value == first.watermark.value == T0 + 4 * WINDOW
    assert all(second.check(*message).outcome == DUPLICATE for message in sent)
    assert second.check(*a.report(T0 + 5 * WINDOW, seq=2)).outcome == "replay"
    assert second.check(*a.report(T0 + 5 * WINDOW)).is_accepted


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=9000), channel=st.sampled_from(list(BadgeChannel)))
def test_random_bytes_never_raise_and_never_pass(
    badge_registry: BadgeRegistry, members: list[TestBadge], payload: bytes, channel: BadgeChannel
) -> None:
    verifier = make(badge_registry, FakeClock())
    verdict = verifier.check(badge_topic(EVENT, members[0].badge, channel), payload)
    assert verdict.outcome in REASONS


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(topic=st.text(max_size=120), flip=st.integers(0, 10_000))
def test_random_topics_and_bit_flips_are_rejected(
    badge_registry: BadgeRegistry, members: list[TestBadge], topic: str, flip: int
) -> None:
    verifier = make(badge_registry, FakeClock())
    real_topic, payload = members[0].report(T0, [(members[1], -50)], seq=1)
    assert verifier.check(topic, payload).outcome in REASONS
    index = flip % len(payload)
    damaged = payload[:index] + bytes([payload[index] ^ 0x01]) + payload[index + 1 :]
    assert verifier.check(real_topic, damaged).outcome in REASONS
