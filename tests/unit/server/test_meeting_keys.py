"""Meetings keyed ``(event_id, first_seen, id)`` (migration r0005): id checks, upgrade, lookups."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect, select, text
from starlette.testclient import TestClient

from protocol.ids import meeting_id
from server.db import Database, alembic_config, migrate
from server.models import Meeting as MeetingRow
from server.services.meeting_ids import IdCheck
from tests.unit.server.conftest import (
    OLD_DAY,
    ORG,
    T0,
    Scenario,
    bearer,
    database_at,
    proximity,
    tap,
)

_IDS = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)


@given(
    kind=st.sampled_from(["proximity", "tap"]),
    event=_IDS,
    a=_IDS,
    b=_IDS,
    first=st.integers(0, 2**40),
)
def test_id_check_agrees_with_the_protocol(
    kind: str, event: str, a: str, b: str, first: int
) -> None:
    ids = IdCheck(event)
    meeting = proximity(event, a, b, first, 1, gateway="gw")
    meeting = msgspec.structs.replace(meeting, kind=kind, id=meeting_id(kind, event, a, b, first))
    assert ids.is_valid(meeting)
    assert ids.is_valid(msgspec.structs.replace(meeting, badge_a=b, badge_b=a))
    assert not ids.is_valid(msgspec.structs.replace(meeting, first_seen=first + 1))
    other = "tap" if kind == "proximity" else "proximity"
    assert not ids.is_valid(msgspec.structs.replace(meeting, kind=other))
    assert not IdCheck(event + "x").is_valid(meeting)


def test_a_meeting_whose_id_is_not_its_meeting_id_is_rejected(scenario: Scenario) -> None:
    s, b = scenario, scenario.badges
    good = proximity(s.event, b["Ada"], b["Bob"], T0, 3, gateway=s.gateway)
    moved = msgspec.structs.replace(
        proximity(s.event, b["Bob"], b["Cy"], T0, 3, gateway=s.gateway), first_seen=T0 + 20
    )
    made_up = tap(s.event, b["Cy"], b["Di"], T0, gateway=s.gateway)
    made_up = msgspec.structs.replace(made_up, id="0123456789abcdef" * 2)
    result = s.api.ingest_ok(s.token, [moved, good, made_up])
    assert result["accepted"] == 1 and result["duplicates"] == 0
    assert [(r["id"], r["code"]) for r in result["rejected"]] == [
        (moved.id, "invalid_id"),
        (made_up.id, "invalid_id"),
    ]
    listed = s.api.client.get(f"/api/v1/events/{s.event}/meetings", headers=ORG).json()
    assert [m["id"] for m in listed["items"]] == [good.id]


def test_a_stored_meeting_sent_again_is_found_by_its_key(scenario: Scenario) -> None:
    s, b = scenario, scenario.badges
    first = [
        proximity(s.event, b["Ada"], b["Bob"], T0 + 60 * k, 2, gateway=s.gateway) for k in (0, 1)
    ]
    assert s.api.ingest_ok(s.token, first)["accepted"] == 2
    changed = msgspec.structs.replace(first[1], last_seen=first[1].last_seen + 20)
    new = proximity(s.event, b["Ada"], b["Bob"], T0 + 120, 2, gateway=s.gateway)
    result = s.api.ingest_ok(s.token, [first[0], changed, new])
    assert (result["accepted"], result["duplicates"]) == (1, 1)
    assert [(r["id"], r["code"]) for r in result["rejected"]] == [(changed.id, "conflict")]


def test_the_gateway_token_is_checked_before_the_body(
    client: TestClient, scenario: Scenario
) -> None:
    garbage = b"\x00not json"
    for headers, status, code in (
        ({}, 401, "missing_token"),
        (bearer("no-such-token"), 401, "invalid_token"),
        (ORG, 403, "gateway_only"),
        (bearer(scenario.token), 422, "malformed"),
    ):
        response = client.post("/api/v1/gateway/meetings", content=garbage, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code)
    # no token at all: refused before the body is read, however large it says it is
    huge = {"Content-Length": str(64 * 1024 * 1024)}
    response = client.post("/api/v1/gateway/meetings", content=b"x" * 64, headers=huge)
    assert (response.status_code, response.json()["code"]) == (401, "missing_token")
    response = client.post(
        "/api/v1/gateway/meetings", content=b"x" * 64, headers={**huge, **bearer("x")}
    )
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_at_0004(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database at revision 0004 (meetings keyed by id alone) holding two meetings."""
    ok = meeting_id("proximity", "e", "ba", "bb", 100)
    yield from database_at(
        request,
        tmp_path,
        "0004",
        [
            "INSERT INTO meetings (id, event_id, kind, badge_a, badge_b, first_seen, last_seen, "
            "contact_seconds, windows, gateway_id, zone, rssi_median_dbm, received_at, "
            f"ingest_gen) VALUES ('{ok}', 'e', 'proximity', 'bb', 'ba', 100, 700, 600, 30, "
            f"'gw', 'hall', -60, {OLD_DAY}, 0), ('m2', 'e', 'tap', 'ba', 'bb', 50, 50, 0, 0, 'gw', "
            f"'desk', NULL, {OLD_DAY}, 1)"
        ],
    )


def _meetings(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        query = text(
            "SELECT id, event_id, kind, badge_a, badge_b, first_seen, last_seen, contact_seconds, "
            "windows, gateway_id, zone, rssi_median_dbm, ingest_gen FROM meetings ORDER BY id"
        )
        return [tuple(row) for row in connection.execute(query)]


def test_upgrade_from_0004_keeps_the_meetings_and_rekeys_them(engine_at_0004: Engine) -> None:
    before = _meetings(engine_at_0004)
    assert len(before) == 2
    migrate(engine_at_0004)
    assert _meetings(engine_at_0004) == before
    schema = inspect(engine_at_0004)
    key = schema.get_pk_constraint("meetings")
    assert key["constrained_columns"] == ["event_id", "first_seen", "id"]
    indexes = {ix["name"] for ix in schema.get_indexes("meetings")}
    assert "ix_meetings_event_first_seen" not in indexes
    database = Database(engine_at_0004)
    with database.session() as session:
        # a meeting stored before the upgrade (even one with a made-up id) is found by its key
        row = session.get(MeetingRow, ("e", 50, "m2"))
        assert row is not None and row.kind == "tap"
        listed = session.scalars(
            select(MeetingRow.id).where(MeetingRow.event_id == "e").order_by(MeetingRow.first_seen)
        ).all()
        assert listed == ["m2", before[0][0]]
    with engine_at_0004.begin() as connection:
        command.downgrade(alembic_config(connection), "0004")
    assert _meetings(engine_at_0004) == before
    assert inspect(engine_at_0004).get_pk_constraint("meetings")["constrained_columns"] == ["id"]
