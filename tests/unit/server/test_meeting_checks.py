"""Ingest's batch-at-once validity check agrees with the meeting-by-meeting one; the ingest
route's plain-SQL token check agrees with the ORM's."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from protocol.api import Meeting
from protocol.ids import meeting_id
from server.config import ServerSettings
from server.db import Database, make_engine
from server.models import Gateway
from server.services.batches import GatewayRef
from server.services.gateway_tokens import find_sender
from server.services.meeting_checks import all_valid, rejection_for
from server.services.meeting_ids import IdCheck
from tests.unit.server.conftest import ORG, ORGANIZER_TOKEN, T0, Scenario, bearer, proximity, tap

EVENT = "ev1"
GATEWAY = "gw1"
KNOWN = {"b1", "b2", "b3", "b4"}
_BAD = {
    "event": "ev2",
    "gateway": "gw2",
    "badge_a": "b9",
    "id": "0" * 32,
    "last_seen": -1,
    "contact_seconds": 10**9,
    "windows": 2**40 + 1,
    "rssi_median_dbm": 21,
    "zone": "x" * 201,
}
"""One invalid value per field ``rejection_for`` looks at (each alone refuses a meeting)."""


@st.composite
def _meeting(draw: st.DrawFn) -> Meeting:
    a, b = draw(st.permutations(sorted(KNOWN)))[:2]
    first = draw(st.integers(0, 2**33))
    if draw(st.booleans()):
        meeting = tap(EVENT, a, b, first, gateway=GATEWAY, zone=draw(st.sampled_from(["", "hall"])))
    else:
        meeting = proximity(EVENT, a, b, first, draw(st.integers(0, 50)), gateway=GATEWAY)
    if draw(st.integers(0, 9)) == 0:  # now and then, one field made invalid
        field = draw(st.sampled_from(sorted(_BAD) + ["self", "nul", "far", "rssi"]))
        if field == "self":
            meeting = msgspec.structs.replace(meeting, badge_b=meeting.badge_a)
        elif field == "nul":
            meeting = msgspec.structs.replace(meeting, zone="a\x00b")
        elif field == "far":  # past 9999-12-31, with a valid id
            far = 253_402_300_800
            meeting = msgspec.structs.replace(
                meeting,
                first_seen=far,
                last_seen=far,
                contact_seconds=0,
                id=meeting_id(meeting.kind, EVENT, meeting.badge_a, meeting.badge_b, far),
            )
        elif field == "rssi":
            meeting = msgspec.structs.replace(meeting, rssi_median_dbm=-128)
        else:
            meeting = msgspec.structs.replace(meeting, **{field: _BAD[field]})
    return meeting


@given(st.lists(_meeting(), max_size=12))
def test_batch_check_agrees_with_the_meeting_by_meeting_check(meetings: list[Meeting]) -> None:
    ids = IdCheck(EVENT)
    expected = all(rejection_for(m, EVENT, GATEWAY, KNOWN, ids) is None for m in meetings)
    assert all_valid(meetings, EVENT, GATEWAY, KNOWN, ids) == expected
    assert ids.all_valid(meetings) == all(ids.is_valid(m) for m in meetings)


def test_plain_sql_token_check_finds_what_the_orm_finds(scenario: Scenario) -> None:
    s = scenario
    database: Database = s.api.client.app.state.database  # type: ignore[attr-defined]
    with database.session() as session:
        row = session.get(Gateway, (s.event, s.gateway))
        assert row is not None
        expected = GatewayRef(event_id=row.event_id, id=row.id, zone=row.zone)
        assert find_sender(session, s.token) == expected
        assert find_sender(session, s.token + "x") is None
        assert find_sender(session, ORGANIZER_TOKEN) is None


def test_a_rotated_token_cannot_ingest_and_the_new_one_can(scenario: Scenario) -> None:
    s, b = scenario, scenario.badges
    meeting = proximity(s.event, b["Ada"], b["Bob"], T0, 3, gateway=s.gateway)
    rotated = s.api.client.post(f"/api/v1/events/{s.event}/gateways/gw1/token", headers=ORG)
    old = s.api.ingest(s.token, [meeting])
    assert (old.status_code, old.json()["code"]) == (401, "invalid_token")
    assert s.api.ingest_ok(rotated.json()["token"], [meeting])["accepted"] == 1
    stored = s.api.client.get(f"/api/v1/events/{s.event}/meetings", headers=ORG).json()
    assert [(m["id"], m["gateway"], m["zone"]) for m in stored["items"]] == [
        (meeting.id, "gw1", "hall")
    ]
    response = s.api.client.post(
        "/api/v1/gateway/meetings", content=b"{}", headers=bearer(s.token + "x")
    )
    assert response.status_code == 401


def test_no_gateway_no_sender(settings: ServerSettings) -> None:
    database = Database(make_engine(settings.database_url))
    try:
        with database.session() as session:
            assert find_sender(session, "gw_nothing") is None
    finally:
        database.dispose()
