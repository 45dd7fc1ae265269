"""Authentication and authorization: organizer vs gateway tokens, ownership, hashed storage."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from server.config import ServerSettings
from server.db import Database, make_engine
from server.main import get_settings
from server.models import Organizer
from server.services.auth import hash_token
from tests.unit.server.conftest import (
    ORG,
    ORGANIZER_TOKEN,
    T0,
    Api,
    Scenario,
    bearer,
    build_scenario,
    dump_database,
    make_settings,
    proximity,
)

ORGANIZER_ENDPOINTS = [
    ("GET", "/api/v1/events"),
    ("POST", "/api/v1/events"),
    ("GET", "/api/v1/events/ev1"),
    ("GET", "/api/v1/events/ev1/stats"),
    ("GET", "/api/v1/events/ev1/attendees"),
    ("POST", "/api/v1/events/ev1/attendees"),
    ("POST", "/api/v1/events/ev1/attendees/import"),
    ("GET", "/api/v1/events/ev1/attendees/1/connections"),
    ("GET", "/api/v1/events/ev1/attendees/1/export.csv"),
    ("POST", "/api/v1/events/ev1/badges"),
    ("POST", "/api/v1/events/ev1/gateways"),
    ("GET", "/api/v1/events/ev1/meetings"),
]
GATEWAY_ENDPOINTS = [("GET", "/api/v1/gateway/registry"), ("POST", "/api/v1/gateway/meetings")]


def _assert_error(response_json: object, code: str) -> None:
    assert isinstance(response_json, dict)
    assert set(response_json) == {"code", "detail"}
    assert response_json["code"] == code


@pytest.mark.parametrize(("method", "path"), ORGANIZER_ENDPOINTS + GATEWAY_ENDPOINTS)
def test_no_token_is_401(scenario: Scenario, method: str, path: str) -> None:
    response = scenario.api.client.request(method, path, content=b"[]")
    assert response.status_code == 401
    _assert_error(response.json(), "missing_token")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), ORGANIZER_ENDPOINTS + GATEWAY_ENDPOINTS)
def test_wrong_token_is_401(scenario: Scenario, method: str, path: str) -> None:
    response = scenario.api.client.request(method, path, content=b"[]", headers=bearer("nope"))
    assert response.status_code == 401
    _assert_error(response.json(), "invalid_token")


def test_other_scheme_is_401(scenario: Scenario) -> None:
    headers = {"Authorization": f"Basic {ORGANIZER_TOKEN}"}
    response = scenario.api.client.get("/api/v1/events", headers=headers)
    assert response.status_code == 401
    _assert_error(response.json(), "missing_token")


@pytest.mark.parametrize(("method", "path"), ORGANIZER_ENDPOINTS)
def test_gateway_token_on_organizer_endpoint_is_403(
    scenario: Scenario, method: str, path: str
) -> None:
    response = scenario.api.client.request(
        method, path, content=b"[]", headers=bearer(scenario.token)
    )
    assert response.status_code == 403
    _assert_error(response.json(), "organizer_only")


@pytest.mark.parametrize(("method", "path"), GATEWAY_ENDPOINTS)
def test_organizer_token_on_gateway_endpoint_is_403(
    scenario: Scenario, method: str, path: str
) -> None:
    response = scenario.api.client.request(method, path, content=b"{}", headers=ORG)
    assert response.status_code == 403
    _assert_error(response.json(), "gateway_only")


def test_gateway_of_event_a_cannot_touch_event_b(api: Api) -> None:
    a = build_scenario(api, "evA")
    b = build_scenario(api, "evB")
    # organizer endpoints of B with A's gateway token: refused
    response = api.client.get("/api/v1/events/evB/attendees", headers=bearer(a.token))
    assert response.status_code == 403
    # A's gateway forwarding B's meetings: each refused, nothing stored in B
    meeting = proximity("evB", b.badges["Ada"], b.badges["Bob"], T0, 9, gateway="gw1")
    result = api.ingest_ok(a.token, [meeting])
    assert result["accepted"] == 0
    assert [r["code"] for r in result["rejected"]] == ["wrong_event"]
    stats = api.client.get("/api/v1/events/evB/stats", headers=ORG).json()
    assert stats["meetings"] == 0
    # the registry A's gateway gets is A's, with A's badges only
    registry = api.client.get("/api/v1/gateway/registry", headers=bearer(a.token)).json()
    assert registry["event"] == "evA"
    assert {x["badge"] for x in registry["badges"]} == set(a.badges.values())


def test_other_organizers_event_is_403(scenario: Scenario, settings: ServerSettings) -> None:
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
    other = bearer("second-organizer-token")
    client = scenario.api.client
    assert client.get("/api/v1/events", headers=other).json() == []
    response = client.get("/api/v1/events/ev1", headers=other)
    assert response.status_code == 403
    _assert_error(response.json(), "not_event_organizer")
    created = client.post("/api/v1/events", json={"id": "mine", "name": "Mine"}, headers=other)
    assert created.status_code == 201
    assert client.get("/api/v1/events/mine", headers=ORG).status_code == 403
    assert [e["id"] for e in client.get("/api/v1/events", headers=other).json()] == ["mine"]


def test_tokens_are_stored_only_as_hashes(scenario: Scenario, settings: ServerSettings) -> None:
    dump = dump_database(settings.database_url)
    assert ORGANIZER_TOKEN not in dump
    assert scenario.token not in dump
    assert hash_token(ORGANIZER_TOKEN) in dump
    assert hash_token(scenario.token) in dump


def test_settings_override_changes_the_organizer_token(
    app: FastAPI, client: TestClient, tmp_path: Path, settings: ServerSettings
) -> None:
    assert client.get("/api/v1/events", headers=ORG).status_code == 200
    app.dependency_overrides[get_settings] = lambda: make_settings(
        tmp_path, database_url=settings.database_url, organizer_token="rotated-token-value"
    )
    try:
        assert client.get("/api/v1/events", headers=ORG).status_code == 401
        assert (
            client.get("/api/v1/events", headers=bearer("rotated-token-value")).status_code == 200
        )
    finally:
        app.dependency_overrides.clear()
    database = Database(make_engine(settings.database_url))
    with database.session() as session:
        organizers = session.scalars(select(Organizer)).all()
    database.dispose()
    # still one bootstrap organizer, its stored hash follows the settings
    assert [(o.is_bootstrap, o.token_sha256) for o in organizers] == [
        (True, hash_token("rotated-token-value"))
    ]
