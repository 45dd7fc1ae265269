"""The fast ingest path and ingest generations (issue 5 item 8), on SQLite and PostgreSQL.

The ingest result must be exactly what the one-meeting-at-a-time rule gives (a model
below), whatever mix of new, repeated, stored and conflicting meetings a batch holds;
meetings spread over many ingest generations must still all be found for an attendee.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from protocol.api import Meeting
from server.config import ServerSettings
from server.db import Database, make_engine, migrate
from server.models import Event
from server.models import Meeting as MeetingRow
from server.services import generations
from server.services.events import detection_settings_of
from server.services.ingest import Content, content_of
from server.services.linking import connections_of, is_linked
from tests.unit.server.conftest import (
    OLD_DAY,
    ORG,
    T0,
    Scenario,
    StepClock,
    database_at,
    proximity,
    tap,
)

NAMES = ("Ada", "Bob", "Cy", "Di")


@dataclass
class Model:
    """What the server should have stored: id -> content, judged one meeting at a time."""

    stored: dict[str, Content] = field(default_factory=dict)

    def ingest(self, batch: list[Meeting]) -> dict[str, Any]:
        accepted = duplicates = 0
        rejected = []
        for meeting in batch:
            if meeting.badge_a == meeting.badge_b:
                rejected.append((meeting.id, "self_meeting"))
                continue
            content = content_of(meeting)
            prior = self.stored.get(meeting.id)
            if prior is None:
                self.stored[meeting.id] = content
                accepted += 1
            elif prior == content:
                duplicates += 1
            else:
                rejected.append((meeting.id, "conflict"))
        return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}


def _meetings(s: Scenario) -> st.SearchStrategy[list[Meeting]]:
    """Batches drawn from a small pool, so repeats, stored ids and conflicts are common."""
    pick = st.sampled_from(NAMES)

    @st.composite
    def one(draw: st.DrawFn) -> Meeting:
        a, b = draw(pick), draw(pick)
        first = T0 + 60 * draw(st.integers(0, 5))
        if draw(st.booleans()):
            meeting = tap(s.event, s.badges[a], s.badges[b], first, gateway=s.gateway)
        else:
            meeting = proximity(s.event, s.badges[a], s.badges[b], first, 2, gateway=s.gateway)
        if draw(st.integers(0, 4)) == 0:  # same id, other content: a conflict somewhere
            meeting = msgspec.structs.replace(meeting, last_seen=meeting.last_seen + 20)
        return meeting

    return st.lists(one(), min_size=1, max_size=12)


def test_results_match_the_one_at_a_time_model(scenario: Scenario) -> None:
    model = Model()

    @hypothesis_settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(batch=_meetings(scenario))
    def check(batch: list[Meeting]) -> None:
        expected = model.ingest(batch)
        got = scenario.api.ingest_ok(scenario.token, batch)
        assert got["accepted"] == expected["accepted"]
        assert got["duplicates"] == expected["duplicates"]
        assert [(r["id"], r["code"]) for r in got["rejected"]] == expected["rejected"]

    check()
    stored = scenario.api.client.get(
        f"/api/v1/events/{scenario.event}/meetings", params={"limit": 1000}, headers=ORG
    ).json()["items"]
    assert {m["id"] for m in stored} == set(model.stored)


def test_conflict_and_stored_version_in_one_batch(scenario: Scenario) -> None:
    s = scenario
    b = s.badges
    stored = proximity(s.event, b["Ada"], b["Bob"], T0, 3, gateway=s.gateway)
    assert s.api.ingest_ok(s.token, [stored])["accepted"] == 1
    other = msgspec.structs.replace(stored, windows=2, contact_seconds=40)
    fresh = proximity(s.event, b["Cy"], b["Di"], T0, 3, gateway=s.gateway)
    # the other version first, then the stored one again: a conflict, then a duplicate
    result = s.api.ingest_ok(s.token, [other, fresh, stored, other])
    assert result["accepted"] == 1
    assert result["duplicates"] == 1
    assert [(r["id"], r["code"]) for r in result["rejected"]] == [
        (stored.id, "conflict"),
        (stored.id, "conflict"),
    ]


def test_received_at_is_stored_like_the_orm_stores_it(
    scenario: Scenario, settings: ServerSettings, clock: StepClock
) -> None:
    s = scenario
    meeting = proximity(s.event, s.badges["Ada"], s.badges["Bob"], T0, 3, gateway=s.gateway)
    s.api.ingest_ok(s.token, [meeting])
    database = Database(make_engine(settings.database_url))
    try:
        with database.session() as session:
            row = session.get(MeetingRow, (meeting.event, meeting.first_seen, meeting.id))
            assert row is not None
            assert row.received_at == clock.now
            assert (
                session.scalar(select(MeetingRow.id).where(MeetingRow.received_at == clock.now))
                == meeting.id
            )
    finally:
        database.dispose()


def _brute_force(
    rows: list[MeetingRow], owner: dict[str, int], viewer: int, threshold: int
) -> dict[int, tuple[int, int, int, int, int, list[str]]]:
    """The viewer's connections from every stored meeting, folded the obvious way."""
    acc: dict[int, list[Any]] = {}
    zones: dict[int, set[str]] = defaultdict(set)
    for m in rows:
        x, y = owner[m.badge_a], owner[m.badge_b]
        if viewer not in (x, y) or x == y:
            continue
        other = y if x == viewer else x
        a = acc.setdefault(other, [0, 0, 0, 0, m.first_seen, m.last_seen])
        a[0] += m.contact_seconds if m.kind == "proximity" else 0
        a[1] += m.contact_seconds
        a[2] += 1
        a[3] += m.kind == "tap"
        a[4] = min(a[4], m.first_seen)
        a[5] = max(a[5], m.last_seen)
        if m.zone:
            zones[other].add(m.zone)
    return {
        other: (a[1], a[2], a[3], a[4], a[5], sorted(zones[other]))
        for other, a in acc.items()
        if is_linked(a[0], a[3], threshold)
    }


