"""Ingest racing another writer: a meeting stored between our read and our insert is a duplicate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.engine import Connection

from protocol.api import IngestResult, MeetingBatch
from server.config import ServerSettings
from server.db import Database, make_engine
from server.models import Gateway, Meeting
from server.services.ingest import ingest_batch
from tests.unit.server.conftest import ORG, T0, Scenario, proximity

NOW = datetime(2024, 6, 1, 10, tzinfo=UTC)


def test_meeting_inserted_concurrently_counts_as_duplicate(
    scenario: Scenario, settings: ServerSettings
) -> None:
    s = scenario
    racing = proximity(s.event, s.badges["Ada"], s.badges["Bob"], T0, 9, gateway=s.gateway)
    other = proximity(s.event, s.badges["Cy"], s.badges["Di"], T0, 9, gateway=s.gateway)
    engine = make_engine(settings.database_url)
    rival = make_engine(settings.database_url)
    sneaked: list[str] = []

    def sneak_in(_conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        # another writer stores the same meeting just before our INSERT runs
        if statement.startswith("INSERT INTO meetings") and not sneaked:
            sneaked.append(racing.id)
            with rival.begin() as connection:
                connection.execute(
                    insert(Meeting.metadata.tables["meetings"]),
                    [
                        {
                            "id": racing.id,
                            "event_id": s.event,
                            "kind": "proximity",
                            "badge_a": racing.badge_b,
                            "badge_b": racing.badge_a,
                            "first_seen": racing.first_seen,
                            "last_seen": racing.last_seen,
                            "contact_seconds": racing.contact_seconds,
                            "windows": racing.windows,
                            "gateway_id": s.gateway,
                            "zone": "elsewhere",
                            "rssi_median_dbm": None,
                            "received_at": NOW,
                        }
                    ],
                )

    event.listen(engine, "before_cursor_execute", sneak_in)
    database = Database(engine)
    try:
        with database.session() as session:
            gateway = session.get(Gateway, (s.event, s.gateway))
            assert gateway is not None
            result = ingest_batch(session, gateway, MeetingBatch(meetings=[racing, other]), NOW)
    finally:
        database.dispose()
        rival.dispose()
    assert sneaked == [racing.id]
    # the retry saw the rival's row: ours is a duplicate, the other meeting still went in
    assert result == IngestResult(accepted=1, duplicates=1)
    stats = s.api.client.get(f"/api/v1/events/{s.event}/stats", headers=ORG).json()
    assert stats["meetings"] == 2
