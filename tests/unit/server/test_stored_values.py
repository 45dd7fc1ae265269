"""Values the databases cannot hold are refused up front, alike on SQLite and PostgreSQL.

PostgreSQL cannot store NUL characters in text; a ``datetime`` ends at 9999-12-31 while the
protocol's seconds go to 2**40. Both used to make 500s (PostgreSQL ``DataError``, or an
overflow when an organizer read the stored times back).
"""

from __future__ import annotations

from protocol.api import CheckInRecord
from tests.unit.server.conftest import ORG, T0, Scenario, proximity
from tests.unit.server.test_checkins import CHECKINS, ingest_ok, record, record_fields


def test_nul_characters_are_refused_alike_on_every_database(site: Scenario) -> None:
    # PostgreSQL cannot store NUL in text; SQLite can: both refuse it with a clear error
    client = site.api.client
    refused = [
        client.post("/api/v1/events", json={"id": "e2", "name": "a\x00b"}, headers=ORG),
        client.post("/api/v1/events/ev1/zones", json={"id": "z", "name": "a\x00"}, headers=ORG),
        client.patch("/api/v1/events/ev1/zones/main-hall", json={"name": "\x00"}, headers=ORG),
        client.get("/api/v1/events/ev1/attendees", params={"q": "\x00"}, headers=ORG),
        client.get("/api/v1/events/ev1/meetings", params={"zone": "a\x00"}, headers=ORG),
        client.post(
            "/api/v1/events/ev1/gateways", json={"name": "g", "zone": "a\x00b"}, headers=ORG
        ),
    ]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(422, "invalid_request")] * 6
    # an event id no event can have is not looked up
    for path in ("/api/v1/events/a%00b", "/api/v1/events/a%00b/checkins", "/api/v1/events/a.b"):
        response = client.get(path, headers=ORG)
        assert (response.status_code, response.json()["code"]) == (404, "event_not_found")
    bad = [
        record(site, "Ada", "entry", T0, zone="a\x00b"),
        CheckInRecord(**{**record_fields(record(site, "Bob", "entry", T0)), "detail": "\x00"}),
    ]
    result = ingest_ok(site, bad)
    assert [r["code"] for r in result["rejected"]] == ["malformed", "malformed"]
    assert client.get(CHECKINS, headers=ORG).json()["total"] == 0


def test_meetings_the_server_cannot_store_are_rejected(scenario: Scenario) -> None:
    s = scenario
    a, b = s.badges["Ada"], s.badges["Bob"]
    far = proximity("ev1", a, b, 2**40 - 1000, 12, gateway="gw1")
    nul = proximity("ev1", a, b, T0, 12, gateway="gw1", zone="hall\x00")
    result = s.api.ingest_ok(s.token, [far, nul])
    assert [(r["id"], r["code"]) for r in result["rejected"]] == [
        (far.id, "invalid_interval"),
        (nul.id, "malformed"),
    ]
    # the organizer's reads of the event stay answerable
    for path in ("stats", "stats/network", f"attendees/{s.attendees['Ada']}/connections"):
        assert s.api.client.get(f"/api/v1/events/ev1/{path}", headers=ORG).status_code == 200
