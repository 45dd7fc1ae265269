"""Hostile traffic through a real broker and the whole gateway (the broker-sized slice of item 6).

The in-process fuzz (tests/property/test_gateway_fuzz.py) sends 100,000 hostile messages to
the Processor. Here 6,000 of them (every kind that does not need a live wall clock) go
through Mosquitto, the subscriber, checkpoints, the journal and the forwarder, mixed with
the valid traffic: the server must receive exactly the meetings of the valid traffic
alone, and the gateway's status must count every hostile message once.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from gateway.processor import Processor
from gateway.registry import BadgeRegistry
from inperson.broker import Broker
from protocol.topics import gateway_status_topic
from tests.integration.gateway_harness import FakeServer, Running, settings_for
from tests.property.test_gateway_fuzz import (
    ALLOWED,
    BADGES,
    EVENT,
    REGISTRY,
    SCENE,
    Context,
    Message,
    make,
    quiet_rejections,
)
from tests.unit.gateway.support import GATEWAY, FakeClock, StatusWatcher, publish_all

pytestmark = pytest.mark.integration

LIVE_ONLY = {"future", "stale"}
KINDS = sorted(set(ALLOWED) - LIVE_ONLY - {"cross_event"})
"""Hostile kinds sent here. Another event's topics never reach this gateway (its subscription
is for its own event); the in-process fuzz covers them."""
CHANNELS = ("reports", "taps", "checkins", "status", "bogus", "")
HOSTILE = 6000
SEED = 4


def mixed_stream(rng: random.Random) -> tuple[list[Message], int]:
    """Valid traffic with hostile messages spread through it; returns (stream, exact resends)."""
    slots = len(SCENE.valid) - 1  # hostile messages go before every valid one but the first
    stream: list[Message] = []
    sent: list[Message] = []
    last_seq = [0] * BADGES
    resends = 0
    for k, (window, j, message) in enumerate(SCENE.valid):
        if k:
            ctx = Context(SCENE, sent, last_seq, window)
            for _ in range(HOSTILE // slots + (k - 1 < HOSTILE % slots)):
                kind = rng.choice(KINDS)
                resends += kind == "resend"
                topic, payload = make(kind, ctx, rng)
                if kind == "garbage_topic":  # publishable, and inside the gateway's subscription
                    junk = topic.replace("#", "x").replace("+", "x").replace("/", "_")
                    topic = f"inperson/v1/{EVENT}/badges/{junk or 'x'}/{rng.choice(CHANNELS)}"
                stream.append((topic, payload))
        stream.append(message)
        sent.append(message)
        last_seq[j] += 1
    return stream, resends


async def test_hostile_traffic_through_the_broker_changes_no_meeting(
    broker: Broker, tmp_path: Path
) -> None:
    reference = Processor(BadgeRegistry(REGISTRY), FakeClock())
    for _, _, message in SCENE.valid:
        assert reference.handle(*message).is_accepted
    expected = {m.id: m for m in reference.take_meetings()}
    assert len(expected) >= 10

    with quiet_rejections():
        stream, resends = mixed_stream(random.Random(SEED))
    assert len(stream) == len(SCENE.valid) + HOSTILE

    server = FakeServer(REGISTRY)
    watcher = StatusWatcher(broker.host, broker.port, gateway_status_topic(EVENT, GATEWAY))
    settings = settings_for(broker, EVENT, tmp_path / "journal", log_level="ERROR")
    running = Running(settings, server)
    try:
        with quiet_rejections():
            await running.ready(watcher)
            await asyncio.to_thread(publish_all, broker.host, broker.port, stream)
            status = await watcher.wait_for(
                lambda s: (
                    s.counters.get("received") == len(stream)
                    and s.gauges.get("open_pairs") == 0.0
                    and s.gauges.get("journal_unforwarded") == 0.0
                ),
                "everything received, closed and forwarded",
            )
            assert not running.task.done()
    finally:
        await running.finish()
        watcher.close()

    assert server.conflicts == []
    assert server.meetings == expected
    counters = status.counters
    assert counters["accepted"] == len(SCENE.valid)
    rejected = sum(v for k, v in counters.items() if k.startswith("rejected."))
    assert counters["duplicate"] == resends
    assert rejected + resends == HOSTILE
    allowed = set().union(*(ALLOWED[kind] for kind in KINDS))
    assert {
        k.removeprefix("rejected.") for k, v in counters.items() if k.startswith("rejected.") and v
    } <= allowed
