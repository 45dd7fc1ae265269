"""Authorization of zones, sessions and check-ins: no token reaches outside its scope.

The routes under test are read from the OpenAPI schema, so a new route of these areas
cannot be added without being covered here.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from protocol.api import CheckInRecord
from server.config import ServerSettings
from server.db import Database, make_engine
from server.main import create_app
from server.models import CheckIn, EventSession, Organizer, Zone
from server.services.auth import hash_token
from tests.unit.server.conftest import (
    ORG,
    T0,
    Api,
    Scenario,
    add_zones,
    bearer,
    build_scenario,
    make_settings,
)
from tests.unit.server.test_checkins import (
    ingest_ok,
    post_records,
    record,
    record_fields,
)

_SPEC = create_app(make_settings(Path("never-opened"))).openapi()
_VALUES = {"{event}": "ev1", "{zone_id}": "main-hall", "{session_id}": "talk"}


def _routes(prefix: str) -> list[tuple[str, str]]:
    routes = []
    for path, item in sorted(_SPEC["paths"].items()):
        if not path.startswith(prefix) or not any(
            part in path for part in ("/zones", "/sessions", "/checkins")
        ):
            continue
        for method in sorted(item):
            concrete = path
            for name, value in _VALUES.items():
                concrete = concrete.replace(name, value)
            routes.append((method.upper(), concrete))
    return routes


ORGANIZER_ROUTES = _routes("/api/v1/events/")
GATEWAY_ROUTES = _routes("/api/v1/gateway/")
_BODIES: dict[str, dict[str, object]] = {
    "/zones": {"id": "z2", "name": "Zone 2"},
    "/sessions": {
        "id": "s2",
        "title": "S2",
        "zone": "main-hall",
        "starts_at": "2024-06-01T09:00:00Z",
        "ends_at": "2024-06-01T10:00:00Z",
    },
    "/checkins": {"nonce": "n1", "badge": "b1", "zone": "main-hall", "direction": "entry"},
}


def _body(method: str, path: str) -> dict[str, object] | None:
    if method == "POST":
        return next(v for k, v in _BODIES.items() if path.endswith(k))
    if method == "PATCH":
        return {"capacity": 5}
    return None


def test_the_routes_were_found() -> None:
    assert len(ORGANIZER_ROUTES) == 15
    assert GATEWAY_ROUTES == [("POST", "/api/v1/gateway/checkins")]


@pytest.fixture
def guarded(scenario: Scenario) -> Scenario:
    """ev1 with zones, a session and check-ins: things a wrong token could read or change."""
    add_zones(scenario.api)
    session = {**_BODIES["/sessions"], "id": "talk"}
    response = scenario.api.client.post("/api/v1/events/ev1/sessions", json=session, headers=ORG)
    assert response.status_code == 201
    ingest_ok(scenario, [record(scenario, "Ada", "entry", T0)])
    return scenario


def _state(settings: ServerSettings) -> tuple[object, ...]:
    database = Database(make_engine(settings.database_url))
    try:
        with database.session() as session:
            return (
                sorted(
                    (z.event_id, z.id, z.name, z.capacity) for z in session.scalars(select(Zone))
                ),
                sorted((s.id, s.title, s.capacity) for s in session.scalars(select(EventSession))),
                sorted(c.id for c in session.scalars(select(CheckIn))),
            )
    finally:
        database.dispose()


def _second_organizer(settings: ServerSettings) -> dict[str, str]:
    database = Database(make_engine(settings.database_url))
    with database.session() as session:
        session.add(
            Organizer(
                name="second",
                token_sha256=hash_token("second-organizer-token"),
                is_bootstrap=False,
                created_at=datetime(2024, 1, 1),
            )
        )
        session.commit()
    database.dispose()
    return bearer("second-organizer-token")


def _request(
    client: TestClient, method: str, path: str, headers: dict[str, str]
) -> tuple[int, str]:
    response = client.request(method, path, json=_body(method, path), headers=headers)
    body = response.json()
    assert set(body) == {"code", "detail"}, (method, path, body)
    return response.status_code, body["code"]


def test_every_route_refuses_wrong_credentials(guarded: Scenario, settings: ServerSettings) -> None:
    client = guarded.api.client
    link = client.post(
        f"/api/v1/events/ev1/attendees/{guarded.attendees['Ada']}/link", headers=ORG
    ).json()["token"]
    other = _second_organizer(settings)
    before = _state(settings)
    for method, path in ORGANIZER_ROUTES:
        assert _request(client, method, path, {}) == (401, "missing_token"), path
        assert _request(client, method, path, bearer(link)) == (401, "invalid_token"), path
        assert _request(client, method, path, bearer(guarded.token)) == (403, "organizer_only")
        assert _request(client, method, path, other) == (403, "not_event_organizer"), path
    for method, path in GATEWAY_ROUTES:
        assert _request(client, method, path, {}) == (401, "missing_token")
        assert _request(client, method, path, bearer(link)) == (401, "invalid_token")
        assert _request(client, method, path, ORG) == (403, "gateway_only")
    assert _state(settings) == before


def test_attendee_links_have_no_check_in_routes(guarded: Scenario) -> None:
    client = guarded.api.client
    link = client.post(
        f"/api/v1/events/ev1/attendees/{guarded.attendees['Ada']}/link", headers=ORG
    ).json()["token"]
    for suffix in ("checkins", "zones", "sessions"):
        response = client.get(f"/api/v1/me/{link}/{suffix}")
        assert response.status_code in (404, 405)
        assert set(response.json()) == {"code", "detail"}


def test_gateway_cannot_post_another_events_check_ins(api: Api, settings: ServerSettings) -> None:
    a = build_scenario(api, "evA")
    b = build_scenario(api, "evB")
    add_zones(api, "evB")
    forged = record(b, "Ada", "entry", T0)  # a record of evB, naming evB's gateway gw1
    result = ingest_ok(a, [forged])
    assert (result["accepted"], [r["code"] for r in result["rejected"]]) == (0, ["wrong_event"])
    # a record of its own event naming another gateway is refused too
    api.register_gateway("evA", "gw2")
    own = record(a, "Ada", "entry", T0)
    other_gateway = post_records(
        api, a.token, [CheckInRecord(**{**record_fields(own), "gateway": "gw2"})]
    )
    assert [r["code"] for r in other_gateway.json()["rejected"]] == ["wrong_gateway"]
    assert api.client.get("/api/v1/events/evB/checkins", headers=ORG).json()["total"] == 0
    assert api.client.get("/api/v1/events/evA/checkins", headers=ORG).json()["total"] == 0
    assert _state(settings)[2] == []


def test_organizer_reads_are_scoped_to_the_event(api: Api) -> None:
    a = build_scenario(api, "evA")
    b = build_scenario(api, "evB")
    for s in (a, b):
        add_zones(api, s.event)
    ingest_ok(b, [record(b, "Ada", "entry", T0)])
    # evA's views show nothing of evB, even with evB's badge or attendee as filters
    for params in ({"badge": b.badges["Ada"]}, {"attendee": b.attendees["Ada"]}, {}):
        assert (
            api.client.get("/api/v1/events/evA/checkins", params=params, headers=ORG).json()[
                "total"
            ]
            == 0
        )
    inside = api.client.get("/api/v1/events/evA/zones/main-hall/inside", headers=ORG).json()
    assert inside["occupancy"] == 0
    counts = api.client.get("/api/v1/events/evA/checkins/counts", headers=ORG).json()
    assert counts["zones"] == []
    # the desk of evA cannot check in evB's attendee by id
    response = api.client.post(
        "/api/v1/events/evA/checkins",
        json={
            "nonce": "n",
            "attendee": b.attendees["Ada"],
            "zone": "main-hall",
            "direction": "entry",
        },
        headers=ORG,
    )
    assert (response.status_code, response.json()["code"]) == (404, "attendee_not_found")
