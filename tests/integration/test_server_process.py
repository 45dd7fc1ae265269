"""The real server process (``python -m server`` under uvicorn) over real HTTP, and a restart.

Meetings and check-ins (gateway and desk) stored before the restart are recognised after
it: resends are duplicates, a desk retry answers the stored check-in.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from inperson.broker import free_port
from protocol.api import (
    CheckInBatch,
    CheckInRecord,
    IngestResult,
    Meeting,
    MeetingBatch,
    ProvisioningBundle,
    Registry,
)
from protocol.encoding import decode_json, encode_json
from protocol.ids import checkin_id, meeting_id

pytestmark = pytest.mark.integration

TOKEN = "integration-organizer-token"
ORG = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """``python -m server`` on a free port with a SQLite file; started and stopped by the test."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "server.log"
        self.env = {
            **os.environ,
            "SERVER_ORGANIZER_TOKEN": TOKEN,
            "SERVER_PORT": str(self.port),
            "SERVER_DATABASE_URL": f"sqlite:///{tmp / 'server.sqlite3'}",
            "SERVER_LOG_LEVEL": "info",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server"], env=self.env, cwd=ROOT, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                time.sleep(0.1)
        pytest.fail(f"server did not answer /healthz: {self.log.read_text()[-2000:]}")

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_end_to_end_over_http_survives_restart(server: ServerProcess) -> None:
    with httpx2.Client(base_url=server.url, timeout=10) as http:
        assert (
            http.post(
                "/api/v1/events", json={"id": "live", "name": "Live"}, headers=ORG
            ).status_code
            == 201
        )
        imported = http.post(
            "/api/v1/events/live/attendees/import",
            content=b"name,email,share_level\nAda,ada@example.org,full\nBob,bob@example.org,full\n",
            headers={**ORG, "Content-Type": "text/csv"},
        )
        assert imported.json() == {"created": 2, "errors": []}
        provisioned = http.post(
            "/api/v1/events/live/badges", json={"all_unbadged": True}, headers=ORG
        )
        bundles = decode_json(provisioned.content, list[ProvisioningBundle])
        gateway = http.post(
            "/api/v1/events/live/gateways",
            json={"id": "gw", "name": "G", "zone": "hall"},
            headers=ORG,
        ).json()
        gw = {"Authorization": f"Bearer {gateway['token']}"}
        registry = decode_json(http.get("/api/v1/gateway/registry", headers=gw).content, Registry)
        assert {b.badge for b in registry.badges} == {b.badge for b in bundles}
        a, b = bundles[0].badge, bundles[1].badge
        batch = MeetingBatch(
            meetings=[
                Meeting(
                    id=meeting_id("tap", "live", a, b, 1_700_000_000),
                    event="live",
                    kind="tap",
                    badge_a=a,
                    badge_b=b,
                    first_seen=1_700_000_000,
                    last_seen=1_700_000_000,
                    contact_seconds=0,
                    windows=0,
                    gateway="gw",
                )
            ]
        )
        first = http.post("/api/v1/gateway/meetings", content=encode_json(batch), headers=gw)
        assert decode_json(first.content, IngestResult) == IngestResult(accepted=1, duplicates=0)
        garbage = http.post("/api/v1/gateway/meetings", content=b"\x00garbage", headers=gw)
        assert garbage.status_code == 422 and set(garbage.json()) == {"code", "detail"}
        # check-ins: a reader's tap through the gateway, then an exit at the desk
        zone = {"id": "hall", "name": "Hall"}
        assert http.post("/api/v1/events/live/zones", json=zone, headers=ORG).status_code == 201
        taps = CheckInBatch(
            checkins=[
                CheckInRecord(
                    id=checkin_id("live", a, "door", "11" * 16),
                    event="live",
                    badge=a,
                    reader="door",
                    zone="hall",
                    direction="entry",
                    t=1_700_000_100,
                    received_at=1_700_000_101,
                    outcome="accepted",
                    gateway="gw",
                )
            ]
        )
        tapped = http.post("/api/v1/gateway/checkins", content=encode_json(taps), headers=gw)
        assert decode_json(tapped.content, IngestResult) == IngestResult(accepted=1, duplicates=0)
        desk = {"nonce": "desk-1", "badge": b, "zone": "hall", "direction": "entry"}
        assert http.post("/api/v1/events/live/checkins", json=desk, headers=ORG).status_code == 201

    # uvicorn shuts down cleanly, then re-raises SIGTERM so the exit status tells why it stopped
    assert server.stop() in (0, -15)
    assert "Application shutdown complete" in server.log.read_text()
    server.start()

    with httpx2.Client(base_url=server.url, timeout=10) as http:
        again = http.post("/api/v1/gateway/meetings", content=encode_json(batch), headers=gw)
        assert decode_json(again.content, IngestResult) == IngestResult(accepted=0, duplicates=1)
        stats = http.get("/api/v1/events/live/stats", headers=ORG).json()
        assert (stats["attendees"], stats["badges"], stats["taps"], stats["connections"]) == (
            2,
            2,
            1,
            1,
        )
        resent = http.post("/api/v1/gateway/checkins", content=encode_json(taps), headers=gw)
        assert decode_json(resent.content, IngestResult) == IngestResult(accepted=0, duplicates=1)
        retry = http.post("/api/v1/events/live/checkins", json=desk, headers=ORG)
        assert (retry.status_code, retry.json()["outcome"]) == (200, "accepted")
        inside = http.get("/api/v1/events/live/zones/hall/inside", headers=ORG).json()
        assert sorted(p["badge"] for p in inside["inside"]) == sorted([a, b])
        export = http.get("/api/v1/events/live/attendees/1/export.csv", headers=ORG)
        # after the restart (migrations already at head), consent is still applied
        assert export.text.splitlines()[1].startswith("Bob,,,bob@example.org,,2023-11-14T22:13:20Z")


def test_missing_token_is_a_clear_startup_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVER_")}
    done = subprocess.run(
        [sys.executable, "-m", "server"], env=env, cwd=ROOT, capture_output=True, timeout=60
    )
    assert done.returncode != 0
    assert b"invalid server settings" in done.stderr
    assert b"organizer_token" in done.stderr


def _report(server: ServerProcess, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inperson", "report", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", "SERVER_ORGANIZER_TOKEN": ""},
    )


def test_report_command_against_the_running_server(server: ServerProcess, tmp_path: Path) -> None:
    with httpx2.Client(base_url=server.url, timeout=10) as http:
        created = http.post(
            "/api/v1/events", json={"id": "rep", "name": "Report <Day>"}, headers=ORG
        )
        assert created.status_code == 201
    out = tmp_path / "report.html"
    done = _report(server, out, "rep", "--server-url", server.url, "--token", TOKEN)
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert "<h1>Report &lt;Day&gt;</h1>" in page and "No proximity contacts yet" in page

    wrong = _report(server, tmp_path / "x.html", "rep", "--server-url", server.url, "--token", "no")
    assert wrong.returncode == 1 and "401" in wrong.stderr and "Traceback" not in wrong.stderr
    down = _report(
        server, tmp_path / "y.html", "rep", "--server-url", "http://127.0.0.1:9", "--token", TOKEN
    )
    assert (
        down.returncode == 1 and "report failed" in down.stderr and "Traceback" not in down.stderr
    )
    missing = _report(server, tmp_path / "z.html", "rep", "--server-url", server.url)
    assert missing.returncode == 2 and "organizer token is needed" in missing.stderr
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "y.html").exists()
