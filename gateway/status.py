"""The gateway's status: its counters and gauges as one ``GatewayStatus``, and their endpoint.

The retained MQTT status and the Prometheus endpoint (``gateway.metrics``) show the same
``GatewayStatus``; ``StatusReport`` builds it from the parts that hold the numbers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Literal

from gateway.ble import ZonePresence
from gateway.checkins import CheckInJournal
from gateway.checkpointing import Checkpointer
from gateway.clock import Clock
from gateway.foreign import ForeignCheckIns
from gateway.journal import Journal
from gateway.lag import ForwardLag
from gateway.metrics import MetricsEndpoint, StatusCollector, StatusSource
from gateway.mqtt_client import MqttClient
from gateway.processor import Processor
from protocol.api import GatewayStatus

logger = logging.getLogger(__name__)


class StatusReport:
    """Builds the gateway's ``GatewayStatus`` from the parts that hold its numbers.

    Args:
        gateway: this gateway's id.
        processor: returns the gateway's current processor (a failed resume replaces it).
        journal: the journal (meetings not yet forwarded).
        checkins: the check-in journal (records not yet forwarded).
        checkpointer: what waits for a checkpoint.
        lag: the forward lag.
        subscriber: the MQTT client (connection, subscription, protocol errors).
        foreign: other events' check-ins, if taken (their subscription).
        presence: the badges heard over BLE, if the BLE bridge runs.
        counters: the gateway's counters.
        clock: wall time.
    """

    def __init__(
        self,
        gateway: str,
        processor: Callable[[], Processor],
        journal: Journal,
        checkins: CheckInJournal,
        checkpointer: Checkpointer,
        lag: ForwardLag,
        subscriber: MqttClient,
        foreign: ForeignCheckIns | None,
        presence: ZonePresence | None,
        counters: Counter[str],
        clock: Clock,
    ) -> None:
        self._gateway = gateway
        self._processor = processor
        self._journal = journal
        self._checkins = checkins
        self._checkpointer = checkpointer
        self._lag = lag
        self._subscriber = subscriber
        self._foreign = foreign
        self._presence = presence
        self._counters = counters
        self._clock = clock

    def build(self, state: Literal["online", "offline"]) -> GatewayStatus:
        """Counters and gauges as the retained status message carries them."""
        processor = self._processor()
        gauges = processor.gauges()
        gauges["journal_unforwarded"] = float(
            self._journal.unforwarded() + self._checkpointer.unsaved_meetings + processor.untaken
        )
        gauges["unacknowledged"] = float(self._checkpointer.unacknowledged)
        gauges["checkins_unforwarded"] = float(
            self._checkins.unforwarded() + self._checkpointer.unsaved_checkins
        )
        gauges["forward_lag_seconds"] = self._lag.seconds(
            self._journal.unforwarded(), self._clock.now()
        )
        if self._presence is not None:
            gauges["ble_badges_in_zone"] = float(len(self._presence.present()))
        gauges["mqtt_connected"] = float(self._subscriber.is_connected)
        gauges["mqtt_subscribed"] = float(self._subscriber.is_subscribed)
        gauges["mqtt_protocol_errors"] = float(self._subscriber.protocol_errors)
        if self._foreign is not None:
            gauges["mqtt_foreign_subscribed"] = float(self._foreign.is_subscribed)
        return GatewayStatus(
            gateway=self._gateway,
            state=state,
            t=self._clock.now(),
            counters=dict(self._counters),
            gauges=gauges,
        )


def serve_metrics(host: str, port: int, current: StatusSource) -> MetricsEndpoint | None:
    """Start the Prometheus endpoint (call on the event loop); None if it cannot listen.

    Meetings matter more than metrics: a port that cannot be bound is logged and the
    gateway goes on without the endpoint.
    """
    collector = StatusCollector(current, asyncio.get_running_loop())
    endpoint = MetricsEndpoint(host, port, collector)
    try:
        endpoint.start()
    except OSError as exc:
        logger.error("cannot serve metrics on %s:%d: %s; running without them", host, port, exc)
        return None
    return endpoint
