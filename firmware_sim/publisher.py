"""Publishing badge messages: the ``Publisher`` protocol and ``MqttPublisher`` (paho-mqtt 2.x).

This is the only module of the simulator that imports paho. ``MqttPublisher`` opens
a few MQTT connections shared by all badges, like a BLE-to-MQTT bridge would; each
badge always uses the same connection so its messages keep their order. It counts
what the broker acknowledged (PUBACK) per channel, and what failed.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from firmware_sim.errors import PublishError
from protocol.errors import MalformedMessage
from protocol.topics import parse_badge_topic

logger = logging.getLogger(__name__)

QOS = 1


@dataclass(frozen=True)
class PublishStats:
    """What a publisher did.

    Attributes:
        published: messages handed to the publisher.
        acked: messages the broker acknowledged, by channel (last topic level).
        failures: messages that were refused or never acknowledged.
    """

    published: int = 0
    acked: dict[str, int] = field(default_factory=dict)
    failures: int = 0

    @property
    def acked_total(self) -> int:
        """All acknowledged messages."""
        return sum(self.acked.values())


class Publisher(Protocol):
    """Where the simulator's messages go."""

    def start(self) -> None:
        """Connect; raises ``PublishError`` when that is impossible."""
        ...

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one message for delivery (QoS 1); never blocks for long."""
        ...

    def wait_acked(self, timeout: float) -> bool:
        """Wait until everything published so far is acknowledged; False after ``timeout``."""
        ...

    def close(self, timeout: float) -> PublishStats:
        """Wait up to ``timeout`` s for outstanding acknowledgements, disconnect, report."""
        ...


def channel_of_topic(topic: str) -> str:
    """The channel a topic ends with (``reports``, ``taps``, ``status``, ...)."""
    return topic.rsplit("/", 1)[-1]


def badge_of_topic(topic: str) -> str:
    """The badge a topic belongs to, or the topic itself when it is not a badge topic."""
    try:
        return parse_badge_topic(topic).badge
    except MalformedMessage:
        return topic


@dataclass
class _Lane:
    """One MQTT connection and the messages it has not seen acknowledged yet."""

    index: int
    client: mqtt.Client | None = None
    pending: dict[int, str] = field(default_factory=dict)
    early: dict[int, bool] = field(default_factory=dict)
    answered: threading.Event = field(default_factory=threading.Event)
    refused: str = ""


class MqttPublisher:
    """Publishes at QoS 1 over ``connections`` paho clients and counts broker acknowledgements.

    Call ``start``, then ``publish`` from one thread, then ``close``.

    Args:
        host: broker host.
        port: broker port.
        connections: number of MQTT connections shared by all badges.
        max_outstanding: unacknowledged messages allowed before ``publish`` waits.
        connect_timeout: seconds to wait for every connection's CONNACK in ``start``.
        client_prefix: prefix of the MQTT client ids (a random part keeps them unique).
    """

    def __init__(
        self,
        host: str,
        port: int,
        connections: int = 4,
        *,
        max_outstanding: int = 20_000,
        connect_timeout: float = 10.0,
        client_prefix: str = "inperson-sim",
    ) -> None:
        if connections < 1:
            raise ValueError("connections must be >= 1")
        self.host = host
        self.port = port
        self.connections = connections
        self.max_outstanding = max_outstanding
        self.connect_timeout = connect_timeout
        self.client_prefix = client_prefix
        self._lanes = [_Lane(i) for i in range(connections)]
        self._lane_of: dict[str, _Lane] = {}
        self._cond = threading.Condition()
        self._outstanding = 0
        self._published = 0
        self._failures = 0
        self._acked: Counter[str] = Counter()
        self._closing = False

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Connect every client and wait for the broker to accept them.

        Raises:
            PublishError: the broker is unreachable or refuses a connection.
        """
        run = uuid.uuid4().hex[:8]
        try:
            for lane in self._lanes:
                client = mqtt.Client(
                    CallbackAPIVersion.VERSION2,
                    client_id=f"{self.client_prefix}-{run}-{lane.index}",
                    clean_session=True,
                    protocol=MQTTProtocolVersion.MQTTv311,
                    userdata=lane,
                )
                client.max_inflight_messages_set(1000)
                client.max_queued_messages_set(0)
                client.reconnect_delay_set(1, 5)
                client.on_connect = self._on_connect
                client.on_disconnect = self._on_disconnect
                client.on_publish = self._on_publish
                lane.client = client
                client.connect(self.host, self.port, keepalive=30)
                client.loop_start()
        except OSError as exc:
            self._stop_clients()
            raise PublishError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        deadline = time.monotonic() + self.connect_timeout
        for lane in self._lanes:
            remaining = max(0.0, deadline - time.monotonic())
            if not lane.answered.wait(remaining) or lane.refused:
                self._stop_clients()
                reason = lane.refused or f"no CONNACK within {self.connect_timeout} s"
                raise PublishError(f"broker {self.host}:{self.port} refused: {reason}")
        logger.info("connected broker=%s:%d connections=%d", self.host, self.port, self.connections)

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 on the badge's connection; waits while too much is unacknowledged."""
        lane = self._lane_for(topic)
        client = lane.client
        if client is None:
            raise PublishError("publish() before start()", retryable=False)
        channel = channel_of_topic(topic)
        with self._cond:
            self._published += 1
            while self._outstanding >= self.max_outstanding:
                if not self._cond.wait(timeout=5.0):
                    logger.warning("broker slow: %d messages unacknowledged", self._outstanding)
        info = client.publish(topic, payload, qos=QOS)
        with self._cond:
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                self._failures += 1
                logger.warning("publish failed topic=%s rc=%s", topic, mqtt.error_string(info.rc))
            elif info.mid in lane.early:
                # The PUBACK overtook us: paho ran on_publish before we recorded the mid.
                if lane.early.pop(info.mid):
                    self._failures += 1
                else:
                    self._acked[channel] += 1
            else:
                lane.pending[info.mid] = channel
                self._outstanding += 1

    def wait_acked(self, timeout: float) -> bool:
        """Wait until the broker acknowledged every message published so far.

        A barrier: whatever is published afterwards reaches the broker after all of it,
        whichever connection carries it. Returns False if ``timeout`` passed first.
        """
        with self._cond:
            return self._cond.wait_for(lambda: self._outstanding == 0, timeout=timeout)

    def close(self, timeout: float) -> PublishStats:
        """Wait until the broker acknowledged everything (or ``timeout``), then disconnect.

        Messages still unacknowledged at the deadline are counted as failures.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._outstanding == 0, timeout=timeout)
            lost = self._outstanding
            if lost:
                self._failures += lost
                logger.warning("%d messages not acknowledged within %.1f s", lost, timeout)
            self._closing = True
        self._stop_clients()
        stats = self.stats()
        logger.info(
            "publisher closed published=%d acked=%d failures=%d",
            stats.published,
            stats.acked_total,
            stats.failures,
        )
        return stats

    def stats(self) -> PublishStats:
        """Counters so far."""
        with self._cond:
            return PublishStats(self._published, dict(self._acked), self._failures)

    # --- internals ------------------------------------------------------------------

    def _lane_for(self, topic: str) -> _Lane:
        badge = badge_of_topic(topic)
        lane = self._lane_of.get(badge)
        if lane is None:
            lane = self._lanes[len(self._lane_of) % len(self._lanes)]
            self._lane_of[badge] = lane
        return lane

    def _stop_clients(self) -> None:
        for lane in self._lanes:
            if lane.client is not None:
                lane.client.disconnect()
                lane.client.loop_stop()

    # paho callbacks run on paho's network threads; they only touch counters under the lock.

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        lane: _Lane = userdata
        if reason_code.is_failure:
            lane.refused = str(reason_code)
            logger.warning("connection %d refused: %s", lane.index, reason_code)
        else:
            logger.debug("connection %d up", lane.index)
        lane.answered.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        lane: _Lane = userdata
        if not self._closing:
            logger.warning("connection %d lost (%s); paho reconnects", lane.index, reason_code)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        lane: _Lane = userdata
        with self._cond:
            channel = lane.pending.pop(mid, None)
            if channel is None:
                lane.early[mid] = reason_code.is_failure
                return
            self._outstanding -= 1
            if reason_code.is_failure:
                self._failures += 1
            else:
                self._acked[channel] += 1
            self._cond.notify_all()
