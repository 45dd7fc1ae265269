"""A tap repeated after a long downtime is still a duplicate: tap-id memory runs in uptime.

A real gateway process decides and forwards a tap, then is SIGKILLed. It comes back (in
process, on a wall clock 20 minutes later: longer than the 11 minutes a tap id is
remembered) and only after its reader has issued a fresh nonce and forgotten the old one
does the badge repeat the tap. The server must end with one record of that tap.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import service
from gateway.clock import SystemClock
from inperson.broker import Broker
from tests.integration.gateway_harness import (
    READER,
    TOKEN,
    FakeServer,
    Running,
    reader_nonce,
    settings_for,
    tap,
    until,
)
from tests.unit.gateway.support import T0, StatusWatcher, badges, publish_all, registry_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOWNTIME_S = 1200.0  # past valid (60 s) + memory (600 s)


class LaterClock(SystemClock):
    """The wall clock, ``DOWNTIME_S`` ahead: the restart happens 20 minutes later."""

    def now(self) -> float:
        return super().now() + DOWNTIME_S


async def test_a_tap_repeated_after_a_long_downtime_is_a_duplicate(
    broker: Broker,
    event_id: str,
    tmp_path: Path,
    watcher: StatusWatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [member] = badges(event_id, 1)
    server = FakeServer(registry_for(event_id, [member]))
    journal = tmp_path / "journal"
    log = tmp_path / "gateway.log"
    env = {
        **os.environ,
        "GATEWAY_TOKEN": TOKEN,
        "GATEWAY_BROKER_HOST": broker.host,
        "GATEWAY_BROKER_PORT": str(broker.port),
        "GATEWAY_CLIENT_ID": f"gw-{event_id}",
        "GATEWAY_JOURNAL_DIR": str(journal),
        "GATEWAY_CHECKPOINT_INTERVAL_S": "0.1",
        "GATEWAY_STATUS_INTERVAL_S": "0.1",
        "GATEWAY_FORWARD_INTERVAL_S": "0.1",
        "GATEWAY_READERS": READER,
        "GATEWAY_READER_NONCE_INTERVAL_S": "3600",
    }
    with server.serve() as url, log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway"],
            cwd=ROOT,
            env={**env, "GATEWAY_SERVER_URL": url},
            stdout=out,
            stderr=out,
        )
        try:
            await watcher.wait_for(lambda s: s.gauges.get("mqtt_subscribed") == 1.0, "online")
            old_nonce = await reader_nonce(broker, event_id)
            await asyncio.to_thread(
                publish_all, broker.host, broker.port, [tap(member, old_nonce, t=T0)]
            )
            await until(lambda: len(server.checkins) == 1, "the tap forwarded")
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
    [first] = server.checkins.values()
    assert first.outcome == "accepted"

    monkeypatch.setattr(service, "SystemClock", LaterClock)
    settings = settings_for(broker, event_id, journal, readers=READER, reader_nonce_interval_s=3600)
    running = Running(settings, server)
    try:
        await running.ready(watcher)

        async def fresh_nonce() -> str:
            while (nonce := await reader_nonce(broker, event_id)) == old_nonce:
                await asyncio.sleep(0.05)
            return nonce

        # the restarted reader has issued a new nonce, so it has forgotten what expired
        await asyncio.wait_for(fresh_nonce(), 60)
        repeat = tap(member, old_nonce, t=T0 + 2)  # a new seq, the same nonce: the same id
        await asyncio.to_thread(publish_all, broker.host, broker.port, [repeat])
        status = await watcher.wait_for(
            lambda s: s.counters.get("checkins.duplicate", 0) >= 1, "the repeat recognised"
        )
    finally:
        await running.finish()
    assert status.counters.get("checkins.unknown_nonce", 0) == 0
    assert status.counters.get("checkins.stale_nonce", 0) == 0
    assert server.checkin_conflicts == [] and list(server.checkins.values()) == [first]
