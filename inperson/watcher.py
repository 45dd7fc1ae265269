"""Following a gateway from outside: its retained status topic, and when it has drained."""

from __future__ import annotations

import secrets
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol.api import GatewayStatus
from protocol.encoding import decode_json
from protocol.errors import MalformedMessage


class StatusWatcher:
    """Follows a gateway's retained status topic (a paho subscriber); keeps every status seen."""

    def __init__(self, host: str, port: int, topic: str) -> None:
        self.topic = topic
        self.history: list[GatewayStatus] = []
        self._lock = threading.Lock()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"watch-{secrets.token_hex(4)}"
        )
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._host, self._port = host, port

    def start(self) -> None:
        """Connect and subscribe in paho's background thread."""
        self._client.connect(self._host, self._port)
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect and stop the background thread."""
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(self.topic, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            status = decode_json(bytes(message.payload), GatewayStatus)
        except MalformedMessage:
            return
        with self._lock:
            self.history.append(status)

    def snapshot(self) -> GatewayStatus | None:
        """The latest status received, or None."""
        with self._lock:
            return self.history[-1] if self.history else None


def is_drained(status: GatewayStatus | None, sent: int) -> bool:
    """Whether the gateway has received ``sent`` messages, closed every pair and forwarded all."""
    return (
        status is not None
        and status.counters.get("received", 0) >= sent
        and status.gauges.get("open_pairs", 1) == 0
        and status.gauges.get("journal_unforwarded", 1) == 0
        and status.gauges.get("checkins_unforwarded", 0) == 0
    )
