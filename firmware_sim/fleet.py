"""``FleetPublisher``: one MQTT connection per badge, thousands of them, on a few selector threads.

The realistic publishing mode: every badge holds its own MQTT session to the broker,
as a badge with Wi-Fi would. paho's own network thread per client does not scale to
thousands of clients, so the clients run on paho's external-loop interface
(``loop_read`` / ``loop_write`` / ``loop_misc`` and the socket callbacks) driven by a
few ``selectors`` threads (``firmware_sim.shard``). Every client is touched by its
shard's thread only, under a per-connection lock, except ``publish`` which hands the
packet to paho under that lock and lets the shard write it. Besides ``publisher.py``
this is the only module of the simulator that imports paho (``shard.py`` drives the
clients it is given).
"""

from __future__ import annotations

import logging
import resource
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from firmware_sim.errors import PublishError
from firmware_sim.publisher import QOS, PublishStats, badge_of_topic, channel_of_topic
from firmware_sim.shard import Connection, Shard

logger = logging.getLogger(__name__)

FD_MARGIN = 256
"""File descriptors kept free besides one per connection (logs, bundles, the broker's pipe)."""


def ensure_fd_limit(needed: int) -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to at least ``needed`` if the hard limit allows.

    Returns:
        The soft limit now in force.

    Raises:
        PublishError: the hard limit is below ``needed`` (raise it with ``ulimit -Hn``).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise PublishError(
                f"{needed} file descriptors needed, hard limit is {hard} (ulimit -Hn)",
                retryable=False,
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        logger.info("raised RLIMIT_NOFILE soft limit from %d to %d", soft, needed)
        return needed
    return soft


class FleetPublisher:
    """Publishes each badge's messages at QoS 1 over the badge's own MQTT connection.

    Call ``start`` (opens one connection per badge and waits for every CONNACK), then
    ``publish`` from one thread, then ``close``. Messages of a badge stay in order on
    its connection; messages of different badges may overtake each other.

    Args:
        host: broker host.
        port: broker port.
        badges: the badge ids; each gets one connection (client id ``prefix-run-badge``).
        shards: selector threads sharing the connections.
        max_outstanding: unacknowledged messages allowed before ``publish`` waits.
        connect_timeout: seconds to wait for all CONNACKs in ``start``.
        keepalive: MQTT keepalive of every connection, seconds.
        client_prefix: prefix of the MQTT client ids.
    """

    def __init__(
        self,
        host: str,
        port: int,
        badges: Sequence[str],
        *,
        shards: int = 2,
        max_outstanding: int = 20_000,
        connect_timeout: float = 60.0,
        keepalive: int = 60,
        client_prefix: str = "inperson-badge",
    ) -> None:
        if not badges:
            raise ValueError("FleetPublisher needs at least one badge")
        if len(set(badges)) != len(badges):
            raise ValueError("badge ids must be unique")
        if shards < 1:
            raise ValueError("shards must be >= 1")
        self.host = host
        self.port = port
        self.badges = list(badges)
        self.max_outstanding = max_outstanding
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self.client_prefix = client_prefix
        self._shards = [Shard(i) for i in range(min(shards, len(self.badges)))]
        self._conns: dict[str, Connection] = {}
        self._cond = threading.Condition()
        self._outstanding = 0
        self._published = 0
        self._failures = 0
        self._acked: Counter[str] = Counter()
        self._closing = False
        self._started = False

    @property
    def connections(self) -> int:
        """Connections the publisher holds (one per badge)."""
        return len(self.badges)

    def connected_count(self) -> int:
        """Connections whose CONNACK accepted them and that are up right now."""
        return sum(1 for c in self._conns.values() if c.connected)

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Open one connection per badge and wait until the broker accepted all of them.

        Raises:
            PublishError: too few file descriptors, the broker is unreachable, or it
                refused or did not answer a connection within ``connect_timeout``.
        """
        ensure_fd_limit(len(self.badges) + FD_MARGIN)
        run = uuid.uuid4().hex[:8]
        for shard in self._shards:
            shard.start()
        self._started = True
        try:
            for k, badge in enumerate(self.badges):
                shard = self._shards[k % len(self._shards)]
                conn = Connection(badge, shard)
                shard.conns.append(conn)  # the shard reads it only in housekeeping
                self._conns[badge] = conn
                self._connect(conn, f"{self.client_prefix}-{run}-{badge}")
        except OSError as exc:
            self._shutdown()
            raise PublishError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        deadline = time.monotonic() + self.connect_timeout
        for conn in self._conns.values():
            remaining = max(0.0, deadline - time.monotonic())
            if not conn.answered.wait(remaining) or conn.refused:
                self._shutdown()
                reason = conn.refused or f"no CONNACK within {self.connect_timeout} s"
                raise PublishError(f"broker {self.host}:{self.port} refused {conn.badge}: {reason}")
        logger.info(
            "connected broker=%s:%d connections=%d shards=%d",
            self.host,
            self.port,
            len(self._conns),
            len(self._shards),
        )

    def _connect(self, conn: Connection, client_id: str) -> None:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            protocol=MQTTProtocolVersion.MQTTv311,
            userdata=conn,
        )
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        shard = conn.shard
        client.on_socket_open = lambda c, u, sock: shard.socket_opened(conn, sock)
        client.on_socket_close = lambda c, u, sock: shard.socket_closed(conn, sock)
        client.on_socket_register_write = lambda c, u, sock: shard.write_wanted(conn)
        with conn.lock:
            conn.client = client
            client.connect(self.host, self.port, keepalive=self.keepalive)

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 on the badge's own connection; waits while too much is unacknowledged.

        A topic of a badge this publisher has no connection for is refused: logged and
        counted as a failure.
        """
        conn = self._conns.get(badge_of_topic(topic))
        if conn is None or conn.client is None:
            if not self._started:
                raise PublishError("publish() before start()", retryable=False)
            with self._cond:
                self._published += 1
                self._failures += 1
            logger.warning("no connection for topic=%s; message dropped", topic)
            return
        channel = channel_of_topic(topic)
        with self._cond:
            self._published += 1
            while self._outstanding >= self.max_outstanding:
                if not self._cond.wait(timeout=5.0):
                    logger.warning("broker slow: %d messages unacknowledged", self._outstanding)
        with conn.lock:
            info = conn.client.publish(topic, payload, qos=QOS)
            with self._cond:
                if info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                    # NO_CONN: paho keeps the message and sends it after reconnecting.
                    conn.pending[info.mid] = channel
                    self._outstanding += 1
                else:
                    self._failures += 1
                    logger.warning(
                        "publish failed topic=%s rc=%s", topic, mqtt.error_string(info.rc)
                    )

    def wait_acked(self, timeout: float) -> bool:
        """Wait until the broker acknowledged every message published so far (a barrier)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._outstanding == 0, timeout=timeout)

    def close(self, timeout: float) -> PublishStats:
        """Wait up to ``timeout`` s for acknowledgements, then disconnect every badge.

        Messages still unacknowledged at the deadline are counted as failures.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._outstanding == 0, timeout=timeout)
            lost = self._outstanding
            if lost:
                self._failures += lost
                self._outstanding = 0
                logger.warning("%d messages not acknowledged within %.1f s", lost, timeout)
            self._closing = True
        self._shutdown()
        stats = self.stats()
        logger.info(
            "fleet closed connections=%d published=%d acked=%d failures=%d",
            len(self._conns),
            stats.published,
            stats.acked_total,
            stats.failures,
        )
        return stats

    def stats(self) -> PublishStats:
        """Counters so far."""
        with self._cond:
            return PublishStats(self._published, dict(self._acked), self._failures)

    def _shutdown(self) -> None:
        self._closing = True
        if self._started:
            for shard in self._shards:
                shard.stop()
            self._started = False
        # The shard threads are gone: this thread alone touches the clients now.
        for conn in self._conns.values():
            client = conn.client
            if client is None:
                continue
            with conn.lock:
                if client.socket() is not None:
                    client.disconnect()
                    client.loop_write()  # send DISCONNECT; paho closes the socket after it
                sock = client.socket()
                if sock is not None:
                    sock.close()
            conn.connected = False

    # paho callbacks run on the shard threads (or in start/close); they touch only
    # the connection they belong to and counters under the condition's lock.

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        conn: Connection = userdata
        if reason_code.is_failure:
            conn.refused = str(reason_code)
            logger.warning("badge=%s connection refused: %s", conn.badge, reason_code)
        else:
            conn.connected = True
            if conn.answered.is_set():
                logger.info("badge=%s reconnected", conn.badge)
        conn.answered.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        conn: Connection = userdata
        conn.connected = False
        if not self._closing:
            logger.warning("badge=%s connection lost (%s); reconnecting", conn.badge, reason_code)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        conn: Connection = userdata
        with self._cond:
            channel = conn.pending.pop(mid, None)
            if channel is None:
                return
            self._outstanding -= 1
            if reason_code.is_failure:
                self._failures += 1
            else:
                self._acked[channel] += 1
            self._cond.notify_all()
