"""The badge check of ingest (``server.services.badge_cache``), on both databases.

A batch is first checked against the badges this process already knows for the event
(no query), then with the batch's badges looked up. Whatever the cache holds, a meeting
naming a badge not registered for the event (another event's, or nobody's) is refused
as ``unknown_badge``, a badge provisioned after the cache was filled is accepted, and
the rest of the batch is stored; a badge with meetings still cannot be deleted, and
erasing its attendee keeps its meetings.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from protocol.api import Meeting
from server.models import Badge
from server.models import Meeting as MeetingRow
from tests.unit.server.conftest import ORG, T0, Scenario, build_scenario, proximity


def test_batches_match_the_registered_badges_whatever_is_cached(scenario: Scenario) -> None:
    s = scenario
    other = build_scenario(s.api, "ev2")
    # the other event's badges are cached too (by a batch of its own gateway)
    theirs = proximity(
        other.event, other.badges["Ada"], other.badges["Bob"], T0, 2, gateway=other.gateway
    )
    assert s.api.ingest_ok(other.token, [theirs])["accepted"] == 1
    own = list(s.badges.values())
    pool = [*own, other.badges["Ada"], "nobody"]
    registered = set(own)
    stored: set[str] = set()
    counter = iter(range(10**6))

    @hypothesis_settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        pairs=st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99)), min_size=1, max_size=8),
        provision=st.booleans(),
    )
    def check(pairs: list[tuple[int, int]], provision: bool) -> None:
        if provision:  # a badge the process has not seen yet joins the event
            (attendee,) = s.api.add_attendees(s.event, [{"name": f"New {next(counter)}"}])
            (bundle,) = s.api.provision(s.event, [attendee])
            pool.append(bundle["badge"])
            registered.add(bundle["badge"])
        batch: list[Meeting] = []
        expected: dict[str, Any] = {"accepted": 0, "duplicates": 0, "rejected": []}
        for i, j in pairs:
            a, b = pool[i % len(pool)], pool[j % len(pool)]
            meeting = proximity(s.event, a, b, T0 + 60 * next(counter), 2, gateway=s.gateway)
            batch.append(meeting)
            if a == b:
                expected["rejected"].append([meeting.id, "self_meeting"])
            elif a not in registered or b not in registered:
                expected["rejected"].append([meeting.id, "unknown_badge"])
            else:
                expected["accepted"] += 1
                stored.add(meeting.id)
        got = s.api.ingest_ok(s.token, batch)
        got["rejected"] = [[r["id"], r["code"]] for r in got["rejected"]]
        assert got == expected

    check()
    listed = s.api.client.get(
        f"/api/v1/events/{s.event}/meetings", params={"limit": 1000}, headers=ORG
    ).json()["items"]
    assert {m["id"] for m in listed} == stored


def test_a_badge_with_meetings_cannot_be_deleted_and_erasure_keeps_them(
    scenario: Scenario,
) -> None:
    s = scenario
    ada, bob = s.badges["Ada"], s.badges["Bob"]
    meeting = proximity(s.event, ada, bob, T0, 3, gateway=s.gateway)
    assert s.api.ingest_ok(s.token, [meeting])["accepted"] == 1
    database = s.api.client.app.state.database  # type: ignore[attr-defined]
    with database.session() as session, pytest.raises(IntegrityError):
        session.execute(delete(Badge).where(Badge.id == ada))
        session.commit()
    response = s.api.client.delete(
        f"/api/v1/events/{s.event}/attendees/{s.attendees['Ada']}", headers=ORG
    )
    assert response.status_code == 204, response.text
    with database.session() as session:
        assert session.scalar(select(Badge.revoked).where(Badge.id == ada)) is True
        count = select(func.count()).select_from(MeetingRow).where(MeetingRow.id == meeting.id)
        assert session.scalar(count) == 1
    # the erased attendee's (revoked) badge still names its meeting: a re-send is a duplicate
    assert s.api.ingest_ok(s.token, [meeting]) == {"accepted": 0, "duplicates": 1, "rejected": []}
