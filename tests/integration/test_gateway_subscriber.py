"""Both MQTT clients against a real Mosquitto: manual acks, redelivery, back pressure, reconnects.

Every test runs with ``MqttSubscriber`` (paho) and ``AsyncioMqttClient`` (``kind``).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.mqtt_asyncio import AsyncioMqttClient
from gateway.mqtt_client import ClientKind, MqttClient, Received
from gateway.subscriber import MqttSubscriber
from inperson.broker import Broker

pytestmark = pytest.mark.integration

DEADLINE_S = 30.0  # a hang guard, not a timing assertion


def publish_all(host: str, port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 and wait until the broker acknowledged every message."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.connect(host, port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(DEADLINE_S)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def topics(event: str, n: int, start: int = 0) -> list[tuple[str, bytes]]:
    return [
        (f"inperson/v1/{event}/badges/b{i:03d}/reports", f"m{i}".encode())
        for i in range(start, start + n)
    ]


@pytest.fixture(params=["paho", "asyncio"])
def kind(request: pytest.FixtureRequest) -> ClientKind:
    value: ClientKind = request.param
    return value


def new_client(
    kind: ClientKind, broker: Broker, event: str, client_id: str, queue_size: int = 100
) -> MqttClient:
    cls = MqttSubscriber if kind == "paho" else AsyncioMqttClient
    return cls(
        host=broker.host,
        port=broker.port,
        client_id=client_id,
        subscription=f"inperson/v1/{event}/badges/+/+",
        will_topic=f"inperson/v1/{event}/gateways/gw/status",
        will_payload=b'{"state":"offline"}',
        queue_size=queue_size,
        keepalive=5,
    )


@asynccontextmanager
async def subscriber(
    kind: ClientKind, broker: Broker, event: str, client_id: str, queue_size: int = 100
) -> AsyncIterator[MqttClient]:
    sub = new_client(kind, broker, event, client_id, queue_size)
    await sub.start()
    try:
        assert await sub.wait_subscribed(DEADLINE_S)
        yield sub
    finally:
        # like the gateway: the final status's PUBACK proves the acknowledgements arrived
        await sub.stop(final=(f"inperson/v1/{event}/gateways/gw/status", b'{"state":"offline"}'))


async def take(sub: MqttClient, n: int) -> list[Received]:
    return [await asyncio.wait_for(sub.get(), DEADLINE_S) for _ in range(n)]


async def nothing_more(sub: MqttClient, probe: tuple[str, bytes], broker: Broker) -> None:
    """Publish a probe message and check it is the very next thing the subscriber gets."""
    await asyncio.to_thread(publish_all, broker.host, broker.port, [probe])
    item = await asyncio.wait_for(sub.get(), DEADLINE_S)
    assert (item.topic, item.payload) == probe


async def test_only_acknowledged_messages_are_gone_after_a_restart(
    kind: ClientKind, broker: Broker, event_id: str
) -> None:
    client_id = f"sub-{event_id}"
    sent = topics(event_id, 10)
    async with subscriber(kind, broker, event_id, client_id) as sub:
        await asyncio.to_thread(publish_all, broker.host, broker.port, sent)
        got = await take(sub, 10)
        assert [(m.topic, m.payload) for m in got] == sent
        assert all(m.qos == 1 for m in got)
        assert sub.ack(got[:4]) == 4
    async with subscriber(kind, broker, event_id, client_id) as sub:
        redelivered = await take(sub, 6)
        assert [(m.topic, m.payload) for m in redelivered] == sent[4:]
        sub.ack(redelivered)
        await nothing_more(sub, topics(event_id, 1, 99)[0], broker)


async def test_back_pressure_loses_nothing(kind: ClientKind, broker: Broker, event_id: str) -> None:
    sent = topics(event_id, 400)
    async with subscriber(kind, broker, event_id, f"sub-{event_id}", queue_size=4) as sub:
        publishing = asyncio.create_task(
            asyncio.to_thread(publish_all, broker.host, broker.port, sent)
        )
        got: list[Received] = []
        while len(got) < len(sent):
            got.append(await asyncio.wait_for(sub.get(), DEADLINE_S))
            if len(got) % 50 == 0:
                await asyncio.sleep(0.05)  # a slow consumer now and then
        await publishing
        sub.ack(got)
    assert [(m.topic, m.payload) for m in got] == sent


@pytest.fixture
def own_broker() -> Iterator[Broker]:
    """A broker this test may restart without disturbing others.

    Run as root, mosquitto drops privileges to its own user, which cannot enter
    pytest's private tmp directories; its persistence (needed to keep sessions over
    a restart) goes to a directory that user can write.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="inperson-gw-broker-"))
    data_dir.chmod(0o777)
    try:
        with Broker(data_dir) as running:
            yield running
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_acks_from_before_a_reconnect_are_skipped_and_redelivery_follows(
    kind: ClientKind, own_broker: Broker, event_id: str
) -> None:
    client_id = f"sub-{event_id}"
    sent = topics(event_id, 5)
    async with subscriber(kind, own_broker, event_id, client_id) as sub:
        await asyncio.to_thread(publish_all, own_broker.host, own_broker.port, sent)
        before = await take(sub, 5)
        await asyncio.to_thread(own_broker.restart)
        assert await sub.wait_subscribed(DEADLINE_S)
        redelivered = await take(sub, 5)
        assert [(m.topic, m.payload) for m in redelivered] == sent
        assert {m.generation for m in redelivered} != {m.generation for m in before}
        assert sub.ack(before) == 0  # packet ids of a dead connection: never reused
        assert sub.ack(redelivered) == 5
    async with subscriber(kind, own_broker, event_id, client_id) as sub:
        await nothing_more(sub, topics(event_id, 1, 50)[0], own_broker)


async def test_publish_confirmed_and_retained_publishes_reach_later_subscribers(
    kind: ClientKind, broker: Broker, event_id: str
) -> None:
    status = f"inperson/v1/{event_id}/badges/gw/status"
    async with subscriber(kind, broker, event_id, f"pub-{event_id}") as sub:
        assert await sub.publish_confirmed(f"inperson/v1/{event_id}/badges/x/reports", b"c", 10)
        sub.publish(status, b"retained", retain=True)
        first = await asyncio.wait_for(sub.get(), DEADLINE_S)  # its own subscription
        second = await asyncio.wait_for(sub.get(), DEADLINE_S)
        assert {(first.topic, first.payload), (second.topic, second.payload)} == {
            (f"inperson/v1/{event_id}/badges/x/reports", b"c"),
            (status, b"retained"),
        }
        sub.ack([first, second])
    async with subscriber(kind, broker, event_id, f"late-{event_id}") as late:
        got = await asyncio.wait_for(late.get(), DEADLINE_S)
        assert (got.topic, got.payload) == (status, b"retained")
        late.ack([got])


async def test_a_full_queue_pauses_reading_until_it_drains(broker: Broker, event_id: str) -> None:
    sent = topics(event_id, 300)
    async with subscriber("asyncio", broker, event_id, f"pause-{event_id}", queue_size=8) as sub:
        assert isinstance(sub, AsyncioMqttClient)
        await asyncio.to_thread(publish_all, broker.host, broker.port, sent)
        while not sub.is_reading_paused:
            await asyncio.sleep(0.01)
        held = sub.queued
        assert 8 <= held < len(sent)  # the broker keeps the rest (its inflight window)
        await asyncio.sleep(0.2)
        assert sub.queued == held  # nothing read while paused
        got = await take(sub, len(sent))
        assert [(m.topic, m.payload) for m in got] == sent
        assert not sub.is_reading_paused
        sub.ack(got)
