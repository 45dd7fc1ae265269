"""Check-ins of other events: a second subscription, so readers can decide ``not_registered``.

A badge of another event answers our reader's nonce on its own event's topic, which the
main subscription (our event's badges only) never sees. This stage subscribes to
``inperson/v1/+/badges/+/checkins`` on its own MQTT session and hands each check-in of
another event to the readers. Its messages are acknowledged like the main ones: only
after the checkpoint that holds what was derived from them (``take`` / ``ack``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from gateway.mqtt_client import MqttClient, Received
from protocol.errors import MalformedMessage
from protocol.topics import PREFIX, BadgeChannel, parse_badge_topic

logger = logging.getLogger(__name__)

SUBSCRIPTION = f"{PREFIX}/+/badges/+/{BadgeChannel.CHECKINS.value}"
"""Every badge check-in of every event on the broker."""

Decide = Callable[[str, bytes], None]


class ForeignCheckIns:
    """Feeds other events' check-ins to the readers; our own event's copies are skipped.

    Args:
        subscriber: an ``MqttClient`` on ``SUBSCRIPTION`` with its own client id.
        event: our event (its check-ins come through the main subscription).
        decide: called with (topic, payload) of each check-in of another event.
        wake: called after each message (it waits for a checkpoint).
    """

    def __init__(
        self, subscriber: MqttClient, event: str, decide: Decide, wake: Callable[[], None]
    ) -> None:
        self._subscriber = subscriber
        self._event = event
        self._decide = decide
        self._wake = wake
        self._pending: list[Received] = []
        self.received = 0

    async def start(self) -> None:
        """Start the subscriber's network thread."""
        await self._subscriber.start()

    async def run(self) -> None:
        """Decide each check-in of another event as it arrives, until cancelled."""
        while True:
            item = await self._subscriber.get()
            try:
                event: str | None = parse_badge_topic(item.topic).event
            except MalformedMessage:
                event = None
            if event is not None and event != self._event:
                self.received += 1
                self._decide(item.topic, item.payload)
            self._pending.append(item)
            self._wake()

    @property
    def has_pending(self) -> bool:
        """Whether messages wait for a checkpoint."""
        return bool(self._pending)

    def take(self) -> list[Received]:
        """The messages handled since the last call (acknowledge them after the checkpoint)."""
        pending, self._pending = self._pending, []
        return pending

    def give_back(self, items: list[Received]) -> None:
        """Put back what a failed checkpoint did not cover."""
        self._pending[:0] = items

    def ack(self, items: Iterable[Received]) -> int:
        """Acknowledge messages to the broker; return how many were sent."""
        return self._subscriber.ack(items)

    @property
    def is_subscribed(self) -> bool:
        """True once the broker confirmed the subscription."""
        return self._subscriber.is_subscribed

    async def stop(self) -> None:
        """Disconnect (unacknowledged messages stay with the broker for the session)."""
        await self._subscriber.stop()
