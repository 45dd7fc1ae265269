"""Round trips and tamper detection for every message type, as properties."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import encoding, ids
from protocol.api import DetectionSettings, Meeting, MeetingBatch, ProvisioningBundle, Registry
from protocol.errors import InvalidSignature, MalformedMessage, ProtocolError
from protocol.messages import (
    MAX_HEARD,
    BadgeMessage,
    BadgeStatus,
    CheckIn,
    Heard,
    SightingReport,
    TapHalf,
    TapTranscript,
)
from protocol.signing import BadgeKey, Verifier
from protocol.topics import BadgeChannel, badge_topic, parse_badge_topic

ident = st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z")
hex16 = st.binary(min_size=16, max_size=16).map(bytes.hex)
seconds = st.integers(0, 2**40)
seq = st.integers(0, 2**53)
dbm = st.integers(-127, 20)
seeds = st.binary(min_size=32, max_size=32)

heard = st.builds(Heard, ephid=hex16, rssi_median=dbm, rssi_max=dbm, count=st.integers(1, 100_000))
reports = st.builds(
    SightingReport,
    event=ident,
    badge=ident,
    seq=seq,
    window_start=seconds,
    window_len=st.integers(1, 3600),
    heard=st.lists(heard, max_size=MAX_HEARD),
)
taps = st.builds(
    TapHalf,
    event=ident,
    badge=ident,
    seq=seq,
    transcript=st.builds(
        TapTranscript, badge_a=ident, badge_b=ident, nonce_a=hex16, nonce_b=hex16, t=seconds
    ),
)
checkins = st.builds(
    CheckIn,
    event=ident,
    badge=ident,
    seq=seq,
    reader=ident,
    nonce=hex16,
    t=seconds,
    direction=st.sampled_from(["entry", "exit"]),
)
statuses = st.builds(
    BadgeStatus,
    event=ident,
    badge=ident,
    seq=seq,
    t=seconds,
    battery=st.integers(0, 100),
    buffer_fill=st.integers(0, 10**6),
    boot_count=st.integers(0, 10**6),
    drops=st.integers(0, 10**6),
)
messages = st.one_of(reports, taps, checkins, statuses)


def _sealed(message: BadgeMessage, seed: bytes) -> tuple[str, bytes, Verifier]:
    topic = badge_topic(message.event, message.badge, encoding.channel_of(message))
    key = BadgeKey(seed)
    return topic, encoding.seal(message, topic, key.signer()), Verifier(key.public_key)


@given(messages, seeds)
def test_seal_then_open_round_trips(message: BadgeMessage, seed: bytes) -> None:
    topic, payload, verifier = _sealed(message, seed)
    if len(payload) > encoding.MAX_PAYLOAD[encoding.channel_of(message)]:
        with pytest.raises(MalformedMessage):
            encoding.open_envelope(parse_badge_topic(topic), payload, verifier)
        return
    assert encoding.open_envelope(parse_badge_topic(topic), payload, verifier) == message


@given(messages, seeds, st.data())
def test_any_flipped_byte_is_rejected(
    message: BadgeMessage, seed: bytes, data: st.DataObject
) -> None:
    topic, payload, verifier = _sealed(message, seed)
    index = data.draw(st.integers(0, len(payload) - 1))
    bit = data.draw(st.integers(0, 7))
    tampered = bytearray(payload)
    tampered[index] ^= 1 << bit
    with pytest.raises(ProtocolError):
        encoding.open_envelope(parse_badge_topic(topic), bytes(tampered), verifier)


@given(reports, seeds, seeds)
def test_another_key_never_verifies(message: SightingReport, seed: bytes, other: bytes) -> None:
    topic, payload, _ = _sealed(message, seed)
    if seed == other or len(payload) > encoding.MAX_PAYLOAD[BadgeChannel.REPORTS]:
        return
    with pytest.raises(InvalidSignature):
        encoding.open_envelope(
            parse_badge_topic(topic), payload, Verifier(BadgeKey(other).public_key)
        )


@given(st.binary(max_size=10_000), st.sampled_from(list(BadgeChannel)))
def test_garbage_bodies_raise_only_protocol_errors(body: bytes, channel: BadgeChannel) -> None:
    try:
        encoding.decode_body(body, channel)
    except ProtocolError:
        pass


@given(st.text(max_size=200))
def test_garbage_topics_raise_only_protocol_errors(topic: str) -> None:
    try:
        parsed = parse_badge_topic(topic)
    except ProtocolError:
        return
    assert str(parsed) == topic


@given(ident, ident, ident, seconds, st.sampled_from(["proximity", "tap"]))
def test_meeting_id_ignores_pair_order(event: str, a: str, b: str, first: int, kind: str) -> None:
    assert ids.meeting_id(kind, event, a, b, first) == ids.meeting_id(kind, event, b, a, first)


@given(st.binary(min_size=32, max_size=32), ident, st.integers(0, 2**40))
def test_ephids_differ_across_epochs(key: bytes, event: str, epoch: int) -> None:
    assert ids.derive_ephid(key, event, epoch) != ids.derive_ephid(key, event, epoch + 1)


meetings = st.builds(
    Meeting,
    id=hex16,
    event=ident,
    kind=st.sampled_from(["proximity", "tap"]),
    badge_a=ident,
    badge_b=ident,
    first_seen=seconds,
    last_seen=seconds,
    contact_seconds=seconds,
    windows=st.integers(0, 10**6),
    gateway=ident,
    zone=st.text(max_size=40),
    rssi_median_dbm=st.none() | dbm,
)


@given(
    st.one_of(
        st.builds(MeetingBatch, meetings=st.lists(meetings, max_size=20)),
        st.builds(DetectionSettings),
        st.builds(
            ProvisioningBundle,
            event=ident,
            badge=ident,
            signing_seed=seeds.map(bytes.hex),
            ephid_key=seeds.map(bytes.hex),
            settings=st.builds(DetectionSettings),
        ),
    )
)
def test_api_shapes_round_trip(value: msgspec.Struct) -> None:
    assert encoding.decode_json(encoding.encode_json(value), type(value)) == value


def test_registry_rejects_bad_keys() -> None:
    bad = (
        b'{"event":"e","gateway":"g","zone":"z","settings":{},'
        b'"badges":[{"badge":"b","public_key":"zz","ephid_key":"00"}]}'
    )
    with pytest.raises(MalformedMessage):
        encoding.decode_json(bad, Registry)
