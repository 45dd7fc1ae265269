"""gateway.mqtt_codec: round trips, split reads at every byte boundary, garbage never crashes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import MqttProtocolError
from gateway.mqtt_client import Received
from gateway.mqtt_codec import (
    CONNACK,
    NOT_UTF8_TOPIC,
    PINGRESP,
    PUBACK,
    SUBACK,
    Control,
    PacketDecoder,
    encode_connack,
    encode_connect,
    encode_length,
    encode_pingreq,
    encode_pingresp,
    encode_puback,
    encode_pubacks,
    encode_publish,
    encode_suback,
    encode_subscribe,
)

topics = st.text(min_size=1, max_size=40)  # no surrogates: every one encodes to UTF-8
publishes = st.tuples(
    topics, st.binary(max_size=300), st.sampled_from([0, 1]), st.integers(1, 0xFFFF)
)
controls = st.one_of(
    st.builds(encode_connack, st.booleans(), st.integers(0, 5)),
    st.builds(encode_puback, st.integers(1, 0xFFFF)),
    st.builds(
        encode_suback, st.integers(1, 0xFFFF), st.lists(st.sampled_from([0, 1, 0x80]), min_size=1)
    ),
    st.just(encode_pingresp()),
)
Item = tuple[str, bytes, int, int] | bytes


def encode_item(item: Item) -> bytes:
    if isinstance(item, bytes):
        return item
    topic, payload, qos, packet_id = item
    return encode_publish(topic, payload, qos=qos, packet_id=packet_id)


def expected(items: list[Item]) -> tuple[list[Received], list[Control]]:
    messages: list[Received] = []
    rest: list[Control] = []
    for item in items:
        if isinstance(item, bytes):
            rest.append(decode_all(item)[1][0])
        else:
            topic, payload, qos, packet_id = item
            messages.append(Received(topic, payload, packet_id if qos else 0, qos, 7))
    return messages, rest


def decode_all(*chunks: bytes) -> tuple[list[Received], list[Control]]:
    decoder = PacketDecoder()
    out: list[Received] = []
    rest: list[Control] = []
    for chunk in chunks:
        rest.extend(decoder.feed(chunk, 7, out))
    assert decoder.buffered == 0
    return out, rest


@given(st.lists(st.one_of(publishes, controls), max_size=12))
def test_a_stream_of_packets_decodes_to_what_was_encoded(items: list[Item]) -> None:
    assert decode_all(b"".join(encode_item(i) for i in items)) == expected(items)


@given(st.lists(st.one_of(publishes, controls), min_size=1, max_size=4))
def test_split_reads_at_every_byte_boundary_decode_the_same(items: list[Item]) -> None:
    stream = b"".join(encode_item(i) for i in items)
    whole = decode_all(stream)
    for cut in range(len(stream) + 1):
        assert decode_all(stream[:cut], stream[cut:]) == whole


@given(publishes)
def test_one_byte_reads_decode_the_same(item: tuple[str, bytes, int, int]) -> None:
    stream = encode_item(item)
    assert decode_all(*(stream[i : i + 1] for i in range(len(stream)))) == expected([item])


def test_a_large_payload_uses_a_multi_byte_length() -> None:
    payload = bytes(range(256)) * 1000
    packet = encode_publish("t/x", payload, qos=1, packet_id=9)
    assert packet[1] & 0x80 and packet[2] & 0x80  # three length bytes
    assert decode_all(packet)[0] == [Received("t/x", payload, 9, 1, 7)]


def test_a_packet_over_many_reads_is_gathered_then_parsed_with_what_follows() -> None:
    payload = bytes(range(256)) * 4000  # 1 MB
    stream = encode_publish("t/big", payload, qos=1, packet_id=3) + encode_pingresp()
    stream += encode_publish("t/next", b"n", qos=1, packet_id=4)
    decoder = PacketDecoder()
    out: list[Received] = []
    controls: list[Control] = []
    for i in range(0, len(stream), 4096):
        controls.extend(decoder.feed(stream[i : i + 4096], 2, out))
        if len(out) < 2:
            assert decoder.buffered == min(i + 4096, len(stream)) - len(encode_item_bytes(out))
    assert out == [Received("t/big", payload, 3, 1, 2), Received("t/next", b"n", 4, 1, 2)]
    assert controls == [Control(PINGRESP, b"")]
    assert decoder.buffered == 0


def encode_item_bytes(done: list[Received]) -> bytes:
    return b"".join(encode_publish(m.topic, m.payload, qos=1, packet_id=m.mid) for m in done)


@given(st.integers(0, 268_435_455))
def test_remaining_length_round_trips(n: int) -> None:
    encoded = encode_length(n)
    value = sum((b & 0x7F) << (7 * i) for i, b in enumerate(encoded))
    assert value == n and len(encoded) <= 4 and not encoded[-1] & 0x80


@given(st.binary(max_size=200), st.integers(1, 8))
def test_garbage_raises_a_clear_error_or_waits_for_more_never_anything_else(
    data: bytes, pieces: int
) -> None:
    decoder = PacketDecoder()
    out: list[Received] = []
    step = max(1, len(data) // pieces)
    try:
        for i in range(0, len(data), step):
            for control in decoder.feed(data[i : i + step], 1, out):
                assert control.kind in (CONNACK, PUBACK, SUBACK, PINGRESP, 11)
    except MqttProtocolError as exc:
        assert exc.detail
    assert all(isinstance(m.payload, bytes) and isinstance(m.topic, str) for m in out)


@given(st.lists(publishes, min_size=1, max_size=3), st.data())
def test_truncated_streams_keep_the_tail_and_never_crash(
    items: list[tuple[str, bytes, int, int]], data: st.DataObject
) -> None:
    stream = b"".join(encode_item(i) for i in items)
    cut = data.draw(st.integers(0, len(stream) - 1))
    decoder = PacketDecoder()
    out: list[Received] = []
    decoder.feed(stream[:cut], 1, out)
    assert len(out) < len(items)
    assert decoder.buffered == cut - sum(len(encode_item(i)) for i in items[: len(out)])


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]), "longer than 4 bytes"),
        (bytes([0x34, 3, 0, 1, 0x61]), "QoS 2"),
        (bytes([0x36, 3, 0, 1, 0x61]), "QoS 3"),
        (bytes([0x30, 1, 0]), "shorter than its topic"),
        (bytes([0x32, 3, 0, 1, 0x61]), "shorter than its topic"),  # no packet id
        (bytes([0x30, 2, 0, 5]), "shorter than its topic"),
        (bytes([0x20, 3, 0, 0, 0]), "not 2"),
        (bytes([0x22, 2, 0, 0]), "flags"),
        (bytes([0x90, 2, 0, 1]), "SUBACK without"),
        (bytes([0x10, 0]), "not sent by a broker"),
        (bytes([0x00, 0]), "not sent by a broker"),
        (bytes([0xC0, 0]), "not sent by a broker"),
        (bytes([0xF0, 0]), "not sent by a broker"),
    ],
)
def test_malformed_packets_are_refused_with_a_reason(packet: bytes, reason: str) -> None:
    with pytest.raises(MqttProtocolError, match=reason):
        PacketDecoder().feed(packet, 0, [])


def test_a_topic_that_is_not_utf8_is_kept_as_a_marker_to_reject_later() -> None:
    packet = bytes([0x32, 7, 0, 2, 0xFF, 0xFE, 0, 5, 0x61])
    assert decode_all(packet)[0] == [Received(NOT_UTF8_TOPIC, b"a", 5, 1, 7)]


def test_client_packets_have_the_mqtt_311_layout() -> None:
    connect = encode_connect("gw", keepalive=30, clean_session=False, will=("s/t", b"off"))
    assert connect[0] == 0x10 and connect[2:10] == b"\x00\x04MQTT\x04" + bytes([0x2C])
    assert connect[10:12] == (30).to_bytes(2, "big")
    assert connect[12:] == b"\x00\x02gw\x00\x03s/t\x00\x03off"
    assert encode_connect("c", keepalive=5, clean_session=True)[9] == 0x02
    assert encode_subscribe(3, "a/+", 1) == b"\x82\x08\x00\x03\x00\x03a/+\x01"
    assert encode_pubacks([1, 258]) == encode_puback(1) + encode_puback(258)
    assert encode_pubacks([258]) == b"\x40\x02\x01\x02"
    assert encode_pingreq() == b"\xc0\x00"
    retained = encode_publish("t", b"p", qos=1, packet_id=4, retain=True, dup=True)
    assert retained == b"\x3b\x06\x00\x01t\x00\x04p"


def test_encoders_refuse_what_mqtt_cannot_carry() -> None:
    with pytest.raises(ValueError):
        encode_length(268_435_456)
    with pytest.raises(ValueError):
        encode_publish("t", b"", qos=2, packet_id=1)
    with pytest.raises(ValueError):
        encode_connect("x" * 70_000, keepalive=1, clean_session=False)
    with pytest.raises(ValueError):
        encode_connect("x", keepalive=70_000, clean_session=False)
