"""Kill -9 the gateway process mid-event, restart it: the server gets exactly the meetings of an
uninterrupted run (design.md section 4, "nothing lost, nothing doubled")."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.processor import Processor
from gateway.registry import BadgeRegistry
from inperson.broker import Broker
from protocol.api import Meeting, Registry
from protocol.topics import gateway_status_topic
from tests.integration.gateway_harness import TOKEN, FakeServer
from tests.unit.gateway.support import (
    GATEWAY,
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

ROOT = Path(__file__).resolve().parents[2]
Message = tuple[str, bytes]


def event_messages(members: list[TestBadge]) -> list[Message]:
    """Several conversations (one too short), a tap, then quiet windows that close them all."""
    talks = {
        (0, 1): range(0, 10),
        (2, 3): range(5, 21),
        (0, 4): range(25, 35),
        (1, 5): range(40, 42),
    }
    messages: list[Message] = []
    for i in range(60):
        heard: dict[int, list[tuple[TestBadge, int]]] = {n: [] for n in range(len(members))}
        for (x, y), windows in talks.items():
            if i in windows:
                heard[x].append((members[y], -55 - x))
                heard[y].append((members[x], -60 + y))
        for n, member in enumerate(members):
            messages.append(member.report(T0 + i * WINDOW, heard[n]))
        if i == 30:
            tap = transcript(members[2], members[5], T0 + i * WINDOW + 4)
            messages += [members[2].tap(tap), members[5].tap(tap)]
    return messages


def expected_meetings(registry: Registry, messages: list[Message]) -> dict[str, Meeting]:
    processor = Processor(BadgeRegistry(registry), FakeClock())
    for topic, payload in messages:
        assert processor.handle(topic, payload).is_accepted
    return {m.id: m for m in processor.take_meetings()}


@pytest.fixture
def gateway_env(broker: Broker, event_id: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "GATEWAY_TOKEN": TOKEN,
        "GATEWAY_BROKER_HOST": broker.host,
        "GATEWAY_BROKER_PORT": str(broker.port),
        "GATEWAY_CLIENT_ID": f"gw-{event_id}",
        "GATEWAY_JOURNAL_DIR": str(tmp_path / "journal"),
        "GATEWAY_CHECKPOINT_INTERVAL_S": "0.2",
        "GATEWAY_STATUS_INTERVAL_S": "0.1",
        "GATEWAY_FORWARD_INTERVAL_S": "0.1",
        "GATEWAY_LOG_LEVEL": "INFO",
    }
    yield env


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway"], cwd=ROOT, env=env, stdout=out, stderr=out
        )


@pytest.mark.parametrize(
    "first_interval",
    [
        "0.2",  # the killed gateway had checkpointed (and acknowledged) part of it
        "30",  # it had checkpointed nothing: everything must come back from the broker
    ],
)
async def test_killed_gateway_restarts_with_nothing_lost_or_doubled(
    broker: Broker, event_id: str, tmp_path: Path, gateway_env: dict[str, str], first_interval: str
) -> None:
    members = badges(event_id, 6)
    registry = registry_for(event_id, members)
    messages = event_messages(members)
    expected = expected_meetings(registry, messages)
    assert len(expected) == 4  # three conversations and the tap; the short one is no meeting
    reports = sum(1 for topic, _ in messages if topic.endswith("/reports"))
    log = tmp_path / "gateway.log"
    watcher = StatusWatcher(broker.host, broker.port, gateway_status_topic(event_id, GATEWAY))
    server = FakeServer(registry)
    with server.serve() as url:
        env = {**gateway_env, "GATEWAY_SERVER_URL": url}
        process = start({**env, "GATEWAY_CHECKPOINT_INTERVAL_S": first_interval}, log)
        try:
            await watcher.wait_for(lambda s: s.gauges.get("mqtt_subscribed") == 1.0, "online")
            half = len(messages) // 2
            await asyncio.to_thread(publish_all, broker.host, broker.port, messages[:half])
            await watcher.wait_for(
                lambda s: s.counters.get("received", 0) >= half // 2, "half of it received"
            )
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            await watcher.wait_for(lambda s: s.state == "offline", "the last will")
            # the rest arrives while the gateway is dead: the broker keeps it for the session
            await asyncio.to_thread(publish_all, broker.host, broker.port, messages[half:])
            process = start(env, log)
            status = await watcher.wait_for(
                lambda s: (
                    s.state == "online"
                    and s.counters.get("accepted") == reports
                    and s.gauges.get("open_pairs") == 0.0
                    and s.gauges.get("journal_unforwarded") == 0.0
                ),
                "everything accepted, closed and forwarded after the restart",
            )
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(20)
            watcher.close()
        assert process.returncode == 0, log.read_text()[-3000:]
        if first_interval == "30":
            assert log.read_text().count("no journal state; starting fresh") == 2
        assert server.conflicts == []
        assert server.meetings == expected
        assert status.counters["taps"] == 1
        assert sum(v for k, v in status.counters.items() if k.startswith("rejected.")) == 0
