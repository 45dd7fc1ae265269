"""Prometheus metrics of the gateway (prometheus-client): a collector and its HTTP endpoint.

The collector keeps no numbers of its own: at each scrape it asks the gateway for the
same ``GatewayStatus`` the retained MQTT status carries, computed on the gateway's event
loop (``asyncio.run_coroutine_threadsafe``), so the two views never disagree and nothing
in the pipeline is touched from the HTTP thread. Each gateway uses its own
``CollectorRegistry``; nothing is registered globally.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import TimeoutError as FutureTimeout
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.readers import OUTCOMES
from gateway.verifier import REASONS
from protocol.api import GatewayStatus

logger = logging.getLogger(__name__)

PREFIX = "inperson_gateway"
SCRAPE_TIMEOUT_S = 2.0

StatusSource = Callable[[], Coroutine[Any, Any, GatewayStatus]]

_ACCEPTED = {
    "report": "accepted",
    "tap": "accepted_taps",
    "checkin": "accepted_checkins",
    "status": "accepted_status",
}
_COUNTERS = {
    "received": ("received", "MQTT messages received from badges."),
    "duplicates": ("duplicate", "Messages received again (same badge, seq and bytes): no effect."),
    "contact_windows": ("contact_windows", "Mutual contact windows found by pairing."),
    "forwarded": ("forwarded", "Meetings the server accepted (new or already known)."),
    "forward_rejected": ("forward_rejected", "Meetings the server refused one by one."),
    "forward_retries": ("forward_retries", "Failed attempts to forward a batch (retried)."),
    "single_sided": ("single_sided", "Half-contacts whose other half never came."),
    "checkin_duplicates": ("checkins.duplicate", "Repeated taps (same badge, reader, nonce)."),
    "checkins_forwarded": ("checkins.forwarded", "Check-in records the server accepted."),
    "checkins_forward_rejected": ("checkins.forward_rejected", "Check-in records refused."),
    "checkins_forward_retries": (
        "checkins.forward_retries",
        "Failed attempts to forward a batch of check-in records (retried).",
    ),
    "reader_nonces_issued": ("checkins.nonces_issued", "Nonces issued by the check-in readers."),
}
_GAUGES = {
    "pending_half_contacts": ("pending_half_contacts", "Half-contacts waiting for their pair."),
    "pending_taps": ("pending_taps", "Tap halves waiting for the other badge's half."),
    "open_meetings": ("open_pairs", "Pairs with a meeting in progress (not yet closed)."),
    "open_windows": ("open_windows", "Contact windows held by open meetings."),
    "journal_depth": ("journal_unforwarded", "Meetings not yet accepted by the server."),
    "unacknowledged": ("unacknowledged", "MQTT messages waiting for the next checkpoint."),
    "forward_lag_seconds": (
        "forward_lag_seconds",
        "Wall seconds the oldest meeting not yet forwarded has been waiting (0 when none).",
    ),
    "watermark_seconds": ("watermark", "Event-time watermark, unix seconds (0 before any)."),
    "checkins_pending_forward": (
        "checkins_unforwarded",
        "Check-in records not yet accepted by the server.",
    ),
    "badges_inside": ("badges_inside", "Badges inside the zones of this gateway's readers."),
    "mqtt_connected": ("mqtt_connected", "1 while connected to the broker."),
    "mqtt_subscribed": ("mqtt_subscribed", "1 once the broker confirmed the subscription."),
}
_GAUGE_COUNTERS = {
    "mqtt_protocol_errors": (
        "mqtt_protocol_errors",
        "Malformed MQTT packets from the broker (each ends the connection, which is "
        "reopened); counted since the gateway process started.",
    ),
}
"""Counters the status carries among its gauges: they count from zero at each start, as
a Prometheus counter may (a restart resets it), and are not part of the checkpoint."""


class StatusCollector(Collector):
    """Turns the gateway's status into Prometheus metric families at each scrape.

    Args:
        source: coroutine function returning the current status.
        loop: the event loop the gateway runs on (the scrape runs in another thread).
    """

    def __init__(self, source: StatusSource, loop: asyncio.AbstractEventLoop) -> None:
        self._source = source
        self._loop = loop

    def collect(self) -> Iterable[Metric]:
        """Yield every metric family; nothing if the gateway does not answer in time."""
        future = asyncio.run_coroutine_threadsafe(self._source(), self._loop)
        try:
            status = future.result(SCRAPE_TIMEOUT_S)
        except (FutureTimeout, RuntimeError) as exc:
            future.cancel()
            logger.warning("metrics scrape: the gateway did not answer (%r)", exc)
            return
        yield from families(status)


def families(status: GatewayStatus) -> list[Metric]:
    """The metric families of one status (pure, for the collector and for tests)."""
    counters, gauges = status.counters, status.gauges
    labels = [status.gateway]
    result: list[Metric] = []
    accepted = CounterMetricFamily(
        f"{PREFIX}_accepted", "Badge messages accepted, by kind.", labels=["gateway", "kind"]
    )
    for kind, name in _ACCEPTED.items():
        accepted.add_metric([status.gateway, kind], counters.get(name, 0))
    result.append(accepted)
    rejected = CounterMetricFamily(
        f"{PREFIX}_rejected", "Badge messages rejected, by reason.", labels=["gateway", "reason"]
    )
    for reason in REASONS:
        rejected.add_metric([status.gateway, reason], counters.get(f"rejected.{reason}", 0))
    result.append(rejected)
    meetings = CounterMetricFamily(
        f"{PREFIX}_meetings", "Meetings closed, by kind.", labels=["gateway", "kind"]
    )
    meetings.add_metric([status.gateway, "proximity"], counters.get("meetings", 0))
    meetings.add_metric([status.gateway, "tap"], counters.get("taps", 0))
    result.append(meetings)
    checkins = CounterMetricFamily(
        f"{PREFIX}_checkins", "Check-in taps decided, by outcome.", labels=["gateway", "outcome"]
    )
    for outcome in OUTCOMES:
        checkins.add_metric([status.gateway, outcome], counters.get(f"checkins.{outcome}", 0))
    result.append(checkins)
    for metric, (name, doc) in _COUNTERS.items():
        family = CounterMetricFamily(f"{PREFIX}_{metric}", doc, labels=["gateway"])
        family.add_metric(labels, counters.get(name, 0))
        result.append(family)
    for metric, (name, doc) in _GAUGE_COUNTERS.items():
        family = CounterMetricFamily(f"{PREFIX}_{metric}", doc, labels=["gateway"])
        family.add_metric(labels, gauges.get(name, 0.0))
        result.append(family)
    for metric, (name, doc) in _GAUGES.items():
        gauge = GaugeMetricFamily(f"{PREFIX}_{metric}", doc, labels=["gateway"])
        gauge.add_metric(labels, gauges.get(name, 0.0))
        result.append(gauge)
    up = GaugeMetricFamily(f"{PREFIX}_online", "1 while the gateway runs.", labels=["gateway"])
    up.add_metric(labels, 1.0 if status.state == "online" else 0.0)
    result.append(up)
    return result


class MetricsEndpoint:
    """``/metrics`` over HTTP in a daemon thread (prometheus-client's WSGI server).

    Args:
        host: interface to listen on.
        port: TCP port (0 picks a free one; see ``port`` after ``start``).
        collector: what to expose.
    """

    def __init__(self, host: str, port: int, collector: Collector) -> None:
        self._host = host
        self._port = port
        self._registry = CollectorRegistry(auto_describe=False)
        self._collector = collector
        self._server: WSGIServer | None = None
        self._thread: Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the real one once started)."""
        return self._server.server_port if self._server is not None else self._port

    def start(self) -> None:
        """Register the collector and start serving.

        Raises:
            OSError: the port cannot be bound.
        """
        self._registry.register(self._collector)
        self._server, self._thread = start_http_server(
            self._port, addr=self._host, registry=self._registry
        )
        logger.info("metrics on http://%s:%d/metrics", self._host, self.port)

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None
