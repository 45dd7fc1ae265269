"""The BLE relay: badges without a network link hand their signed messages to the gateway.

docs/protocol.md section 3.2. A badge with buffered messages and no network link adds
``SERVICE_UUID`` to its advertisement and becomes connectable. The scanner's callback
(``BleRelay.on_advertisement``) resolves its EphID and queues a *visit* (bounded: at most
``MAX_QUEUED`` waiting, one visit per badge per ``REVISIT_S``). A visit connects with
bleak's ``BleakClient``, reads frames from the OUTBOX characteristic until one message
is whole, publishes it unchanged on the badge's topic at QoS 1, waits for the broker's
acknowledgement and only then writes the message number to the ACK characteristic, so
the badge drops it from its buffer; then the next message, up to ``MAX_PER_VISIT``.

The relay verifies the signature before publishing (nothing unsigned reaches the bus on
a badge's behalf; a refused message is acknowledged with status REFUSED so the badge drops
it) and remembers digests of the last ``SEEN`` messages it published: a message handed over
again (the badge missed the ACK) is acknowledged without publishing it twice. Everything
is counted (``ble_relay_*``). The gateway itself then receives the published message from
the broker like any other: the relay adds no trust of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import struct
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

from gateway.ble import parse_advertisement
from gateway.clock import Clock
from gateway.errors import GatewayError
from gateway.registry import BadgeRegistry
from protocol.encoding import MAX_PAYLOAD, split_payload
from protocol.errors import ProtocolError
from protocol.topics import BadgeChannel, badge_topic

if TYPE_CHECKING:
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

logger = logging.getLogger(__name__)

SERVICE_UUID = "9fdb1e8b-8bad-4768-a334-925b34047047"
"""The relay GATT service; a badge lists it in its advertisement while it has messages."""
OUTBOX_UUID = "9fdb1e8c-8bad-4768-a334-925b34047047"
"""Read: the next frame of the badge's oldest unacknowledged message (empty: none left)."""
ACK_UUID = "9fdb1e8d-8bad-4768-a334-925b34047047"
"""Write with response: ``version, number (uint32), status`` for a whole message."""

FRAME_VERSION = 1
FRAME_HEADER = struct.Struct(">BBIHH")
"""version, channel code, message number, total length, offset of this chunk."""
MAX_FRAME = 512
"""Largest attribute value (ATT); bleak's read does the long read."""
ACK = struct.Struct(">BIB")
PUBLISHED = 0
REFUSED = 1
CHANNELS = (BadgeChannel.REPORTS, BadgeChannel.TAPS, BadgeChannel.CHECKINS, BadgeChannel.STATUS)
"""Channel codes 0-3 in frames."""

MAX_QUEUED = 16
MAX_PER_VISIT = 64
REVISIT_S = 5.0
VISIT_TIMEOUT_S = 30.0
SEEN = 4096


class RelayError(GatewayError):
    """A visit ended early: bad frames, a lost link, or the broker did not acknowledge."""


class GattLink(Protocol):
    """The part of bleak's ``BleakClient`` the relay uses (connected, inside ``async with``)."""

    async def read_gatt_char(self, char_specifier: str) -> bytearray:
        """Read a characteristic's value."""
        ...

    async def write_gatt_char(
        self, char_specifier: str, data: bytes, response: bool | None = None
    ) -> None:
        """Write a characteristic's value."""
        ...


Connect = Callable[["BLEDevice"], AbstractAsyncContextManager[GattLink]]
Publish = Callable[[str, bytes], Awaitable[None]]
"""Publish at QoS 1 and return once the broker acknowledged; raise RelayError otherwise."""


def bleak_connect(device: BLEDevice) -> AbstractAsyncContextManager[GattLink]:
    """Connect with bleak's ``BleakClient`` (the default ``Connect``)."""
    from bleak import BleakClient

    client: Any = BleakClient(device, timeout=10.0)
    return client  # type: ignore[no-any-return]


class Reassembly:
    """The frames of one message, in order."""

    def __init__(self) -> None:
        self.number: int | None = None
        self.channel = BadgeChannel.REPORTS
        self.total = 0
        self.data = bytearray()

    def add(self, frame: bytes) -> bytes | None:
        """Take the next frame; return the whole payload once complete.

        Raises:
            RelayError: the frame does not follow the previous ones or breaks a limit.
        """
        if len(frame) <= FRAME_HEADER.size or len(frame) > MAX_FRAME:
            raise RelayError(f"frame of {len(frame)} bytes")
        version, code, number, total, offset = FRAME_HEADER.unpack_from(frame)
        if version != FRAME_VERSION:
            raise RelayError(f"frame version {version}")
        if code >= len(CHANNELS):
            raise RelayError(f"channel code {code}")
        channel = CHANNELS[code]
        if self.number is None:
            if offset != 0 or not 0 < total <= MAX_PAYLOAD[channel]:
                raise RelayError(f"first frame offset={offset} total={total} on {channel}")
            self.number, self.channel, self.total = number, channel, total
        elif (number, channel, total, offset) != (
            self.number,
            self.channel,
            self.total,
            len(self.data),
        ):
            raise RelayError(f"frame of message {number} at {offset} does not follow")
        self.data += frame[FRAME_HEADER.size :]
        if len(self.data) > self.total:
            raise RelayError(f"message {number} longer than its total {self.total}")
        return bytes(self.data) if len(self.data) == self.total else None


