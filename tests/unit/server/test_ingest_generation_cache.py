"""The per-process generation cache (``server.services.generations``), on both databases.

The cache saves counting the newest generation on every batch. It must give the same
generations as counting when one process ingests, and when two engines ingest into
one event (two server processes) every meeting must still be stored in a generation
that lookups visit, with no generation skipped.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from protocol.api import Meeting, MeetingBatch
from server.config import ServerSettings
from server.db import Database, make_engine
from server.models import Event, Gateway
from server.models import Meeting as MeetingRow
from server.services import generations, ingest
from server.services.linking import connections_of
from tests.unit.server.conftest import T0, Scenario, build_scenario, proximity

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def _generations(database: Database, event: str) -> list[int]:
    """The stored meetings' generations, in meeting-time order."""
    with database.session() as session:
        query = (
            select(MeetingRow.ingest_gen)
            .where(MeetingRow.event_id == event)
            .order_by(MeetingRow.first_seen)
        )
        return list(session.scalars(query))


def test_one_process_fills_generations_in_order(
    scenario: Scenario, settings: ServerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = scenario
    monkeypatch.setattr(generations, "GENERATION_ROWS", 3)
    for i in range(7):
        meeting = proximity(
            s.event, s.badges["Ada"], s.badges["Bob"], T0 + 1000 * i, 5, gateway=s.gateway
        )
        assert s.api.ingest_ok(s.token, [meeting])["accepted"] == 1
    database = Database(make_engine(settings.database_url))
    try:
        assert _generations(database, s.event) == [0, 0, 0, 1, 1, 1, 2]
        with database.session() as session:
            assert generations.current_generation(session, s.event) == 2
    finally:
        database.dispose()


def test_two_engines_share_generations_without_gaps(
    scenario: Scenario, settings: ServerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = scenario
    monkeypatch.setattr(generations, "GENERATION_ROWS", 3)
    other = Database(make_engine(settings.database_url))
    pairs = [("Ada", "Bob"), ("Ada", "Cy"), ("Bob", "Di"), ("Ada", "Di")]
    expected: Counter[str] = Counter()
    try:
        for i in range(12):
            a, b = pairs[i % len(pairs)]
            batch = [
                proximity(
                    s.event, s.badges[a], s.badges[b], T0 + 10_000 * i + j, 30, gateway=s.gateway
                )
                for j in range(2)
            ]
            for name in (a, b):
                expected[name] += len(batch)
            if i % 3 == 0:  # every third batch through the other "process"
                with other.session() as session:
                    gateway = session.get(Gateway, (s.event, s.gateway))
                    assert gateway is not None
                    result = ingest.ingest_batch(session, gateway, MeetingBatch(batch), NOW)
                    assert (result.accepted, result.rejected) == (2, [])
            else:
                assert s.api.ingest_ok(s.token, batch)["accepted"] == 2
        per_generation = Counter(_generations(other, s.event))
        assert sum(per_generation.values()) == 24
        # contiguous from 0: lookups visit 0..newest, and none is visited for nothing
        assert sorted(per_generation) == list(range(max(per_generation) + 1))
        assert len(per_generation) > 1
        # each engine adds at most GENERATION_ROWS - 1 + one batch to a generation
        assert max(per_generation.values()) <= 2 * (3 - 1 + 2)
        with other.session() as session:
            event = session.get(Event, s.event)
            assert event is not None
            for name, count in expected.items():
                found = connections_of(session, event, s.attendees[name])
                assert sum(c.meetings for c in found) == count, name
    finally:
        other.dispose()


def test_badge_cache_learns_new_badges_and_keeps_events_apart(scenario: Scenario) -> None:
    s = scenario
    api = s.api
    other = build_scenario(api, "ev2")
    ada, bob = s.badges["Ada"], s.badges["Bob"]
    # both events' badges are seen (and cached) first
    assert (
        api.ingest_ok(s.token, [proximity(s.event, ada, bob, T0, 5, gateway=s.gateway)])["accepted"]
        == 1
    )
    theirs = other.badges["Ada"]
    first = proximity(other.event, theirs, other.badges["Bob"], T0, 5, gateway=other.gateway)
    assert api.ingest_ok(other.token, [first])["accepted"] == 1

    def codes(meetings: list[Meeting]) -> list[str]:
        return [r["code"] for r in api.ingest_ok(s.token, meetings)["rejected"]]

    # another event's badge, or no badge at all: still unknown here, every time
    for t in (T0 + 100, T0 + 200):
        assert codes(
            [
                proximity(s.event, ada, theirs, t, 5, gateway=s.gateway),
                proximity(s.event, "nobody", bob, t, 5, gateway=s.gateway),
            ]
        ) == ["unknown_badge", "unknown_badge"]
    # a badge provisioned after the event's badges were cached is known at once
    (eve,) = api.add_attendees(s.event, [{"name": "Eve"}])
    (bundle,) = api.provision(s.event, [eve])
    meeting = proximity(s.event, ada, bundle["badge"], T0 + 300, 5, gateway=s.gateway)
    assert api.ingest_ok(s.token, [meeting]) == {"accepted": 1, "duplicates": 0, "rejected": []}
