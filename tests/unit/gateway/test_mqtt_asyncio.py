"""AsyncioMqttClient against a scripted broker: what a real Mosquitto never does.

Malformed packets, a refused connection, a silent broker, and the PINGREQs and PUBACK
batches on the wire. Its normal life against Mosquitto is in
tests/integration/test_gateway_subscriber.py.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from pydantic import ValidationError

from gateway.config import GatewaySettings
from gateway.mqtt_asyncio import AsyncioMqttClient
from gateway.mqtt_client import MqttClient
from gateway.mqtt_codec import (
    encode_connack,
    encode_pingresp,
    encode_puback,
    encode_publish,
    encode_suback,
)
from gateway.service import new_mqtt_client
from gateway.subscriber import MqttSubscriber

DEADLINE_S = 10.0  # a hang guard, not a timing assertion


class ScriptedBroker:
    """Accepts connections, answers CONNECT and SUBSCRIBE, records what the client sends."""

    def __init__(self, *, refuse: int = 0, answer_pings: bool = True) -> None:
        self.connections: list[bytearray] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.refuse = refuse
        self.answer_pings = answer_pings
        self.subscribed = asyncio.Event()
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen = bytearray()
        self.connections.append(seen)
        self.writers.append(writer)
        try:
            while chunk := await reader.read(4096):
                seen += chunk
                if chunk[0] >> 4 == 1:  # CONNECT
                    writer.write(encode_connack(False, self.refuse))
                elif chunk[0] >> 4 == 8:  # SUBSCRIBE: its packet id follows the length
                    writer.write(encode_suback(int.from_bytes(chunk[2:4], "big"), [1]))
                    self.subscribed.set()
                elif chunk[0] >> 4 == 12 and self.answer_pings:
                    writer.write(encode_pingresp())
        except ConnectionError:
            pass
        finally:
            writer.close()

    def send(self, data: bytes) -> None:
        self.writers[-1].write(data)


@asynccontextmanager
async def scripted(broker: ScriptedBroker, keepalive: int = 30) -> AsyncIterator[AsyncioMqttClient]:
    server = await asyncio.start_server(broker.handle, "127.0.0.1", 0)
    broker.port = server.sockets[0].getsockname()[1]
    client = AsyncioMqttClient(
        host="127.0.0.1",
        port=broker.port,
        client_id="scripted",
        subscription="inperson/v1/e/badges/+/+",
        will_topic="inperson/v1/e/gateways/g/status",
        will_payload=b"offline",
        queue_size=100,
        keepalive=keepalive,
        rng=random.Random(3),
    )
    await client.start()
    try:
        yield client
    finally:
        await client.stop()
        server.close()
        await server.wait_closed()


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), DEADLINE_S)


async def test_a_malformed_packet_is_counted_and_the_client_reconnects() -> None:
    broker = ScriptedBroker()
    async with scripted(broker) as client:
        assert await client.wait_subscribed(DEADLINE_S)
        broker.send(encode_publish("inperson/v1/e/badges/b/reports", b"ok", qos=1, packet_id=1))
        first = await asyncio.wait_for(client.get(), DEADLINE_S)
        broker.send(bytes([0x36, 3, 0, 1, 0x61]))  # QoS 3
        await until(lambda: len(broker.connections) == 2 and client.is_subscribed)
        assert client.protocol_errors == 1
        assert client.ack([first]) == 0  # the connection it came on is gone
        broker.send(encode_publish("inperson/v1/e/badges/b/reports", b"again", qos=1, packet_id=1))
        again = await asyncio.wait_for(client.get(), DEADLINE_S)
        assert again.generation != first.generation
        assert client.ack([again]) == 1
        await until(lambda: encode_puback(1) in broker.connections[1])
        assert encode_puback(1) not in broker.connections[0]


async def test_acks_of_a_batch_go_out_in_one_write() -> None:
    broker = ScriptedBroker()
    async with scripted(broker) as client:
        assert await client.wait_subscribed(DEADLINE_S)
        broker.send(
            b"".join(
                encode_publish(f"inperson/v1/e/badges/b{i}/reports", b"x", qos=1, packet_id=i)
                for i in range(1, 51)
            )
        )
        got = [await asyncio.wait_for(client.get(), DEADLINE_S) for _ in range(50)]
        assert [m.mid for m in got] == list(range(1, 51))
        assert client.ack(got) == 50
        acks = b"".join(encode_puback(i) for i in range(1, 51))
        await until(lambda: bytes(broker.connections[0]).endswith(acks))


async def test_pings_keep_a_quiet_connection_and_a_silent_broker_is_dropped() -> None:
    broker = ScriptedBroker(answer_pings=False)
    async with scripted(broker, keepalive=1) as client:
        assert await client.wait_subscribed(DEADLINE_S)
        await until(lambda: b"\xc0\x00" in broker.connections[0])  # PINGREQ
        # no PINGRESP, nothing else: after 1.5 keepalives the client gives up and reconnects
        await until(lambda: len(broker.connections) == 2)
        assert client.protocol_errors == 0


async def test_answered_pings_keep_the_connection() -> None:
    broker = ScriptedBroker()
    async with scripted(broker, keepalive=1) as client:
        assert await client.wait_subscribed(DEADLINE_S)
        await until(lambda: broker.connections[0].count(b"\xc0\x00") >= 3)
        assert len(broker.connections) == 1 and client.is_connected


async def test_a_refused_connection_is_retried_and_never_subscribed() -> None:
    broker = ScriptedBroker(refuse=5)
    async with scripted(broker) as client:
        await until(lambda: len(broker.connections) >= 2)
        assert not client.is_connected and not client.is_subscribed


async def test_publishes_wait_for_the_connection_and_are_resent_until_acknowledged() -> None:
    broker = ScriptedBroker()
    async with scripted(broker) as client:
        client.publish("inperson/v1/e/gateways/g/status", b"s1", retain=True)
        assert await client.wait_subscribed(DEADLINE_S)
        confirmed = asyncio.create_task(client.publish_confirmed("t/relay", b"r", DEADLINE_S))
        await until(lambda: b"t/relay" in broker.connections[0])
        broker.writers[0].transport.abort()  # lost before any PUBACK
        await until(lambda: len(broker.connections) == 2 and client.is_subscribed)
        resent = bytes(broker.connections[1])
        assert b"s1" in resent and b"t/relay" in resent
        assert resent[resent.rindex(b"\x00\x1finperson/v1/e/gateways") - 2] == 0x3B  # DUP, retain
        relay_id = resent[resent.index(b"t/relay") + 7 : resent.index(b"t/relay") + 9]
        broker.send(encode_puback(int.from_bytes(relay_id, "big")))
        assert await confirmed


def test_the_setting_picks_the_client_and_asyncio_is_the_default() -> None:
    def client(**values: str) -> MqttClient:
        settings = GatewaySettings(token="t0ken-for-tests", **values)  # type: ignore[arg-type]
        return new_mqtt_client(
            settings,
            client_id="c",
            subscription="inperson/v1/e/badges/+/+",
            will_topic="w",
            will_payload=b"",
            rng=random.Random(1),
        )

    assert isinstance(client(), AsyncioMqttClient)
    assert isinstance(client(mqtt_client="asyncio"), AsyncioMqttClient)
    assert isinstance(client(mqtt_client="paho"), MqttSubscriber)
    with pytest.raises(ValidationError, match="mqtt_client"):
        client(mqtt_client="hbmqtt")
