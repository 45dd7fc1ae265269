"""The whole gateway against a real Mosquitto and a fake server app (FastAPI over ASGITransport)."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from gateway.journal import TinyDBJournal
from gateway.service import Gateway
from gateway.uplink import Uplink
from inperson.broker import Broker
from protocol.api import Meeting
from protocol.ids import meeting_id
from protocol.signing import BadgeKey
from tests.integration.gateway_harness import (
    SERVER,
    TOKEN,
    FakeServer,
    Running,
    conversation,
    quiet,
    settings_for,
    until,
)
from tests.unit.gateway.support import (
    GATEWAY,
    HANG_GUARD_S,
    T0,
    WINDOW,
    FakeClock,
    StatusWatcher,
    TestBadge,
    badges,
    publish_all,
    registry_for,
    transcript,
)

pytestmark = pytest.mark.integration

Message = tuple[str, bytes]


async def test_meetings_reach_the_server_and_bad_messages_are_counted(
    broker: Broker, event_id: str, tmp_path: Path, watcher: StatusWatcher
) -> None:
    a, b, c, revoked = badges(event_id, 4)
    server = FakeServer(registry_for(event_id, [a, b, c, revoked], revoked=[revoked.badge]))
    settings = settings_for(broker, event_id, tmp_path / "journal")
    running = Running(settings, server)
    await running.ready(watcher)

    first_window = conversation(a, b, c, range(1))
    topic_a, first_a = first_window[0]
    forger = TestBadge(a.badge, event_id, BadgeKey(b"\x07" * 32), a.ephid_key)
    intruder = TestBadge.named("b999", event_id)
    bad: Mapping[str, list[Message]] = {
        "malformed": [(topic_a.replace("/reports", "/bogus"), first_a), (topic_a, b"hello")],
        "oversized": [(topic_a, b"\x00" * 9000)],
        "bad_signature": [(topic_a, first_a[64:]), forger.report(T0 + WINDOW)],
        "replay": [a.report(T0, [], seq=1)],  # a's seq 1 again, other content
        "unknown_badge": [intruder.report(T0)],
        "revoked_badge": [revoked.report(T0)],
    }
    tap = transcript(a, b, T0 + 33)
    good = (
        first_window
        + conversation(a, b, c, range(1, 6))
        + [a.tap(tap), b.tap(tap)]
        + quiet([a, b, c], range(6, 16))
    )
    bad_messages = [m for messages in bad.values() for m in messages]
    sent = first_window + bad_messages + [first_window[0]] + good[len(first_window) :]
    await asyncio.to_thread(publish_all, broker.host, broker.port, sent)

    proximity = meeting_id("proximity", event_id, a.badge, b.badge, T0)
    tapped = meeting_id("tap", event_id, a.badge, b.badge, T0 + 33)
    await until(lambda: {proximity, tapped} <= set(server.meetings), "both meetings forwarded")
    status = await watcher.wait_for(
        lambda s: (
            s.counters.get("received") == len(sent) and s.gauges.get("journal_unforwarded") == 0.0
        ),
        "every message received and everything forwarded",
    )
    assert not running.task.done()  # bad input did not stop it

    meeting = server.meetings[proximity]
    assert (meeting.first_seen, meeting.last_seen) == (T0, T0 + 6 * WINDOW)
    assert (meeting.windows, meeting.contact_seconds) == (6, 6 * WINDOW)
    assert (meeting.gateway, meeting.zone, meeting.rssi_median_dbm) == (GATEWAY, "Hall A", -58)
    assert server.meetings[tapped].kind == "tap"
    assert len(server.meetings) == 2
    assert server.conflicts == []

    counters = status.counters
    for reason, messages in bad.items():
        assert counters[f"rejected.{reason}"] == len(messages), reason
    rejected = sum(v for k, v in counters.items() if k.startswith("rejected."))
    assert rejected == len(bad_messages)
    assert counters["duplicate"] == 1
    assert counters["accepted"] == 3 * 16
    assert (counters["meetings"], counters["taps"], counters["forwarded"]) == (1, 1, 2)
    assert counters["contact_windows"] == 6
    assert counters["heard_below_threshold"] == 6
    assert status.gauges["open_pairs"] == 0.0

    await running.finish()
    final = await watcher.wait_for(lambda s: s.state == "offline", "offline after stop")
    assert final.counters["received"] == len(sent)
    # "online" is only announced once the gateway can receive: a publisher may start then
    online = [s for s in watcher.history if s.state == "online"]
    assert online and all(s.gauges["mqtt_subscribed"] == 1.0 for s in online)

    # A restart resumes the counters, gets nothing redelivered (all was acknowledged)
    # and sends nothing again.
    running = Running(settings, server)
    await running.ready(watcher)
    more = quiet([a, b, c], range(16, 18))
    await asyncio.to_thread(publish_all, broker.host, broker.port, more)
    status = await watcher.wait_for(
        lambda s: s.counters.get("accepted") == 3 * 18, "the new reports accepted"
    )
    assert status.counters["received"] == len(sent) + len(more)
    assert status.counters["duplicate"] == 1
    await running.finish()
    assert server.duplicates == 0 and len(server.meetings) == 2
    assert server.conflicts == []


async def test_cancellation_stops_cleanly_and_the_registry_is_refreshed(
    broker: Broker, event_id: str, tmp_path: Path, watcher: StatusWatcher
) -> None:
    a, b, newcomer = badges(event_id, 3)
    server = FakeServer(registry_for(event_id, [a, b]))
    settings = settings_for(broker, event_id, tmp_path / "journal", registry_refresh_s=0.1)
    running = Running(settings, server)
    await running.ready(watcher)
    first = quiet([a, b, newcomer], range(2))
    await asyncio.to_thread(publish_all, broker.host, broker.port, first)
    await watcher.wait_for(lambda s: s.counters.get("received") == 6, "first messages")
    assert watcher.counters()["rejected.unknown_badge"] == 2

    server.registry = registry_for(event_id, [a, b, newcomer])  # the newcomer is provisioned
    seen = server.registry_requests
    await until(lambda: server.registry_requests >= seen + 2, "a registry refresh")
    later = quiet([newcomer], range(2, 3))
    await asyncio.to_thread(publish_all, broker.host, broker.port, later)
    await watcher.wait_for(lambda s: s.counters.get("accepted") == 5, "the newcomer accepted")

    running.task.cancel()  # what a SIGTERM turned into cancellation does
    with pytest.raises(asyncio.CancelledError):
        await running.task
    await running.http.aclose()
    final = await watcher.wait_for(lambda s: s.state == "offline", "offline after cancel")
    assert final.counters["received"] == 7

    # Everything processed before the cancellation was checkpointed and acknowledged.
    running = Running(settings, server)
    await running.ready(watcher)
    await asyncio.to_thread(publish_all, broker.host, broker.port, quiet([a], range(3, 4)))
    status = await watcher.wait_for(lambda s: s.counters.get("accepted") == 6, "one more")
    assert status.counters["received"] == 8 and status.counters["duplicate"] == 0
    await running.finish()


class GatedJournal(TinyDBJournal):
    """A real journal whose checkpoints wait for a gate: a gateway slower than the publisher."""

    def __init__(self, directory: Path, gate: threading.Event) -> None:
        super().__init__(directory)
        self.gate = gate

    def checkpoint(self, meetings: Sequence[Meeting], state: Mapping[str, Any]) -> None:
        if not self.gate.wait(HANG_GUARD_S):
            raise AssertionError("the gate never opened")
        super().checkpoint(meetings, state)


async def test_a_slow_gateway_loses_nothing(
    broker: Broker, event_id: str, tmp_path: Path, watcher: StatusWatcher
) -> None:
    members = badges(event_id, 100)
    registry = registry_for(event_id, members)
    server = FakeServer(registry)
    limit, queue = 500, 50
    settings = settings_for(
        broker, event_id, tmp_path / "journal", checkpoint_max_messages=limit, queue_size=queue
    )
    gate = threading.Event()
    stop = asyncio.Event()
    async with server.client() as http:
        gateway = Gateway(
            settings,
            registry,
            Uplink(http, SERVER, TOKEN),
            clock=FakeClock(),
            rng=random.Random(1),
            journal=GatedJournal(tmp_path / "journal", gate),
        )
        task = asyncio.create_task(gateway.run(stop))
        await watcher.wait_for(lambda s: s.gauges.get("mqtt_subscribed") == 1.0, "subscribed")

        messages = quiet(members, range(200))
        assert len(messages) == 20_000
        await asyncio.to_thread(publish_all, broker.host, broker.port, messages)
        # The broker acknowledged all 20,000 while no checkpoint could finish, so the
        # gateway was far behind: it processes at most two checkpoints' worth (the
        # periodic one and the one forced at ``limit``, each up to ``limit`` plus a
        # drain batch) before it must wait; the rest waited in the broker.
        behind = gateway.status("online").counters["received"]
        assert behind <= 2 * (limit + 1000) < len(messages)
        gate.set()

        status = await watcher.wait_for(
            lambda s: (
                s.counters.get("received") == len(messages)
                and s.gauges.get("unacknowledged") == 0.0
            ),
            "all 20,000 received and acknowledged",
        )
        assert status.counters["accepted"] == len(messages)
        assert status.counters["duplicate"] == 0
        stop.set()
        await asyncio.wait_for(task, HANG_GUARD_S)
