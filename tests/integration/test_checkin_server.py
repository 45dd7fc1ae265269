"""Check-in records from the gateway's reader reach the real server app, once each."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from gateway.config import GatewaySettings
from gateway.service import run_gateway
from inperson.broker import Broker
from inperson.roster import make_roster
from inperson.watcher import StatusWatcher
from protocol.ids import checkin_id
from protocol.signing import BadgeKey
from protocol.topics import gateway_status_topic
from server.config import ServerSettings
from server.main import create_app
from tests.integration.gateway_harness import READER, reader_nonce, tap
from tests.unit.gateway.support import HANG_GUARD_S, T0, TestBadge, publish_all

pytestmark = pytest.mark.integration

ORGANIZER = "organizer-token-for-checkin-tests"
GATEWAY = "gw-door"


async def until(condition: Any, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG_GUARD_S
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


async def test_reader_records_are_stored_by_the_server_once(
    broker: Broker, event_id: str, tmp_path: Path
) -> None:
    app = create_app(
        ServerSettings(
            database_url=f"sqlite:///{tmp_path / 'server.sqlite3'}",
            organizer_token=SecretStr(ORGANIZER),
        )
    )
    auth = {"Authorization": f"Bearer {ORGANIZER}"}
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://server"
    ) as client:

        async def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
            response = await client.request(method, f"/api/v1{path}", json=body, headers=auth, **kw)
            assert response.status_code < 300, response.text
            return response.json()

        await call("POST", "/events", {"id": event_id, "name": "check-ins"})
        await call("POST", f"/events/{event_id}/attendees", make_roster(3, seed=5))
        bundles = await call("POST", f"/events/{event_id}/badges", {"all_unbadged": True})
        members = [
            TestBadge(
                b["badge"],
                event_id,
                BadgeKey(bytes.fromhex(b["signing_seed"])),
                bytes.fromhex(b["ephid_key"]),
            )
            for b in bundles
        ]
        gateway = await call(
            "POST", f"/events/{event_id}/gateways", {"id": GATEWAY, "name": "door", "zone": "Hall"}
        )
        settings = GatewaySettings(
            broker_host=broker.host,
            broker_port=broker.port,
            server_url="http://server",
            token=SecretStr(str(gateway["token"])),
            client_id=f"gw-{event_id}",
            journal_dir=tmp_path / "journal",
            checkpoint_interval_s=0.1,
            status_interval_s=0.1,
            forward_interval_s=0.05,
            readers=f"{READER}=Hall",
            reader_nonce_interval_s=3600,
        )
        watcher = StatusWatcher(broker.host, broker.port, gateway_status_topic(event_id, GATEWAY))
        watcher.start()
        stop = asyncio.Event()
        task = asyncio.create_task(run_gateway(settings, http=client, stop=stop))
        try:
            await until(
                lambda: (s := watcher.snapshot()) is not None and s.state == "online", "online"
            )
            nonce = await reader_nonce(broker, event_id)
            a, b, _ = members
            stranger = TestBadge.named("stranger", event_id)
            taps = [
                tap(a, nonce, t=T0 + 1),
                tap(b, nonce, t=T0 + 2),
                tap(a, nonce, t=T0 + 3),  # repeated: recorded once
                tap(stranger, nonce, t=T0 + 4),
            ]
            await asyncio.to_thread(publish_all, broker.host, broker.port, taps)
            await until(
                lambda: (
                    (s := watcher.snapshot()) is not None
                    and s.counters.get("checkins.forwarded") == 3
                    and s.gauges.get("checkins_unforwarded") == 0.0
                ),
                "three records forwarded",
            )
            status = watcher.snapshot()
            page = await call("GET", f"/events/{event_id}/checkins", params={"limit": 100})
        finally:
            stop.set()
            await asyncio.wait_for(task, HANG_GUARD_S)
            watcher.stop()

    assert status is not None and status.counters["checkins.forward_rejected"] == 0
    assert page["total"] == 3
    stored = {row["id"]: row for row in page["items"]}
    first = stored[checkin_id(event_id, a.badge, READER, nonce)]
    assert (first["outcome"], first["zone"], first["t"], first["gateway"]) == (
        "accepted",
        "Hall",
        T0 + 1,
        GATEWAY,
    )
    assert first["attendee"] is not None
    outcomes = sorted((row["badge"], row["outcome"]) for row in page["items"])
    assert outcomes == sorted(
        [(a.badge, "accepted"), (b.badge, "accepted"), ("stranger", "unknown_badge")]
    )
