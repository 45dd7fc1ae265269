"""Check-in readers end to end: a real Mosquitto, the gateway's reader, badges that tap it.

The reader's nonce is read from the broker the way the simulator does
(``firmware_sim.readers.NonceListener``); every tap is decided, journaled while the
server is down, survives gateway restarts (clean and SIGKILL) and reaches the fake
server exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from inperson.broker import Broker
from protocol.api import CheckInRecord
from protocol.ids import checkin_id
from protocol.signing import BadgeKey
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
from tests.unit.gateway.support import (
    GATEWAY,
    T0,
    StatusWatcher,
    TestBadge,
    badges,
    publish_all,
    registry_for,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def outcomes(records: dict[str, CheckInRecord]) -> Counter[tuple[str, str]]:
    return Counter((r.badge, r.outcome) for r in records.values())


async def test_taps_are_decided_kept_through_outage_and_restart_and_forwarded_once(
    broker: Broker, event_id: str, tmp_path: Path, watcher: StatusWatcher
) -> None:
    a, b, c, revoked = badges(event_id, 4)
    stranger = TestBadge.named("stranger", event_id)
    forger = TestBadge(a.badge, event_id, BadgeKey(b"\x07" * 32), a.ephid_key)
    server = FakeServer(registry_for(event_id, [a, b, c, revoked], revoked=[revoked.badge]))
    server.is_down = True
    settings = settings_for(
        broker,
        event_id,
        tmp_path / "journal",
        readers=f"{READER}=lobby",
        reader_nonce_interval_s=3600,  # one nonce for the whole test, across the restart
    )
    running = Running(settings, server)
    await running.ready(watcher)
    nonce = await reader_nonce(broker, event_id)

    taps = [
        tap(a, nonce, t=T0 + 1),
        tap(b, nonce, t=T0 + 2),
        tap(a, nonce, t=T0 + 3),  # a taps again: a duplicate
        tap(revoked, nonce),
        tap(stranger, nonce),
        tap(b, "ab" * 16),
        tap(a, nonce, reader="side-door"),
        tap(forger, nonce),  # bad signature: counted, not recorded
    ]
    await asyncio.to_thread(publish_all, broker.host, broker.port, taps)
    status = await watcher.wait_for(
        lambda s: (
            s.counters.get("received") == len(taps)
            and s.gauges.get("unacknowledged") == 0.0
            and s.gauges.get("checkins_unforwarded") == 6.0
            and s.counters.get("checkins.forward_retries", 0) >= 1
        ),
        "every tap decided and journaled while the server is down, forwarding retried",
    )
    counters = status.counters
    assert counters["checkins.accepted"] == 2 and counters["checkins.duplicate"] == 1
    for outcome in ("revoked_badge", "unknown_badge", "unknown_nonce", "unknown_reader"):
        assert counters[f"checkins.{outcome}"] == 1, outcome
    assert (counters["checkins.bad_signature"], counters["checkins.unrecorded"]) == (1, 1)
    assert server.checkins == {}
    await running.finish()

    # Restarted, still without a server: the journal, the nonce and the taps seen survive.
    running = Running(settings, server)
    await running.ready(watcher)
    assert await reader_nonce(broker, event_id) == nonce
    late = [tap(c, nonce, t=T0 + 9), tap(b, nonce, direction="exit", t=T0 + 10)]
    await asyncio.to_thread(publish_all, broker.host, broker.port, late)
    await watcher.wait_for(
        lambda s: (
            s.counters.get("received") == len(taps) + len(late)
            and s.gauges.get("checkins_unforwarded") == 7.0
        ),
        "the new tap journaled, the repeated one recognised",
    )
    server.is_down = False
    status = await watcher.wait_for(
        lambda s: s.gauges.get("checkins_unforwarded") == 0.0, "the server got everything"
    )
    await running.finish()

    assert server.checkin_conflicts == [] and server.checkin_duplicates == 0
    assert outcomes(server.checkins) == Counter(
        {
            (a.badge, "accepted"): 1,
            (b.badge, "accepted"): 1,
            (c.badge, "accepted"): 1,
            (revoked.badge, "revoked_badge"): 1,
            ("stranger", "unknown_badge"): 1,
            (b.badge, "unknown_nonce"): 1,
            (a.badge, "unknown_reader"): 1,
        }
    )
    entered = server.checkins[checkin_id(event_id, a.badge, READER, nonce)]
    assert (entered.t, entered.zone, entered.gateway, entered.direction) == (
        T0 + 1,
        "lobby",
        GATEWAY,
        "entry",
    )
    assert status.counters["checkins.duplicate"] == 2
    assert status.counters["checkins.forwarded"] == 7


async def test_a_killed_gateway_loses_and_doubles_no_tap(
    broker: Broker, event_id: str, tmp_path: Path, watcher: StatusWatcher
) -> None:
    members = badges(event_id, 6)
    server = FakeServer(registry_for(event_id, members))
    log = tmp_path / "gateway.log"
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
        "GATEWAY_READERS": READER,
        "GATEWAY_READER_NONCE_INTERVAL_S": "3600",
    }

    def start(url: str) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "gateway"],
                cwd=ROOT,
                env={**env, "GATEWAY_SERVER_URL": url},
                stdout=out,
                stderr=out,
            )

    with server.serve() as url:
        server.is_down = True
        process = start(url)
        try:
            await watcher.wait_for(lambda s: s.gauges.get("mqtt_subscribed") == 1.0, "online")
            nonce = await reader_nonce(broker, event_id)
            first = [tap(m, nonce, t=T0 + k) for k, m in enumerate(members[:3])]
            await asyncio.to_thread(publish_all, broker.host, broker.port, first)
            await watcher.wait_for(
                lambda s: s.counters.get("checkins.accepted") == 3, "the first taps decided"
            )
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            await watcher.wait_for(lambda s: s.state == "offline", "the last will")
            # more taps arrive while the gateway is dead; then it restarts, the server returns
            rest = [tap(m, nonce, t=T0 + 10 + k) for k, m in enumerate(members[3:])]
            rest.append(tap(members[0], nonce, t=T0 + 20))  # a repeated tap
            await asyncio.to_thread(publish_all, broker.host, broker.port, rest)
            process = start(url)
            server.is_down = False
            await until(lambda: len(server.checkins) == 6, "every tap forwarded")
            status = await watcher.wait_for(
                lambda s: (
                    s.state == "online"
                    and s.gauges.get("checkins_unforwarded") == 0.0
                    and s.counters.get("checkins.duplicate", 0) >= 1
                ),
                "forwarded and the repeated tap recognised",
            )
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(20)
        assert process.returncode == 0, log.read_text()[-3000:]
    assert server.checkin_conflicts == [] and server.checkin_duplicates == 0
    assert {r.badge for r in server.checkins.values()} == {m.badge for m in members}
    assert {r.outcome for r in server.checkins.values()} == {"accepted"}
    assert status.counters["checkins.accepted"] == 6


async def test_a_badge_of_another_event_is_not_registered(
    broker: Broker, event_id: str, tmp_path: Path, watcher: StatusWatcher
) -> None:
    a, b = badges(event_id, 2)
    visitor = TestBadge.named("visitor", f"{event_id}-other")
    server = FakeServer(registry_for(event_id, [a, b]))
    settings = settings_for(
        broker, event_id, tmp_path / "journal", readers=READER, reader_nonce_interval_s=3600
    )
    running = Running(settings, server)
    await running.ready(watcher)
    await watcher.wait_for(
        lambda s: s.gauges.get("mqtt_foreign_subscribed") == 1.0, "other events followed too"
    )
    nonce = await reader_nonce(broker, event_id)
    messages = [
        tap(visitor, nonce, t=T0 + 1),  # answers our reader: not registered here
        tap(visitor, "ab" * 16, t=T0 + 2),  # answers its own event's reader: none of ours
        tap(a, nonce, t=T0 + 3),  # ours, seen by both subscriptions, decided once
    ]
    await asyncio.to_thread(publish_all, broker.host, broker.port, messages)
    await until(lambda: len(server.checkins) == 2, "two records forwarded")
    status = await watcher.wait_for(
        lambda s: (
            s.counters.get("checkins.ignored") == 1
            and s.counters.get("received") == 1  # the other event's are not our badge traffic
            and s.gauges.get("checkins_unforwarded") == 0.0
        ),
        "the other event's tap ignored, ours received once",
    )
    await running.finish()
    assert outcomes(server.checkins) == Counter(
        {("visitor", "not_registered"): 1, (a.badge, "accepted"): 1}
    )
    record = server.checkins[checkin_id(event_id, "visitor", READER, nonce)]
    assert (record.event, record.t) == (event_id, T0 + 1)
    assert status.counters["checkins.duplicate"] == 0
