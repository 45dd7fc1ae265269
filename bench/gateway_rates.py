"""The gateway bench's throughput runs: (a) paho, (b) verify, (c) the gateway, (d) receive.

Each drains the same stream (queued for its MQTT session before it starts, or verified in
a loop) and returns messages per wall-clock second and per CPU second of this process.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.gateway_driver import (
    HANG_GUARD_S,
    TimedJournal,
    create_session,
    drive_gateway,
    drop_session,
    gateway_settings,
    publish,
)
from bench.gateway_stream import EVENT, Message
from gateway.mqtt_asyncio import AsyncioMqttClient
from gateway.mqtt_client import ClientKind
from gateway.registry import BadgeRegistry
from inperson.broker import Broker
from protocol.api import Registry
from protocol.encoding import split_payload
from protocol.topics import badge_subscription, parse_badge_topic

Rate = tuple[float, float]
"""(messages per wall-clock second, messages per CPU second of this process)."""
GatewayRate = tuple[float, float, float]
"""A Rate, and messages per CPU second of the whole run (gateway start to all processed)."""


def run_paho(broker: Broker, messages: Sequence[Message]) -> Rate:
    """(a) messages/s of a do-nothing paho subscriber draining its queued session."""
    client_id = f"paho-{uuid.uuid4().hex[:8]}"
    create_session(broker, client_id, badge_subscription(EVENT))
    publish(broker, messages)
    times: list[float] = []
    cpu: list[float] = []
    finished = threading.Event()

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        times.append(time.perf_counter())
        cpu.append(time.process_time())
        if len(times) == len(messages):
            finished.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    finished.wait(HANG_GUARD_S)
    client.disconnect()
    client.loop_stop()
    drop_session(broker, client_id)
    n = len(times) - 1
    return n / (times[-1] - times[0]), n / (cpu[-1] - cpu[0])


def run_receive(broker: Broker, messages: Sequence[Message]) -> Rate:
    """(d) messages/s of the asyncio client draining its queued session, acknowledging batches."""
    client_id = f"recv-{uuid.uuid4().hex[:8]}"
    create_session(broker, client_id, badge_subscription(EVENT))
    publish(broker, messages)

    async def drain() -> Rate:
        client = AsyncioMqttClient(
            host=broker.host,
            port=broker.port,
            client_id=client_id,
            subscription=badge_subscription(EVENT),
            will_topic=f"inperson/v1/{EVENT}/gateways/recv/status",
            will_payload=b"offline",
            queue_size=10_000,
        )
        await client.start()
        await client.get()
        # count from the first message, like (a)
        first = time.perf_counter(), time.process_time()
        got = 1
        deadline = first[0] + HANG_GUARD_S
        while got < len(messages) and time.perf_counter() < deadline:
            batch = [await client.get()]
            while (item := client.get_nowait()) is not None:
                batch.append(item)
            got += len(batch)
            client.ack(batch)
            await asyncio.sleep(0)
        end = time.perf_counter(), time.process_time()
        await client.stop()
        n = got - 1
        return n / (end[0] - first[0]), n / (end[1] - first[1])

    rate = asyncio.run(drain())
    drop_session(broker, client_id)
    return rate


def run_verify(registry: Registry, messages: Sequence[Message]) -> Rate:
    """(b) messages/s of splitting and verifying every signature."""
    badges = BadgeRegistry(registry)
    start, start_cpu = time.perf_counter(), time.process_time()
    for topic, payload in messages:
        parsed = parse_badge_topic(topic)
        signature, body = split_payload(payload, parsed.channel)
        entry = badges.lookup(parsed.badge)
        assert entry is not None
        entry.verifier.verify(topic, body, signature)
    n = len(messages)
    return n / (time.perf_counter() - start), n / (time.process_time() - start_cpu)


def run_gateway(
    broker: Broker, registry: Registry, messages: Sequence[Message], client: ClientKind
) -> GatewayRate:
    """(c) messages/s of the whole gateway (with MQTT client ``client``) draining its session."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = gateway_settings(Path(tmp), broker, mqtt_client=client)
        create_session(broker, settings.client_id, badge_subscription(EVENT))
        publish(broker, messages)
        journal = TimedJournal(Path(tmp))
        start = time.process_time()
        _, marks = asyncio.run(
            drive_gateway(broker, registry, journal, settings, lambda: None, len(messages))
        )
        drop_session(broker, settings.client_id)
    (t0, cpu0, n0), (t1, cpu1, n1) = marks
    whole = len(messages) / (cpu1 - start)
    return (n1 - n0) / (t1 - t0), (n1 - n0) / (cpu1 - cpu0), whole
