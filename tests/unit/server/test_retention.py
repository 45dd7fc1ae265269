"""Retention: meetings past their event's retention are purged, by the service and on schedule."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from starlette.testclient import TestClient

from server.config import ServerSettings
from server.db import Database, make_engine
from server.main import create_app
from server.models import Meeting
from server.services.retention import purge_expired
from tests.unit.server.conftest import (
    ORG,
    T0,
    Api,
    StepClock,
    build_scenario,
    make_settings,
    proximity,
)


def _count(url: str) -> dict[str, int]:
    database = Database(make_engine(url))
    try:
        with database.session() as session:
            rows = session.execute(
                select(Meeting.event_id, func.count()).group_by(Meeting.event_id)
            )
            return {event: n for event, n in rows}
    finally:
        database.dispose()


def test_purge_follows_each_events_retention(
    api: Api, clock: StepClock, settings: ServerSettings
) -> None:
    short = build_scenario(api, "short", retention_days=1)
    long = build_scenario(api, "long", retention_days=10)
    for s in (short, long):
        b = s.badges
        s.api.ingest_ok(s.token, [proximity(s.event, b["Ada"], b["Bob"], T0, 12, gateway="gw1")])
    first = clock.now
    clock.advance(3600)
    for s in (short, long):  # received an hour later
        b = s.badges
        s.api.ingest_ok(s.token, [proximity(s.event, b["Cy"], b["Di"], T0, 12, gateway="gw1")])
    assert _count(settings.database_url) == {"short": 2, "long": 2}
    database = Database(make_engine(settings.database_url))
    try:
        with database.session() as session:
            assert purge_expired(session, first + timedelta(days=1)) == 0
            assert purge_expired(session, first + timedelta(days=1, seconds=1)) == 1
            assert _count(settings.database_url) == {"short": 1, "long": 2}
            assert purge_expired(session, clock.now + timedelta(days=10, seconds=1)) == 3
            assert purge_expired(session, clock.now + timedelta(days=11)) == 0  # idempotent
    finally:
        database.dispose()
    assert _count(settings.database_url) == {}
    exported = api.client.get(
        f"/api/v1/events/long/attendees/{long.attendees['Ada']}/export.json", headers=ORG
    )
    assert exported.json()["connections"] == []
    # attendees and badges stay; only the evidence went
    assert len(api.client.get("/api/v1/events/long/attendees", headers=ORG).json()) == 4


def test_the_server_purges_on_a_schedule(tmp_path: Path) -> None:
    clock = StepClock()
    settings = make_settings(tmp_path, retention_interval_s=0.05)
    with TestClient(create_app(settings, clock=clock)) as client:
        s = build_scenario(Api(client), retention_days=1)
        b = s.badges
        s.api.ingest_ok(s.token, [proximity(s.event, b["Ada"], b["Bob"], T0, 12, gateway="gw1")])
        assert _count(settings.database_url) == {"ev1": 1}
        clock.advance(2 * 86400)
        deadline = time.monotonic() + 30
        while _count(settings.database_url) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _count(settings.database_url) == {}
