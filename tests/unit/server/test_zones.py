"""Zones and sessions: organizer CRUD, validation, scoping to the event."""

from __future__ import annotations

from typing import Any

from tests.unit.server.conftest import ORG, Api

ZONES = "/api/v1/events/ev1/zones"
SESSIONS = "/api/v1/events/ev1/sessions"
KEYNOTE: dict[str, Any] = {
    "id": "keynote",
    "title": "Opening keynote",
    "zone": "main-hall",
    "starts_at": "2024-06-01T09:00:00Z",
    "ends_at": "2024-06-01T10:00:00Z",
}


def _event_with_zone(api: Api) -> None:
    api.create_event("ev1")
    response = api.client.post(
        ZONES, json={"id": "main-hall", "name": "Main hall", "capacity": 400}, headers=ORG
    )
    assert response.status_code == 201, response.text


def test_zone_crud(api: Api) -> None:
    _event_with_zone(api)
    created = api.client.get(f"{ZONES}/main-hall", headers=ORG).json()
    assert (created["id"], created["name"], created["capacity"]) == ("main-hall", "Main hall", 400)
    api.client.post(ZONES, json={"id": "expo", "name": "Expo"}, headers=ORG)
    assert [z["id"] for z in api.client.get(ZONES, headers=ORG).json()] == ["expo", "main-hall"]

    patched = api.client.patch(f"{ZONES}/main-hall", json={"capacity": None}, headers=ORG)
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["capacity"]) == ("Main hall", None)
    renamed = api.client.patch(f"{ZONES}/expo", json={"name": "Expo floor"}, headers=ORG).json()
    assert renamed["name"] == "Expo floor"

    assert api.client.delete(f"{ZONES}/expo", headers=ORG).status_code == 204
    missing = api.client.get(f"{ZONES}/expo", headers=ORG)
    assert missing.status_code == 404
    assert missing.json()["code"] == "zone_not_found"


def test_zone_validation(api: Api) -> None:
    _event_with_zone(api)
    again = api.client.post(ZONES, json={"id": "main-hall", "name": "Again"}, headers=ORG)
    assert again.status_code == 409
    assert again.json()["code"] == "zone_exists"
    for bad in (
        {"id": "no spaces", "name": "X"},
        {"id": "z", "name": ""},
        {"id": "z", "name": "X", "capacity": -1},
        {"id": "z", "name": "X", "extra": 1},
    ):
        response = api.client.post(ZONES, json=bad, headers=ORG)
        assert response.status_code == 422, bad
        assert response.json()["code"] == "invalid_request"
    cleared = api.client.patch(f"{ZONES}/main-hall", json={"name": None}, headers=ORG)
    assert (cleared.status_code, cleared.json()["code"]) == (422, "invalid_request")


def test_session_crud_and_zone_filter(api: Api) -> None:
    _event_with_zone(api)
    api.client.post(ZONES, json={"id": "room-b", "name": "Room B"}, headers=ORG)
    created = api.client.post(SESSIONS, json={**KEYNOTE, "capacity": 300}, headers=ORG)
    assert created.status_code == 201, created.text
    assert created.json()["starts_at"] == "2024-06-01T09:00:00Z"
    workshop = {**KEYNOTE, "id": "workshop", "title": "Workshop", "zone": "room-b"}
    workshop["starts_at"] = "2024-06-01T08:00:00+02:00"  # 06:00Z: first
    assert api.client.post(SESSIONS, json=workshop, headers=ORG).status_code == 201

    listed = api.client.get(SESSIONS, headers=ORG).json()
    assert [s["id"] for s in listed] == ["workshop", "keynote"]
    in_b = api.client.get(SESSIONS, params={"zone": "room-b"}, headers=ORG).json()
    assert [s["id"] for s in in_b] == ["workshop"]

    moved = api.client.patch(
        f"{SESSIONS}/keynote", json={"zone": "room-b", "title": "Moved"}, headers=ORG
    )
    assert moved.status_code == 200
    assert (moved.json()["zone"], moved.json()["title"], moved.json()["capacity"]) == (
        "room-b",
        "Moved",
        300,
    )
    assert api.client.delete(f"{SESSIONS}/keynote", headers=ORG).status_code == 204
    assert api.client.get(f"{SESSIONS}/keynote", headers=ORG).json()["code"] == "session_not_found"


def test_session_validation(api: Api) -> None:
    _event_with_zone(api)
    unknown = api.client.post(SESSIONS, json={**KEYNOTE, "zone": "nowhere"}, headers=ORG)
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_zone"
    backwards = {**KEYNOTE, "ends_at": KEYNOTE["starts_at"]}
    response = api.client.post(SESSIONS, json=backwards, headers=ORG)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_interval"
    before_1970 = {**KEYNOTE, "starts_at": "1969-12-31T23:00:00Z"}
    assert api.client.post(SESSIONS, json=before_1970, headers=ORG).status_code == 422

    assert api.client.post(SESSIONS, json=KEYNOTE, headers=ORG).status_code == 201
    duplicate = api.client.post(SESSIONS, json=KEYNOTE, headers=ORG)
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "session_exists"
    # an update is validated against the stored values
    early_end = {"ends_at": "2024-06-01T08:00:00Z"}
    patched = api.client.patch(f"{SESSIONS}/keynote", json=early_end, headers=ORG)
    assert patched.status_code == 422
    assert patched.json()["code"] == "invalid_interval"
    for field in ("title", "zone", "starts_at", "ends_at"):
        cleared = api.client.patch(f"{SESSIONS}/keynote", json={field: None}, headers=ORG)
        assert (cleared.status_code, cleared.json()["code"]) == (422, "invalid_request"), field
    to_nowhere = api.client.patch(f"{SESSIONS}/keynote", json={"zone": "gone"}, headers=ORG)
    assert to_nowhere.json()["code"] == "unknown_zone"
    assert api.client.get(f"{SESSIONS}/keynote", headers=ORG).json()["zone"] == "main-hall"

    # a zone a session takes place in cannot be deleted
    in_use = api.client.delete(f"{ZONES}/main-hall", headers=ORG)
    assert in_use.status_code == 409
    assert in_use.json()["code"] == "zone_in_use"


def test_zones_and_sessions_are_per_event(api: Api) -> None:
    _event_with_zone(api)
    api.create_event("ev2")
    assert api.client.get("/api/v1/events/ev2/zones", headers=ORG).json() == []
    other = api.client.get("/api/v1/events/ev2/zones/main-hall", headers=ORG)
    assert other.status_code == 404
    # a session of ev2 cannot take place in a zone of ev1
    wrong = api.client.post("/api/v1/events/ev2/sessions", json=KEYNOTE, headers=ORG)
    assert wrong.json()["code"] == "unknown_zone"
    # the same zone id in two events is two zones
    same = api.client.post(
        "/api/v1/events/ev2/zones", json={"id": "main-hall", "name": "Other hall"}, headers=ORG
    )
    assert same.status_code == 201
    assert api.client.get(f"{ZONES}/main-hall", headers=ORG).json()["name"] == "Main hall"
