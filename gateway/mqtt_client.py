"""MqttClient: what the gateway needs from its MQTT session, whichever client provides it.

Two implementations satisfy it, chosen by ``GATEWAY_MQTT_CLIENT``:

- ``paho``: ``gateway.subscriber.MqttSubscriber`` (paho's network thread, a deque hand-off);
- ``asyncio``: ``gateway.mqtt_asyncio.AsyncioMqttClient`` (an ``asyncio.Protocol`` on the
  gateway's event loop, ``gateway.mqtt_codec`` parsing many PUBLISH packets per read).

Both keep the same guarantees: a persistent session (clean_session=False) subscribed at
QoS 1, acknowledgements sent only when ``ack`` is called (after the effects are durable),
acknowledgements of messages from an earlier connection skipped (packet ids are per
connection), a bounded queue that stops reading the socket when full, a retained last will,
QoS 1 publishes queued while disconnected, and reconnection with backoff.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

ClientKind = Literal["paho", "asyncio"]


@dataclass(frozen=True, slots=True)
class Received:
    """One MQTT message as the processing stage sees it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int


class MqttClient(Protocol):
    """A persistent MQTT session for one subscription, acknowledged by hand."""

    @property
    def is_connected(self) -> bool:
        """True while a connection to the broker is up."""
        ...

    @property
    def is_subscribed(self) -> bool:
        """True once the broker confirmed the subscription on the current connection."""
        ...

    @property
    def protocol_errors(self) -> int:
        """How many connections were dropped because the broker sent malformed packets."""
        ...

    async def start(self) -> None:
        """Start connecting (and reconnecting) in the background."""
        ...

    async def wait_subscribed(self, timeout: float) -> bool:
        """Wait until the subscription is confirmed; False after ``timeout`` seconds."""
        ...

    async def get(self) -> Received:
        """Return the next message (waits)."""
        ...

    def get_nowait(self) -> Received | None:
        """Return the next message if one is queued."""
        ...

    def ack(self, messages: Iterable[Received]) -> int:
        """Acknowledge messages of the current connection; return how many were sent."""
        ...

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 (queued while disconnected)."""
        ...

    async def publish_confirmed(self, topic: str, payload: bytes, timeout: float) -> bool:
        """Publish at QoS 1; True once the broker acknowledged it within ``timeout``."""
        ...

    async def stop(self, final: tuple[str, bytes] | None = None, timeout: float = 2.0) -> None:
        """Publish ``final`` (retained) if connected, disconnect, stop."""
        ...
