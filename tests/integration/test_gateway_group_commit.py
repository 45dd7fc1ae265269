"""Group commit and the replay log through the whole gateway and a real Mosquitto.

- A checkpoint that fails is tried again although no further message arrives (group
  commit starts checkpoints when messages come; the ones waiting must not be stranded).
- The replay memory (base + log, apart from state.json) survives restarts: every message
  a badge sends again after two restarts is a duplicate, and a changed one a replay.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import JournalError
from gateway.journal import TinyDBJournal
from gateway.service import Gateway
from gateway.uplink import Uplink
from inperson.broker import Broker
from protocol.api import GatewayStatus, Meeting
from tests.integration.gateway_harness import (
    SERVER,
    TOKEN,
    FakeServer,
    Running,
    conversation,
    settings_for,
)
from tests.unit.gateway.support import (
    T0,
    WINDOW,
    FakeClock,
    StatusWatcher,
    badges,
    publish_all,
    registry_for,
)

pytestmark = pytest.mark.integration


class FailingJournal(TinyDBJournal):
    """A real journal whose first ``failures`` checkpoints fail, as on a full disk."""

    def __init__(self, directory: Path, failures: int) -> None:
        super().__init__(directory)
        self.failures = failures
        self.calls = 0

    def checkpoint(self, meetings: Sequence[Meeting], state: Mapping[str, Any]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise JournalError("No space left on device (test)")
        super().checkpoint(meetings, state)


async def test_a_failed_checkpoint_is_retried_without_new_traffic(
    broker: Broker, event_id: str, tmp_path: Path, watcher: StatusWatcher
) -> None:
    a, b, c = badges(event_id, 3)
    registry = registry_for(event_id, [a, b, c])
    server = FakeServer(registry)
    settings = settings_for(broker, event_id, tmp_path / "journal")
    journal = FailingJournal(tmp_path / "journal", failures=2)
    stop = asyncio.Event()
    async with server.client() as http:
        gateway = Gateway(
            settings,
            registry,
            Uplink(http, SERVER, TOKEN),
            clock=FakeClock(),
            rng=random.Random(1),
            journal=journal,
        )
        task = asyncio.create_task(gateway.run(stop))
        await watcher.wait_for(lambda s: s.gauges.get("mqtt_subscribed") == 1.0, "subscribed")
        sent = conversation(a, b, c, range(2))
        await asyncio.to_thread(publish_all, broker.host, broker.port, sent)
        # one burst, then silence: only retries can checkpoint and acknowledge it
        status = await watcher.wait_for(
            lambda s: s.counters.get("received") == len(sent) and s.gauges["unacknowledged"] == 0,
            "acknowledged after the failed checkpoints",
        )
        assert journal.calls >= 3 and status.counters["accepted"] == len(sent)
        stop.set()
        await task


def acknowledged(accepted: int) -> Callable[[GatewayStatus], bool]:
    def check(status: GatewayStatus) -> bool:
        return status.counters.get("accepted") == accepted and not status.gauges["unacknowledged"]

    return check


async def test_the_replay_memory_survives_restarts(
    broker: Broker, event_id: str, tmp_path: Path, watcher: StatusWatcher
) -> None:
    a, b, c = badges(event_id, 3)
    server = FakeServer(registry_for(event_id, [a, b, c]))
    settings = settings_for(broker, event_id, tmp_path / "journal")
    first = conversation(a, b, c, range(3))
    second = conversation(a, b, c, range(3, 6))
    for batch, accepted in ((first, len(first)), (second, len(first) + len(second))):
        running = Running(settings, server)
        await running.ready(watcher)
        await asyncio.to_thread(publish_all, broker.host, broker.port, batch)
        await watcher.wait_for(acknowledged(accepted), "accepted and acknowledged")
        await running.finish()
    files = sorted(p.name for p in (tmp_path / "journal").glob("replay-*"))
    assert files and all(name.startswith("replay-") for name in files)

    running = Running(settings, server)
    await running.ready(watcher)
    changed = a.report(T0 + 5 * WINDOW, [], seq=a.seq)  # a's last seq, other content
    again = first + second + [changed]
    await asyncio.to_thread(publish_all, broker.host, broker.port, again)
    status = await watcher.wait_for(
        lambda s: s.counters.get("received") == len(first) + len(second) + len(again),
        "everything received again",
    )
    assert status.counters["duplicate"] == len(first) + len(second)
    assert status.counters["rejected.replay"] == 1
    assert status.counters["accepted"] == len(first) + len(second)
    await running.finish()
