"""The BLE relay through a real Mosquitto: relayed messages count as if the badge published them.

Badge a has no network link: its signed reports wait in a fake GATT badge (bleak's
client boundary) and reach the broker only through ``BleRelay`` publishing with a real
MQTT client (``MqttSubscriber.publish_confirmed``, QoS 1, after PUBACK). Badges b and c
publish themselves. The running gateway must close the a-b meeting exactly as in the
all-MQTT case, and a second relay of the same messages (a lost ACK, another gateway) must
be counted as duplicates, not as new reports.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from pathlib import Path

import pytest

from gateway.registry import BadgeRegistry
from gateway.relay import BleRelay, RelayError
from gateway.subscriber import MqttSubscriber
from inperson.broker import Broker
from protocol.ids import meeting_id
from tests.integration.gateway_harness import FakeServer, Running, conversation, settings_for, until
from tests.unit.gateway.fake_gatt import DEVICE, FakeBadgeGatt
from tests.unit.gateway.support import (
    T0,
    FakeClock,
    StatusWatcher,
    badges,
    publish_all,
    registry_for,
)

pytestmark = pytest.mark.integration


async def test_relayed_reports_are_accepted_like_published_ones(
    broker: Broker, event_id: str, tmp_path: Path, watcher: StatusWatcher
) -> None:
    a, b, c = badges(event_id, 3)
    registry = registry_for(event_id, [a, b, c])
    server = FakeServer(registry)
    running = Running(settings_for(broker, event_id, tmp_path / "journal"), server)
    await running.ready(watcher)

    windows = [*range(6), *range(10, 14)]
    gatt = FakeBadgeGatt([], chunk=random.Random(3).randint(40, 200))
    bridge = MqttSubscriber(
        host=broker.host,
        port=broker.port,
        client_id=f"relay-{uuid.uuid4().hex[:8]}",
        subscription=f"inperson/v1/{event_id}/relay-test/none",
        will_topic=f"inperson/v1/{event_id}/relay-test/will",
        will_payload=b"",
        queue_size=10,
    )
    await bridge.start()
    assert await bridge.wait_subscribed(10)

    async def publish(topic: str, payload: bytes) -> None:
        if not await bridge.publish_confirmed(topic, payload, 10.0):
            raise RelayError("not acknowledged")

    counters: Counter[str] = Counter()
    relay = BleRelay(BadgeRegistry(registry), publish, counters, FakeClock(), connect=gatt.connect)
    messages: list[tuple[str, bytes]] = []
    offline: list[tuple[str, bytes]] = []
    try:
        # window by window, as a relay visiting every few seconds would (a relayed report
        # must arrive within the event's allowed lateness like any other)
        for i in windows:
            window = conversation(a, b, c, range(i, i + 1))
            mine = [m for m in window if f"/badges/{a.badge}/" in m[0]]
            gatt.buffer(mine)
            assert await relay.visit(a.badge, DEVICE) == len(mine)
            others = [m for m in window if m not in mine]
            await asyncio.to_thread(publish_all, broker.host, broker.port, others)
            messages += window
            offline += mine
        assert gatt.pending == 0 and counters["ble_relay_published"] == len(offline)

        proximity = meeting_id("proximity", event_id, a.badge, b.badge, T0)
        await until(lambda: proximity in server.meetings, "the a-b meeting forwarded")
        status = await watcher.wait_for(
            lambda s: s.counters.get("received") == len(messages), "every message received"
        )
        assert status.counters["accepted"] == len(messages)
        assert status.counters["duplicate"] == 0
        meeting = server.meetings[proximity]
        assert (meeting.first_seen, meeting.last_seen, meeting.windows) == (T0, T0 + 120, 6)

        # the same messages relayed again (a lost ACK, or another gateway's relay)
        again = FakeBadgeGatt(list(offline))
        other = BleRelay(
            BadgeRegistry(registry), publish, Counter(), FakeClock(), connect=again.connect
        )
        assert await other.visit(a.badge, DEVICE) == len(offline)
        status = await watcher.wait_for(
            lambda s: s.counters.get("received") == len(messages) + len(offline),
            "the copies received",
        )
        assert status.counters["duplicate"] == len(offline)
        assert status.counters["accepted"] == len(messages)
        assert not any(k.startswith("rejected.") and v for k, v in status.counters.items())
    finally:
        await bridge.stop()
        await running.finish()
    assert server.conflicts == [] and server.duplicates == 0
