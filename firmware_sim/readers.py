"""Check-in reader nonces as the simulated badges see them: the latest nonce of each reader.

A real badge gets the nonce from the reader over NFC; the simulator reads the readers'
retained ``ReaderNonce`` messages (``reader_nonce_subscription(event)``) instead.
``LatestNonces`` is the pure store the simulation asks (``NonceSource``);
``NonceListener`` feeds it from MQTT (the only paho use in this module).
"""

from __future__ import annotations

import logging
import secrets
import threading
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from firmware_sim.errors import PublishError
from protocol.api import ReaderNonce
from protocol.encoding import decode_json
from protocol.errors import MalformedMessage
from protocol.topics import reader_nonce_subscription

logger = logging.getLogger(__name__)

NONCE_WAIT_S = 10.0
"""How long a run waits at its start for the readers' retained nonces."""


class NonceSource(Protocol):
    """Where a badge learns the nonce of the reader it taps."""

    def nonce_for(self, reader: str) -> str | None:
        """The nonce to quote at ``reader``, or None when the badge knows none (no tap)."""
        ...


class LatestNonces:
    """The newest nonce announced by each reader of one event; thread-safe.

    Counts ``quoted`` (taps that found a nonce) and ``missing`` (taps skipped because
    the reader had announced none), and ``rejected`` announcements that did not parse.

    Args:
        event: only nonces of this event are kept.
    """

    def __init__(self, event: str) -> None:
        self._event = event
        self._latest: dict[str, ReaderNonce] = {}
        self._lock = threading.Lock()
        self._any = threading.Event()
        self.quoted = 0
        self.missing = 0
        self.rejected = 0

    def offer(self, payload: bytes) -> bool:
        """Take an announcement; True if it is now the reader's newest nonce."""
        try:
            nonce = decode_json(payload, ReaderNonce)
        except MalformedMessage as exc:
            with self._lock:
                self.rejected += 1
            logger.warning("reader nonce rejected: %.200s", exc.detail)
            return False
        if nonce.event != self._event:
            with self._lock:
                self.rejected += 1
            return False
        with self._lock:
            known = self._latest.get(nonce.reader)
            if known is not None and known.issued_at > nonce.issued_at:
                return False
            self._latest[nonce.reader] = nonce
        self._any.set()
        logger.debug("reader=%s nonce issued_at=%d", nonce.reader, nonce.issued_at)
        return True

    def nonce_for(self, reader: str) -> str | None:
        """The newest nonce of ``reader``, or None (counted as a skipped tap)."""
        with self._lock:
            known = self._latest.get(reader)
            if known is None:
                self.missing += 1
                return None
            self.quoted += 1
            return known.nonce

    def wait_for_any(self, timeout: float) -> bool:
        """Wait until some reader announced a nonce; False after ``timeout`` seconds."""
        return self._any.wait(timeout)


class NonceListener(LatestNonces):
    """``LatestNonces`` fed by a paho subscription to the event's reader nonce topics.

    Args:
        host: broker host.
        port: broker port.
        event: the event whose readers are followed.
    """

    def __init__(self, host: str, port: int, event: str) -> None:
        super().__init__(event)
        self._host = host
        self._port = port
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"sim-nonces-{secrets.token_hex(4)}"
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def start(self, timeout: float) -> None:
        """Connect, subscribe, and wait up to ``timeout`` s for a first retained nonce.

        Raises:
            PublishError: the broker cannot be reached or does not confirm the subscription.
        """
        try:
            self._client.connect(self._host, self._port)
        except OSError as exc:
            raise PublishError(f"cannot reach broker {self._host}:{self._port}: {exc}") from exc
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise PublishError(
                f"broker did not confirm the reader nonce subscription in {timeout} s"
            )
        if not self.wait_for_any(timeout):
            logger.warning("no check-in reader announced a nonce; badges will not tap readers")

    def stop(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(reader_nonce_subscription(self._event), qos=1)

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, _mid: int, codes: list[ReasonCode], *_: Any
    ) -> None:
        if all(not code.is_failure for code in codes):
            self._subscribed.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.offer(bytes(message.payload))
