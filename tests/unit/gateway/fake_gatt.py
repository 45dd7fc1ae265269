"""A badge's side of the BLE relay (docs/protocol.md section 3.2), at bleak's client boundary.

``FakeBadgeGatt`` holds a badge's buffered signed messages and serves them the way the
protocol says a badge does: frames of the oldest message on OUTBOX reads, dropping a
message when its number is written to ACK. ``connect`` returns what ``BleakClient``
would be inside ``async with``. Faults are scripted: a link lost after some reads, or an
ACK the gateway wrote that never reaches the badge.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from gateway.ble import COMPANY_ID, FORMAT_VERSION
from gateway.relay import (
    ACK,
    ACK_UUID,
    CHANNELS,
    FRAME_HEADER,
    FRAME_VERSION,
    OUTBOX_UUID,
    SERVICE_UUID,
    GattLink,
)
from protocol.topics import parse_badge_topic
from tests.unit.gateway.support import TestBadge

DEVICE = BLEDevice("C0:FF:EE:00:00:01", None, None)


def offering_ad(member: TestBadge, t: int, *, offering: bool = True) -> AdvertisementData:
    """The badge's advertisement at time ``t``, listing the relay service when ``offering``."""
    ephid = bytes.fromhex(member.ephid(t))
    return AdvertisementData(
        local_name=None,
        manufacturer_data={COMPANY_ID: bytes([FORMAT_VERSION]) + ephid},
        service_data={},
        service_uuids=[SERVICE_UUID.upper()] if offering else [],
        tx_power=None,
        rssi=-60,
        platform_data=(),
    )


def frames_of(number: int, topic: str, payload: bytes, chunk: int) -> list[bytes]:
    """The frames a badge serves for one message."""
    code = CHANNELS.index(parse_badge_topic(topic).channel)
    return [
        FRAME_HEADER.pack(FRAME_VERSION, code, number, len(payload), offset)
        + payload[offset : offset + chunk]
        for offset in range(0, len(payload), chunk)
    ]


@dataclass
class FakeBadgeGatt:
    """A badge without a network link, holding ``messages`` (topic, payload) to hand over.

    Attributes:
        chunk: payload bytes per frame (1..502).
        drop_link_after_reads: raise BleakError on this read (counted over all connections).
        lose_next_acks: ACK writes that fail after the gateway sent them (the badge keeps
            the message, as if the write never arrived).
        acks: every ACK the badge received, as (number, status).
    """

    messages: list[tuple[str, bytes]]
    chunk: int = 100
    drop_link_after_reads: int | None = None
    lose_next_acks: int = 0
    acks: list[tuple[int, int]] = field(default_factory=list)
    connections: int = 0
    reads: int = 0
    _numbers: list[int] = field(default_factory=list)
    _frames: list[bytes] = field(default_factory=list)
    _position: int = 0

    def __post_init__(self) -> None:
        self._numbers = list(range(100, 100 + len(self.messages)))

    def buffer(self, messages: list[tuple[str, bytes]]) -> None:
        """More messages the badge could not publish itself."""
        start = self._numbers[-1] + 1 if self._numbers else 100 + len(self.acks)
        self._numbers += range(start, start + len(messages))
        self.messages += messages

    @property
    def pending(self) -> int:
        return len(self.messages)

    def connect(self, device: BLEDevice) -> AbstractAsyncContextManager[GattLink]:
        return self._session()

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[GattLink]:
        self.connections += 1
        self._frames, self._position = [], 0
        yield _Link(self)

    def read_outbox(self) -> bytes:
        self.reads += 1
        if self.drop_link_after_reads is not None and self.reads > self.drop_link_after_reads:
            self.drop_link_after_reads = None
            raise BleakError("Not connected")
        if not self.messages:
            return b""
        if not self._frames:
            topic, payload = self.messages[0]
            self._frames = frames_of(self._numbers[0], topic, payload, self.chunk)
        frame = self._frames[self._position % len(self._frames)]
        self._position += 1
        return frame

    def write_ack(self, data: bytes) -> None:
        if self.lose_next_acks:
            self.lose_next_acks -= 1
            raise BleakError("Not connected")
        version, number, status = ACK.unpack(data)
        assert version == FRAME_VERSION
        self.acks.append((number, status))
        if self.messages and number == self._numbers[0]:
            del self.messages[0], self._numbers[0]
            self._frames, self._position = [], 0


class _Link:
    def __init__(self, badge: FakeBadgeGatt) -> None:
        self._badge = badge

    async def read_gatt_char(self, char_specifier: str) -> bytearray:
        assert char_specifier == OUTBOX_UUID
        return bytearray(self._badge.read_outbox())

    async def write_gatt_char(
        self, char_specifier: str, data: bytes, response: bool | None = None
    ) -> None:
        assert char_specifier == ACK_UUID and response is True
        self._badge.write_ack(bytes(data))
