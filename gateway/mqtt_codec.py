"""MQTT 3.1.1 packets of a QoS 1 subscriber: encoders and an incremental decoder.

Only what ``gateway.mqtt_asyncio`` sends (CONNECT, SUBSCRIBE, PUBLISH, PUBACK, PINGREQ,
DISCONNECT) and what a broker sends it (CONNACK, PUBLISH at QoS 0 or 1, PUBACK, SUBACK,
UNSUBACK, PINGRESP). ``PacketDecoder.feed`` takes whatever one socket read brought, parses
every complete packet in it and keeps the rest for the next read: PUBLISH packets become
``Received`` items directly (the hot path: one object per message, nothing else), other
packets come back as ``Control`` tuples. Bytes that are not such a packet raise
``MqttProtocolError``; the caller drops the connection (the broker redelivers).

The test-only encoders of the broker's side (``encode_connack``, ``encode_suback``,
``encode_pingresp``) make round trips checkable.
"""

from __future__ import annotations

from collections.abc import MutableSequence
from typing import NamedTuple

from gateway.errors import MqttProtocolError
from gateway.mqtt_client import Received

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBACK = 8, 9, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
MAX_REMAINING = 268_435_455
"""The largest remaining length four length bytes can say."""
NOT_UTF8_TOPIC = "<topic is not UTF-8>"
"""The topic a message gets when its topic bytes are not UTF-8 (the processor rejects it)."""

_CONTROL_SIZES = {CONNACK: 2, PUBACK: 2, UNSUBACK: 2, PINGRESP: 0}
_PUBACK_HEADER = bytes([PUBACK << 4, 2])


class Control(NamedTuple):
    """A packet other than PUBLISH from the broker: its type and the bytes after the header."""

    kind: int
    body: bytes


def encode_length(n: int) -> bytes:
    """The remaining-length field (1 to 4 bytes, 7 bits each, low first)."""
    if not 0 <= n <= MAX_REMAINING:
        raise ValueError(f"remaining length {n} out of range")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise ValueError("MQTT strings hold at most 65,535 bytes")
    return len(value).to_bytes(2, "big") + value


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + encode_length(len(body)) + body


def encode_connect(
    client_id: str,
    *,
    keepalive: int,
    clean_session: bool,
    will: tuple[str, bytes] | None = None,
) -> bytes:
    """CONNECT (MQTT 3.1.1); the will, if any, is QoS 1 and retained."""
    flags = 0x02 if clean_session else 0
    payload = _string(client_id.encode())
    if will is not None:
        flags |= 0x04 | (1 << 3) | 0x20  # will flag, will QoS 1, will retain
        payload += _string(will[0].encode()) + _string(will[1])
    if not 0 <= keepalive <= 0xFFFF:
        raise ValueError(f"keepalive {keepalive} out of range")
    header = _string(b"MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big")
    return _packet(CONNECT << 4, header + payload)


def encode_subscribe(packet_id: int, topic_filter: str, qos: int) -> bytes:
    """SUBSCRIBE to one topic filter."""
    body = packet_id.to_bytes(2, "big") + _string(topic_filter.encode()) + bytes([qos])
    return _packet((SUBSCRIBE << 4) | 0x02, body)


def encode_publish(
    topic: str,
    payload: bytes,
    *,
    qos: int,
    packet_id: int = 0,
    retain: bool = False,
    dup: bool = False,
) -> bytes:
    """PUBLISH at QoS 0 or 1 (``packet_id`` only for QoS 1)."""
    if qos not in (0, 1):
        raise ValueError(f"QoS {qos} is not supported")
    first = (PUBLISH << 4) | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    body = _string(topic.encode())
    if qos:
        body += packet_id.to_bytes(2, "big")
    return _packet(first, body + payload)


def encode_puback(packet_id: int) -> bytes:
    """PUBACK for one message."""
    return _PUBACK_HEADER + packet_id.to_bytes(2, "big")


def encode_pubacks(packet_ids: list[int]) -> bytes:
    """Consecutive PUBACKs, for one write."""
    header = _PUBACK_HEADER
    return b"".join([header + i.to_bytes(2, "big") for i in packet_ids])


