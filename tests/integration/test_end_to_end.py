"""The whole system through a real Mosquitto: simulator -> broker -> gateway -> server.

With the ideal radio the simulator's ground truth is exactly what the badges hear, so
the meetings the server stores must equal the meetings the ground truth implies under
design.md §3, computed independently by ``tests.reference``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from firmware_sim.config import SimSettings
from firmware_sim.runner import run_simulation
from gateway.config import GatewaySettings
from gateway.service import run_gateway
from inperson.broker import Broker
from inperson.roster import make_roster
from inperson.watcher import StatusWatcher, is_drained
from protocol.topics import gateway_status_topic
from server.config import ServerSettings
from server.main import create_app
from tests.reference import expected_meetings

pytestmark = pytest.mark.integration

ORGANIZER = "organizer-token-for-tests"


async def _provision(
    client: httpx2.AsyncClient, event: str, attendees: int, bundles: Path
) -> tuple[str, dict[str, Any]]:
    auth = {"Authorization": f"Bearer {ORGANIZER}"}

    async def call(method: str, path: str, body: Any) -> Any:
        response = await client.request(method, f"/api/v1{path}", json=body, headers=auth)
        assert response.status_code < 300, response.text
        return response.json()

    await call("POST", "/events", {"id": event, "name": "end-to-end"})
    created = await call("POST", f"/events/{event}/attendees", make_roster(attendees, seed=3))
    assert created["errors"] == []
    for bundle in await call("POST", f"/events/{event}/badges", {"all_unbadged": True}):
        (bundles / f"{bundle['badge']}.json").write_text(json.dumps(bundle))
    gateway = await call(
        "POST", f"/events/{event}/gateways", {"id": "gw-e2e", "name": "e2e", "zone": "Hall"}
    )
    settings = (await client.get(f"/api/v1/events/{event}", headers=auth)).json()["settings"]
    return str(gateway["token"]), settings


async def _stored_meetings(client: httpx2.AsyncClient, event: str) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {ORGANIZER}"}
    items: list[dict[str, Any]] = []
    while True:
        page = (
            await client.get(
                f"/api/v1/events/{event}/meetings",
                params={"limit": 500, "offset": len(items)},
                headers=auth,
            )
        ).json()
        items.extend(page["items"])
        if len(items) >= page["total"]:
            return items


async def test_server_meetings_equal_ground_truth_with_ideal_radio(
    broker: Broker, event_id: str, tmp_path: Path
) -> None:
    app = create_app(
        ServerSettings(
            database_url=f"sqlite:///{tmp_path / 'server.sqlite3'}",
            organizer_token=SecretStr(ORGANIZER),
        )
    )
    bundles = tmp_path / "bundles"
    bundles.mkdir()
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://server"
    ) as client:
        token, detection = await _provision(client, event_id, 24, bundles)
        gateway_settings = GatewaySettings(
            broker_host=broker.host,
            broker_port=broker.port,
            server_url="http://server",
            token=SecretStr(token),
            client_id=f"gw-{event_id}",
            journal_dir=tmp_path / "journal",
            checkpoint_interval_s=0.2,
            status_interval_s=0.2,
        )
        watcher = StatusWatcher(broker.host, broker.port, gateway_status_topic(event_id, "gw-e2e"))
        watcher.start()
        stop = asyncio.Event()
        gateway = asyncio.create_task(run_gateway(gateway_settings, http=client, stop=stop))
        try:
            await _until(lambda: _state(watcher) == "online", "gateway online")
            sim_settings = SimSettings(
                bundles_dir=bundles,
                broker_host=broker.host,
                broker_port=broker.port,
                minutes=12,
                speed=0,
                seed=11,
                radio="ideal",
            )
            result = await asyncio.to_thread(run_simulation, sim_settings)
            sent = int(result.summary["messages_sent"])
            await _until(lambda: is_drained(watcher.snapshot(), sent), "gateway drained")
            stored = await _stored_meetings(client, event_id)
        finally:
            stop.set()
            await asyncio.wait_for(gateway, timeout=30)
            watcher.stop()

    truth = result.ground_truth
    window = int(detection["window_seconds"])
    contacts = [(start, a, b) for start, a, b in truth.contacts]
    expected = expected_meetings(
        contacts,
        window,
        int(detection["gap_tolerance_seconds"]),
        int(detection["min_meeting_seconds"]),
    )
    got = {
        (m["badge_a"], m["badge_b"], m["first_seen"], m["last_seen"], m["contact_seconds"])
        for m in stored
        if m["kind"] == "proximity"
    }
    assert len(expected) >= 10, "the scenario must produce meetings to compare"
    assert got == expected
    assert len([m for m in stored if m["kind"] == "proximity"]) == len(got), "no meeting twice"
    taps = {(m["badge_a"], m["badge_b"], m["first_seen"]) for m in stored if m["kind"] == "tap"}
    assert taps == {(min(a, b), max(a, b), t) for t, a, b in truth.taps}
    counters = watcher.snapshot().counters  # type: ignore[union-attr]
    assert counters["contact_windows"] == len(contacts)
    assert not {k: v for k, v in counters.items() if k.startswith("rejected.") and v}


def _state(watcher: StatusWatcher) -> str | None:
    status = watcher.snapshot()
    return status.state if status else None


async def _until(condition: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.05)


def test_demo_command_runs_end_to_end_and_leaves_no_process(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "inperson",
            "demo",
            "--out",
            str(tmp_path / "demo"),
            "--badges",
            "40",
            "--minutes",
            "15",
            "--speed",
            "0",
            "--summary-json",
            str(summary_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    for key in (
        "reports_sent",
        "reports_accepted",
        "meetings",
        "connections",
        "precision",
        "recall",
    ):
        assert key in summary
    assert summary["reports_accepted"] == summary["reports_sent"] > 0
    assert summary["meetings"] > 0 and summary["connections"] > 0
    assert Path(summary["sample_export"]).read_text().startswith("name,company")
    assert "precision" in completed.stderr
    page = Path(summary["report"]).read_text()
    assert page.count("<svg") >= 4  # contacts over time, network, time together, rejections
    assert f"{summary['precision']:.3f}" in page and "No proximity contacts yet" not in page
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "demo")], capture_output=True, text=True
    ).stdout
    assert leftovers == "", f"processes left behind: {leftovers}"