class BleRelay:
    """Relays the buffered messages of badges without a network link (see the module doc).

    Args:
        registry: resolves EphIDs and holds the badges' public keys.
        publish: QoS 1 publish that returns after the broker's acknowledgement.
        counters: shared counters (``ble_relay_*``).
        clock: wall time (EphID epoch, revisit spacing).
        connect: opens a GATT link to a device; bleak's ``BleakClient`` by default.
    """

    def __init__(
        self,
        registry: BadgeRegistry,
        publish: Publish,
        counters: Counter[str],
        clock: Clock,
        *,
        connect: Connect = bleak_connect,
    ) -> None:
        self._registry = registry
        self._publish = publish
        self._counters = counters
        self._clock = clock
        self._connect = connect
        self._queue: asyncio.Queue[tuple[str, BLEDevice]] = asyncio.Queue(MAX_QUEUED)
        self._queued: set[str] = set()
        self._last_visit: dict[str, float] = {}
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._link_errors = _link_errors()

    def on_advertisement(self, device: BLEDevice, advertisement: AdvertisementData) -> None:
        """bleak's detection callback: queue a visit to a badge that offers messages."""
        uuids = {uuid.lower() for uuid in advertisement.service_uuids}
        if SERVICE_UUID not in uuids:
            return
        ephid = parse_advertisement(advertisement.manufacturer_data)
        if ephid is None:
            return
        now = self._clock.now()
        badge = self._registry.resolve(ephid, int(now))
        if badge is None or badge in self._queued:
            return
        if now - self._last_visit.get(badge, -REVISIT_S) < REVISIT_S:
            return
        try:
            self._queue.put_nowait((badge, device))
        except asyncio.QueueFull:
            self._counters["ble_relay_visits_dropped"] += 1
            return
        self._queued.add(badge)

    @property
    def queued(self) -> int:
        """Visits waiting."""
        return self._queue.qsize()

    async def run(self) -> None:
        """Visit queued badges one at a time, forever."""
        while True:
            badge, device = await self._queue.get()
            try:
                await self.visit(badge, device)
            finally:
                self._queued.discard(badge)

    async def visit(self, badge: str, device: BLEDevice) -> int:
        """Connect, relay up to ``MAX_PER_VISIT`` messages; return how many were published.

        Never raises for a bad badge or link: it is counted and logged.
        """
        self._last_visit[badge] = self._clock.now()
        self._forget_old_visits()
        self._counters["ble_relay_visits"] += 1
        before = self._counters["ble_relay_published"]
        try:
            async with asyncio.timeout(VISIT_TIMEOUT_S), self._connect(device) as link:
                for _ in range(MAX_PER_VISIT):
                    if not await self._relay_one(badge, link):
                        break
        except RelayError as exc:
            self._counters["ble_relay_failed"] += 1
            logger.warning("relay visit to badge=%s ended: %s", badge, exc.detail)
        except self._link_errors as exc:
            self._counters["ble_relay_failed"] += 1
            logger.warning("relay visit to badge=%s lost the link: %r", badge, exc)
        published = self._counters["ble_relay_published"] - before
        logger.debug("relay visit badge=%s published=%d", badge, published)
        return published

    async def _relay_one(self, badge: str, link: GattLink) -> bool:
        """Relay the badge's next message; False when it has none left."""
        message = Reassembly()
        payload = None
        while payload is None:
            frame = bytes(await link.read_gatt_char(OUTBOX_UUID))
            if not frame and message.number is None:
                return False
            if not frame:
                raise RelayError(f"message {message.number} cut off")
            payload = message.add(frame)
        assert message.number is not None
        topic = badge_topic(self._registry.event, badge, message.channel)
        status, fresh = self._judge(badge, message.channel, topic, payload)
        if status == PUBLISHED and fresh:
            await self._publish(topic, payload)
            self._remember(topic, payload)
            self._counters["ble_relay_published"] += 1
        ack = ACK.pack(FRAME_VERSION, message.number, status)
        await link.write_gatt_char(ACK_UUID, ack, response=True)
        return True

    def _judge(
        self, badge: str, channel: BadgeChannel, topic: str, payload: bytes
    ) -> tuple[int, bool]:
        """(PUBLISHED, is it new) for a message signed by the badge, else (REFUSED, False)."""
        entry = self._registry.lookup(badge)
        try:
            if entry is None or entry.revoked:
                raise RelayError("badge is not registered or revoked")
            signature, body = split_payload(payload, channel)
            entry.verifier.verify(topic, body, signature)
        except (ProtocolError, RelayError) as exc:
            self._counters["ble_relay_refused"] += 1
            logger.warning("relay refused a message of badge=%s: %s", badge, exc)
            return REFUSED, False
        if _digest(topic, payload) in self._seen:
            self._counters["ble_relay_duplicates"] += 1
            return PUBLISHED, False
        return PUBLISHED, True

    def _remember(self, topic: str, payload: bytes) -> None:
        self._seen[_digest(topic, payload)] = None
        while len(self._seen) > SEEN:
            self._seen.popitem(last=False)

    def _forget_old_visits(self) -> None:
        horizon = self._clock.now() - REVISIT_S
        if len(self._last_visit) > 4 * SEEN:
            self._last_visit = {b: t for b, t in self._last_visit.items() if t >= horizon}


def _link_errors() -> tuple[type[BaseException], ...]:
    """What a GATT link raises when it fails: OS errors, timeouts, and bleak's own."""
    errors: tuple[type[BaseException], ...] = (OSError, TimeoutError, EOFError)
    try:
        from bleak.exc import BleakError
    except ImportError:
        return errors
    return (*errors, BleakError)


def _digest(topic: str, payload: bytes) -> bytes:
    return hashlib.blake2b(topic.encode() + b"\x00" + payload, digest_size=16).digest()