def encode_pingreq() -> bytes:
    """PINGREQ."""
    return bytes([PINGREQ << 4, 0])


def encode_disconnect() -> bytes:
    """DISCONNECT (the broker then discards the will)."""
    return bytes([DISCONNECT << 4, 0])


def encode_connack(session_present: bool, return_code: int) -> bytes:
    """CONNACK (the broker's side; for tests)."""
    return bytes([CONNACK << 4, 2, int(session_present), return_code])


def encode_suback(packet_id: int, granted: list[int]) -> bytes:
    """SUBACK (the broker's side; for tests)."""
    return _packet(SUBACK << 4, packet_id.to_bytes(2, "big") + bytes(granted))


def encode_pingresp() -> bytes:
    """PINGRESP (the broker's side; for tests)."""
    return bytes([PINGRESP << 4, 0])


class PacketDecoder:
    """Splits the byte stream from the broker into packets; keeps an incomplete tail."""

    def __init__(self) -> None:
        self._tail = bytearray()
        self._need = 0  # bytes the incomplete packet in _tail needs in all, if known

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete packet kept for the next ``feed``."""
        return len(self._tail)

    def feed(self, data: bytes, generation: int, out: MutableSequence[Received]) -> list[Control]:
        """Parse ``data`` after what was kept; append messages to ``out``, return the rest.

        Raises:
            MqttProtocolError: the bytes are not a packet a broker may send this client
                (the decoder is then unusable: drop the connection).
        """
        if self._tail:
            # a large packet arrives over many reads: gather it without parsing again
            self._tail += data
            if len(self._tail) < self._need:
                return []
            data = bytes(self._tail)
            self._tail.clear()
        n = len(data)
        pos = 0
        controls: list[Control] = []
        while n - pos >= 2:
            first = data[pos]
            length = data[pos + 1]
            start = pos + 2
            if length & 0x80:
                length &= 0x7F
                shift = 7
                while True:
                    if start >= n:
                        self._tail[:] = data[pos:]
                        self._need = 0
                        return controls
                    byte = data[start]
                    start += 1
                    length |= (byte & 0x7F) << shift
                    if not byte & 0x80:
                        break
                    shift += 7
                    if shift > 21:
                        raise MqttProtocolError("remaining length longer than 4 bytes")
            end = start + length
            if end > n:
                break
            kind = first >> 4
            if kind == PUBLISH:
                qos = (first >> 1) & 0x03
                if qos > 1:
                    raise MqttProtocolError(f"PUBLISH at QoS {qos} (subscribed at QoS 1)")
                topic_end = start + 2 + ((data[start] << 8) | data[start + 1] if length > 1 else 0)
                body = topic_end + 2 * qos
                if length < 2 or body > end:
                    raise MqttProtocolError("PUBLISH shorter than its topic and packet id")
                try:
                    topic = data[start + 2 : topic_end].decode()
                except UnicodeDecodeError:
                    topic = NOT_UTF8_TOPIC
                mid = (data[topic_end] << 8) | data[topic_end + 1] if qos else 0
                out.append(Received(topic, data[body:end], mid, qos, generation))
            else:
                controls.append(_control(kind, first & 0x0F, data[start:end]))
            pos = end
        if pos < n:
            self._tail[:] = data[pos:]
            self._need = end - pos if n - pos >= 2 else 0
        return controls


def _control(kind: int, flags: int, body: bytes) -> Control:
    if flags:
        raise MqttProtocolError(f"packet type {kind} with flags {flags:#x}")
    size = _CONTROL_SIZES.get(kind)
    if size is not None:
        if len(body) != size:
            raise MqttProtocolError(f"packet type {kind} of {len(body)} bytes, not {size}")
    elif kind == SUBACK:
        if len(body) < 3:
            raise MqttProtocolError("SUBACK without a return code")
    else:
        raise MqttProtocolError(f"packet type {kind} is not sent by a broker to this client")
    return Control(kind, body)