def _replace_badge(s: Scenario, name: str) -> str:
    """Give the attendee a new badge (the old one is revoked, its meetings stay theirs)."""
    response = s.api.client.post(
        f"/api/v1/events/{s.event}/badges/replace/{s.attendees[name]}", headers=ORG
    )
    assert response.status_code == 201, response.text
    badge: str = response.json()["badge"]
    return badge


BADGES = (*NAMES, "Ada-new")
_examples = itertools.count()


@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(BADGES),
            st.sampled_from(BADGES),
            st.integers(1, 12),
            st.booleans(),
            st.sampled_from(["", "stage", "lobby"]),
        ),
        min_size=1,
        max_size=40,
    )
)
@hypothesis_settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_connections_span_every_generation(
    scenario: Scenario,
    settings: ServerSettings,
    monkeypatch: pytest.MonkeyPatch,
    pairs: list[tuple[str, str, int, bool, str]],
) -> None:
    s = scenario
    monkeypatch.setattr(generations, "GENERATION_ROWS", 3)
    if "Ada-new" not in s.badges:  # once per scenario: Ada's replacement badge
        s.badges["Ada-new"] = _replace_badge(s, "Ada")
    badges = s.badges
    owner = {badge: s.attendees[name.removesuffix("-new")] for name, badge in badges.items()}
    start = T0 + 10**6 * (1 + next(_examples))
    batch = []
    for index, (a, b, windows, is_tap, zone) in enumerate(pairs):
        first = start + 600 * index
        badge_a, badge_b = badges[a], badges[b]
        batch.append(
            tap(s.event, badge_a, badge_b, first, gateway=s.gateway, zone=zone)
            if is_tap
            else proximity(s.event, badge_a, badge_b, first, windows, gateway=s.gateway, zone=zone)
        )
    for at in range(0, len(batch), 4):  # batches of 4: generations of 3 rows fill up
        s.api.ingest_ok(s.token, batch[at : at + 4])
    database = Database(make_engine(settings.database_url))
    try:
        with database.session() as session:
            event = session.get(Event, s.event)
            assert event is not None
            threshold = detection_settings_of(event).link_threshold_seconds
            rows = list(session.scalars(select(MeetingRow).where(MeetingRow.event_id == s.event)))
            # a generation takes a batch while it holds fewer than 3 rows: at most 2 + 4
            if len(rows) > 6:
                assert len({m.ingest_gen for m in rows}) > 1
            for name in NAMES:
                viewer = s.attendees[name]
                got = {
                    c.other.id: (
                        c.total_contact_seconds,
                        c.meetings,
                        c.taps,
                        c.first_seen,
                        c.last_seen,
                        c.zones,
                    )
                    for c in connections_of(session, event, viewer)
                }
                assert got == _brute_force(rows, owner, viewer, threshold), name
                listed = s.api.client.get(
                    f"/api/v1/events/{s.event}/meetings",
                    params={"attendee": viewer, "limit": 1000},
                    headers=ORG,
                ).json()["items"]
                mine = {m.id for m in rows if viewer in (owner[m.badge_a], owner[m.badge_b])}
                assert {m["id"] for m in listed} == mine, name
    finally:
        database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_at_0003(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database at revision 0003 (before ingest generations) holding one meeting."""
    yield from database_at(
        request,
        tmp_path,
        "0003",
        [
            "INSERT INTO meetings (id, event_id, kind, badge_a, badge_b, first_seen, last_seen, "
            "contact_seconds, windows, gateway_id, zone, rssi_median_dbm, received_at) VALUES "
            f"('m1', 'e', 'proximity', 'bb', 'ba', 100, 700, 600, 30, 'gw', 'hall', -60, {OLD_DAY})"
        ],
    )


def test_meetings_stored_before_generations_are_generation_zero(engine_at_0003: Engine) -> None:
    migrate(engine_at_0003)
    database = Database(engine_at_0003)
    with database.session() as session:
        assert session.scalar(select(MeetingRow.ingest_gen)) == 0
        event = session.get(Event, "e")
        assert event is not None
        (connection,) = connections_of(session, event, 1)
        assert (connection.other.name, connection.total_contact_seconds) == ("Bob", 600)
        assert generations.current_generation(session, "e") == 0
