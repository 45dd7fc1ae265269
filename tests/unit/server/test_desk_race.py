"""Concurrent desk entries of one person: exactly one is accepted (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from server.config import ServerSettings
from server.db import Database, make_engine
from server.models import Event
from server.services.desk import DeskRequest, desk_checkin
from tests.unit.server.conftest import Scenario

_DESKS = 6
_NOW = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("by", ["attendee", "badge"])
def test_concurrent_entries_accept_exactly_one(
    site: Scenario, settings: ServerSettings, by: str
) -> None:
    database = Database(make_engine(settings.database_url))
    database.start()
    barrier = threading.Barrier(_DESKS)
    who = {"attendee": site.attendees["Ada"]} if by == "attendee" else {"badge": site.badges["Ada"]}

    def enter(desk: int) -> str:
        with database.session() as session:
            event = session.get(Event, site.event)
            assert event is not None
            request = DeskRequest(nonce=f"desk-{desk}", zone="main-hall", direction="entry", **who)
            barrier.wait()  # every desk decides at the same moment
            row, created = desk_checkin(session, event, request, _NOW)
            assert created
            return row.outcome

    try:
        with ThreadPoolExecutor(_DESKS) as pool:
            outcomes = sorted(pool.map(enter, range(_DESKS)))
    finally:
        database.dispose()
    assert outcomes == ["accepted"] + ["already_inside"] * (_DESKS - 1)
