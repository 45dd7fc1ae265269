"""AsyncioMqttClient: the gateway's MQTT 3.1.1 session on its own event loop, no thread.

An ``asyncio.Protocol`` receives what the kernel has (up to 256 KiB a read) and
``gateway.mqtt_codec.PacketDecoder`` turns every complete PUBLISH in it into a ``Received``
appended straight to the queue the consumer reads: no thread hand-off, no per-message
callback. Acknowledgements are sent only when ``ack`` is called (after a checkpoint made
the effects durable), all PUBACKs of a call in one ``transport.write``.

Guarantees (the same as ``gateway.subscriber.MqttSubscriber``, paho):

- persistent session (clean_session=False), subscription at QoS 1, the broker redelivers
  what was not acknowledged after a reconnect or a restart of either side;
- each message carries its connection's *generation*; acknowledgements of an earlier
  connection are skipped (its packet ids may name other messages now);
- when ``queue_size`` messages wait, the socket is not read (``transport.pause_reading``)
  until half of them are taken, which pushes back on the broker; the queue then holds at
  most ``queue_size`` plus one read's worth of messages;
- a retained QoS 1 last will; QoS 1 publishes are kept until their PUBACK and sent again
  (DUP) after a reconnect; ``publish_confirmed`` waits for the PUBACK;
- keepalive: a PINGREQ when the connection has been quiet for half the keepalive; a broker
  silent for 1.5 keepalives (while reading) is taken for dead;
- malformed packets from the broker are logged, counted (``protocol_errors``) and end the
  connection; reconnection with jittered exponential backoff (1 s to 10 s ceilings).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Iterable

from gateway.backoff import Backoff
from gateway.errors import MqttProtocolError
from gateway.mqtt_client import Received
from gateway.mqtt_codec import (
    CONNACK,
    PINGRESP,
    PUBACK,
    SUBACK,
    Control,
    PacketDecoder,
    encode_connect,
    encode_disconnect,
    encode_pingreq,
    encode_pubacks,
    encode_subscribe,
)
from gateway.mqtt_outbox import PublishOutbox

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
RECONNECT_MIN_S = 1.0
RECONNECT_MAX_S = 10.0
_CONNACK_CODES = {
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class _Connection(asyncio.Protocol):
    """One TCP connection to the broker: parses what arrives into the client's queue."""

    def __init__(self, client: AsyncioMqttClient, generation: int) -> None:
        loop = asyncio.get_running_loop()
        self.client = client
        self.generation = generation
        self.decoder = PacketDecoder()
        self.transport: asyncio.Transport | None = None
        self.connack: asyncio.Future[tuple[bool, int]] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.paused = False
        self.last_read = self.last_write = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)
            self.last_write = time.monotonic()

    def data_received(self, data: bytes) -> None:
        client = self.client
        inbox = client._inbox
        self.last_read = time.monotonic()
        try:
            controls = self.decoder.feed(data, self.generation, inbox)
        except MqttProtocolError as exc:
            client._protocol_errors += 1
            logger.error("malformed packet from the broker (%s); reconnecting", exc.detail)
            if self.transport is not None:
                self.transport.abort()
            return
        if controls:
            client._on_controls(self, controls)
        if inbox:
            client._ready.set()
            if len(inbox) >= client._queue_size and not self.paused and self.transport:
                self.transport.pause_reading()
                self.paused = True

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
            self.last_read = time.monotonic()  # silence while paused was ours
        self.paused = False

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._on_lost(self, exc)
        if not self.lost.done():
            self.lost.set_result(None)
        if not self.connack.done():
            self.connack.set_exception(ConnectionError("connection closed before CONNACK"))


