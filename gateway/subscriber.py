"""MqttSubscriber: the paho implementation of ``gateway.mqtt_client.MqttClient``.

The only module of the gateway that imports paho (``GATEWAY_MQTT_CLIENT=paho``; the
other implementation is ``gateway.mqtt_asyncio``).

A persistent session (clean_session=False) with manual acknowledgement: a message is
acknowledged only when the service says its effects are durable, so a killed gateway
gets unacknowledged messages redelivered. paho's network thread hands each message to
asyncio through a deque; it wakes the event loop (``loop.call_soon_threadsafe``) only when
no wake-up is pending yet, so a burst costs one wake-up, not one per message. When
``queue_size`` messages wait, that thread waits too, which stops reading from the socket
and pushes back on the broker.

Packet ids are per connection: a message received before a disconnect must not be
acknowledged after it (the id may then name another message). Each message carries
the connection *generation* it arrived on, and stale acknowledgements are skipped;
the broker redelivers those messages, which the verifier then sees as duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from gateway.mqtt_client import Received

logger = logging.getLogger(__name__)

_HANDOFF_POLL_S = 0.2


class MqttSubscriber:
    """Subscribes to the badge topics of one event and queues what arrives.

    Args:
        host: broker host.
        port: broker port.
        client_id: MQTT client id; keep it stable so the persistent session survives.
        subscription: topic filter (QoS 1).
        will_topic: topic of the retained last will.
        will_payload: the last will (a GatewayStatus with state "offline").
        queue_size: most messages waiting for the processing stage.
        keepalive: MQTT keepalive in seconds.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        subscription: str,
        will_topic: str,
        will_payload: bytes,
        queue_size: int,
        keepalive: int = 30,
    ) -> None:
        self._host = host
        self._port = port
        self._client_id = client_id
        self._subscription = subscription
        self._will_topic = will_topic
        self._will_payload = will_payload
        self._queue_size = queue_size
        self._keepalive = keepalive
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: deque[Received] = deque()
        self._ready: asyncio.Event | None = None
        self._wake_pending = False
        self._slots = threading.BoundedSemaphore(queue_size)
        self._lock = threading.Lock()
        self._generation = 0
        self._closing = threading.Event()
        self._connected = threading.Event()
        self._subscribed = threading.Event()

    @property
    def is_connected(self) -> bool:
        """True while a connection to the broker is up."""
        return self._connected.is_set()

    @property
    def is_subscribed(self) -> bool:
        """True once the broker confirmed the subscription on the current connection."""
        return self._subscribed.is_set()

    @property
    def protocol_errors(self) -> int:
        """Always 0: paho handles malformed packets itself (it disconnects and reconnects)."""
        return 0

    async def start(self) -> None:
        """Start paho's network thread; it connects (and reconnects) by itself."""
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        client.will_set(self._will_topic, self._will_payload, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._client = client
        client.connect_async(self._host, self._port, keepalive=self._keepalive)
        client.loop_start()
        logger.info("connecting to broker %s:%d as %s", self._host, self._port, self._client_id)

    async def wait_subscribed(self, timeout: float) -> bool:
        """Wait until the subscription is confirmed; return False after ``timeout`` seconds."""
        return await asyncio.to_thread(self._subscribed.wait, timeout)

    async def get(self) -> Received:
        """Return the next message (waits)."""
        ready = self._ready
        if ready is None:
            raise RuntimeError("subscriber not started")
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            # no await between the empty deque and clear(): a wake-up cannot slip in
            ready.clear()
            await ready.wait()

    def get_nowait(self) -> Received | None:
        """Return the next message if one is queued."""
        try:
            item = self._inbox.popleft()
        except IndexError:
            return None
        self._slots.release()
        return item

    def _wake(self) -> None:
        """Event loop: tell ``get`` that messages wait (scheduled by the network thread)."""
        self._wake_pending = False
        if self._ready is not None:
            self._ready.set()

    def ack(self, messages: Iterable[Received]) -> int:
        """Acknowledge messages in the order given; return how many were sent.

        Messages from an earlier connection are skipped (the broker redelivers them).
        """
        client = self._client
        if client is None:
            return 0
        sent = skipped = 0
        with self._lock:
            generation = self._generation
            for message in messages:
                if message.qos == 0:
                    continue
                if message.generation != generation:
                    skipped += 1
                    continue
                client.ack(message.mid, message.qos)
                sent += 1
        if skipped:
            logger.info("skipped %d acknowledgements from a previous connection", skipped)
        return sent

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 (queued by paho while disconnected)."""
        self._publish(topic, payload, retain)

    def _publish(self, topic: str, payload: bytes, retain: bool) -> mqtt.MQTTMessageInfo:
        if self._client is None:
            raise RuntimeError("subscriber not started")
        return self._client.publish(topic, payload, qos=1, retain=retain)

    async def publish_confirmed(self, topic: str, payload: bytes, timeout: float) -> bool:
        """Publish at QoS 1; True once the broker acknowledged it within ``timeout`` seconds."""
        info = self._publish(topic, payload, False)
        return await asyncio.to_thread(_wait_acknowledged, info, timeout)

    async def stop(self, final: tuple[str, bytes] | None = None, timeout: float = 2.0) -> None:
        """Publish ``final`` (topic, payload; retained) if connected, disconnect, stop the thread.

        Messages still queued are not acknowledged; the broker keeps them for the session.
        Acknowledgements sent just before are only sure to have reached the broker once
        ``final`` is acknowledged (the broker handles a connection's packets in order);
        disconnecting right after them may lose some (they are then redelivered).
        """
        self._closing.set()
        client = self._client
        if client is None:
            return
        if final is not None and self.is_connected:
            info = client.publish(final[0], final[1], qos=1, retain=True)
            await asyncio.to_thread(_wait_published, info, timeout)
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)
        self._client = None
        logger.info("disconnected from broker")

    # --- paho callbacks (network thread): never touch application state ---------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            logger.error("broker refused the connection: %s", reason_code)
            return
        self._connected.set()
        logger.info(
            "connected to broker %s:%d session_present=%s",
            self._host,
            self._port,
            flags.session_present,
        )
        result, _ = client.subscribe(self._subscription, qos=1)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            logger.error("subscribe to %s failed: %s", self._subscription, result)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Any,
    ) -> None:
        failures = [code for code in reason_codes if code.is_failure]
        if failures:
            logger.error("broker refused subscription %s: %s", self._subscription, failures)
            return
        self._subscribed.set()
        logger.info("subscribed to %s", self._subscription)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        self._connected.clear()
        self._subscribed.clear()
        with self._lock:
            self._generation += 1
        if self._closing.is_set():
            return
        logger.warning("lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = "<topic is not UTF-8>"
        item = Received(topic, bytes(message.payload), message.mid, message.qos, self._generation)
        # Back pressure: wait for a free slot, but give up when closing so that
        # loop_stop() can join this thread; the message stays unacknowledged.
        while not self._slots.acquire(timeout=_HANDOFF_POLL_S):
            if self._closing.is_set():
                return
        loop = self._loop
        if loop is None:
            self._slots.release()
            return
        # append first, then look at the flag: a wake-up that runs after this look sees
        # the item; one that ran before it cleared the flag, so another is scheduled
        self._inbox.append(item)
        if self._wake_pending:
            return
        self._wake_pending = True
        try:
            loop.call_soon_threadsafe(self._wake)
        except RuntimeError:
            self._wake_pending = False  # the loop is closed: nobody reads any more


def _wait_acknowledged(info: mqtt.MQTTMessageInfo, timeout: float) -> bool:
    try:
        info.wait_for_publish(timeout)
    except (RuntimeError, ValueError) as exc:
        logger.warning("publish not acknowledged: %s", exc)
        return False
    return info.is_published()


def _wait_published(info: mqtt.MQTTMessageInfo, timeout: float) -> None:
    try:
        info.wait_for_publish(timeout)
    except (RuntimeError, ValueError) as exc:
        logger.warning("final status not published: %s", exc)
