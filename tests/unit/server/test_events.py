"""Events: creation with settings, conflicts, listing, validation errors."""

from __future__ import annotations

import msgspec
import pytest

from protocol.api import DetectionSettings
from tests.unit.server.conftest import ORG, Api, StepClock

DEFAULTS = msgspec.structs.asdict(DetectionSettings())


def test_create_event_with_default_settings(api: Api, clock: StepClock) -> None:
    response = api.client.post(
        "/api/v1/events",
        json={"id": "conf-2024", "name": "  Conf 2024 ", "starts_at": "2024-06-01T09:00:00+02:00"},
        headers=ORG,
    )
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": "conf-2024",
        "name": "Conf 2024",
        "starts_at": "2024-06-01T07:00:00Z",
        "created_at": "2024-06-01T08:00:00Z",
        "settings": DEFAULTS,
    }
    assert api.client.get("/api/v1/events/conf-2024", headers=ORG).json() == body


def test_partial_settings_keep_other_defaults(api: Api) -> None:
    body = api.create_event("e1", link_threshold_seconds=300, window_seconds=10)
    assert body["settings"] == {**DEFAULTS, "link_threshold_seconds": 300, "window_seconds": 10}


def test_naive_start_time_is_utc(api: Api) -> None:
    response = api.client.post(
        "/api/v1/events",
        json={"id": "e2", "name": "E", "starts_at": "2024-06-01T09:00:00"},
        headers=ORG,
    )
    assert response.json()["starts_at"] == "2024-06-01T09:00:00Z"


def test_duplicate_id_is_409(api: Api) -> None:
    api.create_event("dup")
    response = api.client.post("/api/v1/events", json={"id": "dup", "name": "Again"}, headers=ORG)
    assert response.status_code == 409
    assert response.json() == {"code": "event_exists", "detail": "event dup already exists"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"id": "has space", "name": "x"}, "id"),
        ({"id": "x" * 65, "name": "x"}, "id"),
        ({"id": "ok", "name": ""}, "name"),
        ({"id": "ok", "name": "x", "settings": {"window_seconds": 0}}, "window_seconds"),
        ({"id": "ok", "name": "x", "settings": {"link_threshold_seconds": "10"}}, "int"),
        ({"id": "ok", "name": "x", "settings": {"no_such_setting": 1}}, "no_such_setting"),
        ({"id": "ok", "name": "x", "settings": [1]}, "settings"),
        ({"id": "ok", "name": "x", "extra": 1}, "extra"),
        ({"name": "x"}, "id"),
    ],
)
def test_invalid_event_is_422(api: Api, body: dict[str, object], fragment: str) -> None:
    response = api.client.post("/api/v1/events", json=body, headers=ORG)
    assert response.status_code == 422
    payload = response.json()
    assert set(payload) == {"code", "detail"}
    assert payload["code"] == "invalid_request"
    assert fragment in payload["detail"]
    assert api.client.get("/api/v1/events", headers=ORG).json() == []


def test_list_events_in_creation_order(api: Api, clock: StepClock) -> None:
    for name in ("b", "a", "c"):
        api.create_event(name)
        clock.advance(1)
    assert [e["id"] for e in api.client.get("/api/v1/events", headers=ORG).json()] == [
        "b",
        "a",
        "c",
    ]


def test_unknown_event_is_404(api: Api) -> None:
    for path in (
        "/api/v1/events/nope",
        "/api/v1/events/nope/attendees",
        "/api/v1/events/nope/stats",
    ):
        response = api.client.get(path, headers=ORG)
        assert response.status_code == 404
        assert response.json()["code"] == "event_not_found"


def test_stats_of_empty_event(api: Api) -> None:
    api.create_event("empty")
    stats = api.client.get("/api/v1/events/empty/stats", headers=ORG).json()
    assert stats == {
        "attendees": 0,
        "badges": 0,
        "gateways": 0,
        "meetings": 0,
        "proximity_meetings": 0,
        "taps": 0,
        "connections": 0,
        "total_contact_seconds": 0,
        "checkins": 0,
        "failed_checkins": 0,
        "attendance_per_hour": [],
    }
