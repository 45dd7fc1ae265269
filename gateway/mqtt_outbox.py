"""PublishOutbox: the asyncio MQTT client's QoS 1 publishes, kept until their PUBACK.

Packet ids are allocated here (1 to 65,535, never one still waiting, nor the one
reserved for a SUBSCRIBE). Each publish is kept encoded, in order, until the broker
acknowledges it, so that it can be sent again (with the DUP flag) on the next connection;
``publish_confirmed`` waits on a future per packet id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from gateway.mqtt_codec import encode_publish

logger = logging.getLogger(__name__)

OUTBOX_LIMIT = 10_000
"""Most QoS 1 publishes kept unacknowledged (while disconnected, say); more are dropped."""
_DUP = 0x08


class PublishOutbox:
    """Unacknowledged QoS 1 publishes, in the order they were made.

    Args:
        limit: most publishes kept; ``add`` refuses (and counts) more.
    """

    def __init__(self, limit: int = OUTBOX_LIMIT) -> None:
        self._limit = limit
        self._packets: dict[int, bytes] = {}
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._next_id = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._packets)

    def allocate_id(self, reserved: int = 0) -> int:
        """A packet id no kept publish uses, and not ``reserved``."""
        for _ in range(0xFFFF):
            self._next_id = self._next_id % 0xFFFF + 1
            if self._next_id not in self._packets and self._next_id != reserved:
                return self._next_id
        raise RuntimeError("no free MQTT packet id")  # unreachable: limit < 65,535

    def add(
        self, topic: str, payload: bytes, *, retain: bool, reserved: int = 0
    ) -> tuple[int, bytes] | None:
        """Keep a new publish; return its packet id and packet, None (counted) if full."""
        if len(self._packets) >= self._limit:
            self.dropped += 1
            logger.warning(
                "%d publishes await their PUBACK; dropping one to %s", self._limit, topic
            )
            return None
        packet_id = self.allocate_id(reserved)
        packet = encode_publish(topic, payload, qos=1, packet_id=packet_id, retain=retain)
        self._packets[packet_id] = packet
        return packet_id, packet

    def resend(self) -> Iterator[bytes]:
        """Every kept publish, in order, marked DUP (for a new connection)."""
        for packet in self._packets.values():
            yield bytes([packet[0] | _DUP]) + packet[1:]

    def acknowledged(self, packet_id: int) -> None:
        """The broker's PUBACK: forget the publish and wake whoever waits for it."""
        self._packets.pop(packet_id, None)
        waiter = self._waiters.pop(packet_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, packet_id: int, timeout: float) -> bool:
        """Wait for the PUBACK of publish ``packet_id``; False after ``timeout`` seconds."""
        if packet_id not in self._packets:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[packet_id] = waiter
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return False
        finally:
            self._waiters.pop(packet_id, None)
        return True
