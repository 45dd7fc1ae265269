"""Driving a real gateway for the benches: the broker session, the publisher, the server stub.

``drive_gateway`` runs a ``gateway.service.Gateway`` (real MQTT client, journal, checkpoints,
acknowledgements) against an in-process server stub until it processed a given number of
messages; ``TimedJournal`` records when each checkpoint became durable.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx2
import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.gateway_stream import Message, bench_nonce_bytes
from firmware_sim.simulation import CHECKIN_READER
from gateway.clock import SystemClock
from gateway.config import GatewaySettings
from gateway.journal import TinyDBJournal
from gateway.service import Gateway
from gateway.uplink import Uplink
from inperson.broker import Broker
from protocol.api import IngestResult, Meeting, Registry
from protocol.encoding import encode_json

HANG_GUARD_S = 300.0
POLL_S = 0.01
"""How often the bench reads the gateway's counters (it runs in the gateway's event loop)."""


def publish(broker: Broker, messages: Sequence[Message], rate: float = 0.0) -> list[float]:
    """Publish at QoS 1 (paced at ``rate`` msg/s if > 0); return each message's send time."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(broker.host, broker.port)
    client.loop_start()
    sent: list[float] = []
    try:
        start = time.perf_counter()
        infos = []
        for i, (topic, payload) in enumerate(messages):
            if rate > 0:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            sent.append(time.perf_counter())
            infos.append(client.publish(topic, payload, qos=1))
        for info in infos:
            info.wait_for_publish(120)
    finally:
        client.disconnect()
        client.loop_stop()
    return sent


def create_session(broker: Broker, client_id: str, subscription: str) -> None:
    """Register a persistent QoS 1 subscription, so the broker queues what follows for it."""
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_subscribe = lambda *args: done.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.subscribe(subscription, qos=1)
    done.wait(10)
    client.disconnect()
    client.loop_stop()


def drop_session(broker: Broker, client_id: str) -> None:
    """Remove a persistent session, so later runs' messages are not queued for it too."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect(broker.host, broker.port)
    client.disconnect()


def server_stub(registry: Registry) -> httpx2.AsyncClient:
    """An in-process server: the registry, and 'all accepted' for every batch (not measured)."""

    async def handle(request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET":
            return httpx2.Response(200, content=encode_json(registry))
        # {"meetings": [...]} or {"checkins": [...]}
        batch = msgspec.json.decode(await request.aread())
        accepted = sum(len(items) for items in batch.values())
        return httpx2.Response(
            200, content=encode_json(IngestResult(accepted=accepted, duplicates=0))
        )

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handle))


class TimedJournal(TinyDBJournal):
    """The real journal, recording when each checkpoint became durable and what it covers."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.durable: list[tuple[float, int]] = []
        self.work: list[float] = []
        self._started = 0.0

    def save_replay(self, changes: bytes, base: bytes | None = None) -> None:
        self._started = time.perf_counter()  # the journal thread's part of a checkpoint begins
        super().save_replay(changes, base)

    def checkpoint(self, meetings: Sequence[Meeting], state: Mapping[str, Any]) -> None:
        super().checkpoint(meetings, state)
        done = time.perf_counter()
        self.durable.append((done, int(state["counters"].get("received", 0))))
        self.work.append(done - self._started)


async def drive_gateway(
    broker: Broker,
    registry: Registry,
    journal: TimedJournal,
    settings: GatewaySettings,
    feed: Callable[[], Any],
    total: int,
) -> tuple[Gateway, list[tuple[float, float, int]]]:
    """Run a Gateway until ``total`` messages were processed and checkpointed.

    Returns the gateway and (time, messages processed) at the first poll that saw any
    processed and at the poll that saw all.
    """
    http = server_stub(registry)
    uplink = Uplink(http, "http://stub", "token")
    gateway = Gateway(
        settings,
        registry,
        uplink,
        clock=SystemClock(),
        rng=random.Random(1),
        journal=journal,
        nonce_bytes=bench_nonce_bytes,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run(stop))
    marks: list[tuple[float, float, int]] = []
    deadline = time.perf_counter() + HANG_GUARD_S
    # feed only once the gateway listens, so its start-up is not counted as latency
    while not gateway.status("online").gauges["mqtt_subscribed"]:
        if time.perf_counter() > deadline:
            raise RuntimeError("the gateway did not subscribe")
        await asyncio.sleep(0.01)
    feeding = asyncio.create_task(asyncio.to_thread(feed))
    while time.perf_counter() < deadline:
        received = gateway.status("online").counters.get("received", 0)
        if received and not marks:
            # the consumer processes up to 200 queued messages between two yields: count
            # from what was already processed at the first poll that saw any
            marks.append((time.perf_counter(), time.process_time(), received))
        if received >= total:
            # durable at the next checkpoint
            marks.append((time.perf_counter(), time.process_time(), received))
            break
        await asyncio.sleep(POLL_S)
    else:
        raise RuntimeError(f"the gateway did not process {total} messages in {HANG_GUARD_S} s")
    while gateway.status("online").gauges["unacknowledged"] and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    await feeding
    stop.set()
    await task
    await http.aclose()
    return gateway, marks


def gateway_settings(journal: Path, broker: Broker, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "token": "bench-token",
        "broker_host": broker.host,
        "broker_port": broker.port,
        "client_id": f"gw-{uuid.uuid4().hex[:8]}",
        "journal_dir": journal,
        "status_interval_s": 1.0,
        "log_level": "WARNING",
        "readers": CHECKIN_READER,  # the reader the simulated badges tap
        **overrides,
    }
    return GatewaySettings(**values)


class _NoBroker:
    host = "127.0.0.1"
    port = 1  # never connected: the gateway is not run


NO_BROKER = _NoBroker()
"""Stands in for a broker where a ``Gateway`` is built but not run."""
