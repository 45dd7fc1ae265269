"""The whole gateway against a real Mosquitto and a fake server app (FastAPI over ASGITransport)."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI, Request, Response

from gateway.config import GatewaySettings
from gateway.journal import TinyDBJournal
from gateway.service import Gateway, run_gateway
from gateway.uplink import Uplink
from inperson.broker import Broker
from protocol.api import IngestResult, Meeting, MeetingBatch, Registry
from protocol.encoding import decode_json, encode_json
from protocol.ids import meeting_id
from protocol.signing import BadgeKey
from protocol.topics import gateway_status_topic
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

TOKEN = "gateway-test-token"
SERVER = "http://fake-server.test"
Message = tuple[str, bytes]


class FakeServer:
    """The two gateway endpoints of the server, idempotent on meeting id like the real one."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.meetings: dict[str, Meeting] = {}
        self.duplicates = 0
        self.registry_requests = 0
        self.app = FastAPI()
        self.app.add_api_route("/api/v1/gateway/registry", self.get_registry, methods=["GET"])
        self.app.add_api_route("/api/v1/gateway/meetings", self.post_meetings, methods=["POST"])

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    async def get_registry(self, request: Request) -> Response:
        self.registry_requests += 1
        if not self._authorized(request):
            return Response(b'{"code":"unauthorized","detail":"bad token"}', status_code=401)
        return Response(encode_json(self.registry), media_type="application/json")

    async def post_meetings(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response(b'{"code":"unauthorized","detail":"bad token"}', status_code=401)
        batch = decode_json(await request.body(), MeetingBatch)
        accepted = 0
        for meeting in batch.meetings:
            if meeting.id in self.meetings:
                assert self.meetings[meeting.id] == meeting, "same id, other content"
                self.duplicates += 1
            else:
                self.meetings[meeting.id] = meeting
                accepted += 1
        result = IngestResult(accepted=accepted, duplicates=len(batch.meetings) - accepted)
        return Response(encode_json(result), media_type="application/json")

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.app), base_url=SERVER)


def settings_for(broker: Broker, event: str, journal: Path, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "token": TOKEN,
        "broker_host": broker.host,
        "broker_port": broker.port,
        "server_url": SERVER,
        "client_id": f"gw-{event}",
        "journal_dir": journal,
        "checkpoint_interval_s": 0.1,
        "status_interval_s": 0.1,
        "forward_interval_s": 0.05,
        **overrides,
    }
    return GatewaySettings(**values)


@pytest.fixture
def watcher(broker: Broker, event_id: str) -> Iterator[StatusWatcher]:
    status = StatusWatcher(broker.host, broker.port, gateway_status_topic(event_id, GATEWAY))
    yield status
    status.close()


async def until(predicate: Any, what: str) -> None:
    """Wait for a condition (a hang guard, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG_GUARD_S
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


class Running:
    """run_gateway in a task, with its stop event."""

    def __init__(self, settings: GatewaySettings, server: FakeServer) -> None:
        self.stop = asyncio.Event()
        self.http = server.client()
        self.task = asyncio.create_task(run_gateway(settings, http=self.http, stop=self.stop))

    async def ready(self, watcher: StatusWatcher) -> None:
        await watcher.wait_for(
            lambda s: s.state == "online" and s.gauges.get("mqtt_subscribed") == 1.0,
            "online and subscribed",
        )

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, HANG_GUARD_S)
        await self.http.aclose()


def conversation(a: TestBadge, b: TestBadge, c: TestBadge, windows: range) -> list[Message]:
    """a and b face each other in every window of ``windows``; c reports alone."""
    messages: list[Message] = []
    for i in windows:
        w = T0 + i * WINDOW
        messages += [a.report(w, [(b, -55), (c, -85)]), b.report(w, [(a, -60)]), c.report(w)]
    return messages


def quiet(members: Sequence[TestBadge], windows: range) -> list[Message]:
    return [m.report(T0 + i * WINDOW) for i in windows for m in members]


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