class AsyncioMqttClient:
    """Subscribes to one topic filter and queues what arrives (see the module docstring).

    Args:
        host: broker host.
        port: broker port.
        client_id: MQTT client id; keep it stable so the persistent session survives.
        subscription: topic filter (QoS 1).
        will_topic: topic of the retained last will.
        will_payload: the last will (a GatewayStatus with state "offline").
        queue_size: messages waiting for the processing stage before the socket is paused.
        keepalive: MQTT keepalive in seconds.
        rng: the jitter of the reconnection backoff.
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
        rng: random.Random | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._client_id = client_id
        self._subscription = subscription
        self._will = (will_topic, will_payload)
        self._queue_size = queue_size
        self._resume_below = max(1, queue_size // 2)
        self._keepalive = keepalive
        self._rng = rng or random.Random()
        self._inbox: deque[Received] = deque()
        self._ready = asyncio.Event()
        self._subscribed = asyncio.Event()
        self._conn: _Connection | None = None
        self._connected = False
        self._generation = 0
        self._protocol_errors = 0
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._subscribe_id = 0
        self._outbox = PublishOutbox()

    @property
    def is_connected(self) -> bool:
        """True while a connection to the broker is up (CONNACK accepted)."""
        return self._connected

    @property
    def is_subscribed(self) -> bool:
        """True once the broker confirmed the subscription on the current connection."""
        return self._subscribed.is_set()

    @property
    def dropped_publishes(self) -> int:
        """Publishes refused because too many waited for their PUBACK."""
        return self._outbox.dropped

    @property
    def queued(self) -> int:
        """Messages waiting for ``get``."""
        return len(self._inbox)

    @property
    def is_reading_paused(self) -> bool:
        """True while the socket is not read because the queue is full."""
        return self._conn is not None and self._conn.paused

    @property
    def protocol_errors(self) -> int:
        """How many connections were dropped because the broker sent malformed packets."""
        return self._protocol_errors

    async def start(self) -> None:
        """Start the connection task; it connects (and reconnects) by itself."""
        self._task = asyncio.create_task(self._run(), name=f"mqtt-{self._client_id}")
        logger.info("connecting to broker %s:%d as %s", self._host, self._port, self._client_id)

    async def wait_subscribed(self, timeout: float) -> bool:
        """Wait until the subscription is confirmed; return False after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._subscribed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def get(self) -> Received:
        """Return the next message (waits)."""
        ready = self._ready
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            ready.clear()
            await ready.wait()

    def get_nowait(self) -> Received | None:
        """Return the next message if one is queued."""
        inbox = self._inbox
        if not inbox:
            return None
        item = inbox.popleft()
        conn = self._conn
        if conn is not None and conn.paused and len(inbox) < self._resume_below:
            conn.resume()
        return item

    def ack(self, messages: Iterable[Received]) -> int:
        """Acknowledge messages in the order given, in one write; return how many were sent.

        Messages from an earlier connection are skipped (the broker redelivers them).
        """
        conn = self._conn
        generation = self._generation if conn is not None and self._connected else -1
        ids: list[int] = []
        skipped = 0
        for message in messages:
            if message.qos == 0:
                continue
            if message.generation != generation:
                skipped += 1
                continue
            ids.append(message.mid)
        if ids and conn is not None:
            conn.write(encode_pubacks(ids))
        if skipped:
            logger.info("skipped %d acknowledgements from a previous connection", skipped)
        return len(ids)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1; kept (and sent again after a reconnect) until acknowledged."""
        self._publish(topic, payload, retain)

    async def publish_confirmed(self, topic: str, payload: bytes, timeout: float) -> bool:
        """Publish at QoS 1; True once the broker acknowledged it within ``timeout`` seconds."""
        return await self._confirmed(topic, payload, retain=False, timeout=timeout)

    async def stop(self, final: tuple[str, bytes] | None = None, timeout: float = 2.0) -> None:
        """Publish ``final`` (topic, payload; retained) if connected, disconnect, stop.

        Messages still queued are not acknowledged; the broker keeps them for the session.
        The broker handles a connection's packets in order, so once ``final`` is
        acknowledged every acknowledgement sent before it has arrived.
        """
        self._closing = True
        conn = self._conn
        if final is not None and conn is not None and self._connected:
            if not await self._confirmed(final[0], final[1], retain=True, timeout=timeout):
                logger.warning("final status not acknowledged within %.1f s", timeout)
        conn = self._conn
        if conn is not None and conn.transport is not None:
            conn.write(encode_disconnect())
            conn.transport.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(conn.lost), timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        logger.info("disconnected from broker")

    # --- publishing ------------------------------------------------------------------

    def _publish(self, topic: str, payload: bytes, retain: bool) -> int | None:
        added = self._outbox.add(topic, payload, retain=retain, reserved=self._subscribe_id)
        if added is None:
            return None
        packet_id, packet = added
        if self._conn is not None and self._connected:
            self._conn.write(packet)
        return packet_id

    async def _confirmed(self, topic: str, payload: bytes, *, retain: bool, timeout: float) -> bool:
        packet_id = self._publish(topic, payload, retain)
        return packet_id is not None and await self._outbox.wait(packet_id, timeout)

    # --- the connection ------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = Backoff(RECONNECT_MIN_S, RECONNECT_MAX_S, self._rng)
        while not self._closing:
            try:
                if await self._session():
                    backoff.reset()
            except (OSError, TimeoutError, ConnectionError) as exc:
                logger.warning("cannot reach the broker %s:%d: %s", self._host, self._port, exc)
            if self._closing:
                return
            delay = backoff.next_delay()
            logger.info("reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)

    async def _session(self) -> bool:
        """One connection, until it is lost; True if the broker accepted it."""
        loop = asyncio.get_running_loop()
        conn = _Connection(self, self._generation)
        await asyncio.wait_for(
            loop.create_connection(lambda: conn, self._host, self._port), CONNECT_TIMEOUT_S
        )
        self._conn = conn
        keepalive: asyncio.Task[None] | None = None
        try:
            conn.write(
                encode_connect(
                    self._client_id,
                    keepalive=self._keepalive,
                    clean_session=False,
                    will=self._will,
                )
            )
            session_present, code = await asyncio.wait_for(
                asyncio.shield(conn.connack), CONNECT_TIMEOUT_S
            )
            if code:
                reason = _CONNACK_CODES.get(code, f"code {code}")
                logger.error("broker refused the connection: %s", reason)
                return False
            self._connected = True
            logger.info(
                "connected to broker %s:%d session_present=%s",
                self._host,
                self._port,
                session_present,
            )
            self._subscribe_id = self._outbox.allocate_id()
            conn.write(encode_subscribe(self._subscribe_id, self._subscription, 1))
            for packet in self._outbox.resend():  # unacknowledged publishes, in order
                conn.write(packet)
            if self._keepalive:
                keepalive = asyncio.create_task(self._keep_alive(conn))
            await asyncio.shield(conn.lost)
            return True
        finally:
            if keepalive is not None:
                keepalive.cancel()
            if conn.transport is not None and not conn.lost.done():
                conn.transport.abort()
                await asyncio.shield(conn.lost)
            if conn.connack.done() and not conn.connack.cancelled():
                conn.connack.exception()  # retrieved, so asyncio does not log it at collection

    async def _keep_alive(self, conn: _Connection) -> None:
        quiet = self._keepalive / 2
        while True:
            await asyncio.sleep(quiet)
            now = time.monotonic()
            if not conn.paused and now - conn.last_read > 1.5 * self._keepalive:
                logger.warning(
                    "the broker was silent for %.0f s; reconnecting", now - conn.last_read
                )
                if conn.transport is not None:
                    conn.transport.abort()
                return
            if now - conn.last_write >= quiet or now - conn.last_read >= quiet:
                conn.write(encode_pingreq())

    def _on_controls(self, conn: _Connection, controls: list[Control]) -> None:
        for kind, body in controls:
            if kind == PUBACK:
                self._outbox.acknowledged(int.from_bytes(body, "big"))
            elif kind == CONNACK:
                if not conn.connack.done():
                    conn.connack.set_result((bool(body[0] & 0x01), body[1]))
            elif kind == SUBACK:
                self._on_suback(body)
            elif kind != PINGRESP:
                logger.debug("ignored packet type %d", kind)

    def _on_suback(self, body: bytes) -> None:
        packet_id = int.from_bytes(body[:2], "big")
        if packet_id != self._subscribe_id:
            logger.warning("SUBACK for unknown packet id %d", packet_id)
            return
        self._subscribe_id = 0
        if any(code == 0x80 for code in body[2:]):
            logger.error("broker refused subscription %s", self._subscription)
            return
        self._subscribed.set()
        logger.info("subscribed to %s", self._subscription)

    def _on_lost(self, conn: _Connection, exc: Exception | None) -> None:
        if conn is not self._conn:
            return
        self._conn = None
        self._connected = False
        self._subscribed.clear()
        self._generation += 1
        if not self._closing:
            logger.warning("lost the broker (%s); reconnecting", exc or "connection closed")
