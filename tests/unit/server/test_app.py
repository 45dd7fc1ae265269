"""The app as a whole: error shapes, health, OpenAPI, use without a lifespan, logging setup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from starlette.testclient import TestClient

from protocol.api import MeetingBatch
from protocol.encoding import encode_json
from server.deps import SessionDep
from server.main import create_app
from tests.postgres import PostgresServer
from tests.unit.server.conftest import ORG, make_settings


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/api/v1/healthz").json() == {"status": "ok"}


def test_unknown_route_is_404_with_error_body(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not Found"}


def test_wrong_method_is_405_with_error_body(client: TestClient) -> None:
    response = client.delete("/api/v1/events", headers=ORG)
    assert response.status_code == 405
    assert response.json() == {"code": "method_not_allowed", "detail": "Method Not Allowed"}
    assert response.headers["allow"]  # the handler keeps the Allow header


def test_invalid_json_is_422_with_error_body(client: TestClient) -> None:
    response = client.post(
        "/api/v1/events", content=b"{oops", headers={**ORG, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"code", "detail"} and body["code"] == "invalid_request"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_openapi_documents_protocol_shapes_and_every_ref_resolves(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    for name in ("MeetingBatch", "Meeting", "IngestResult", "Registry", "ProvisioningBundle"):
        assert name in components
    for ref in _refs(schema):
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in components, ref
    ingest = schema["paths"]["/api/v1/gateway/meetings"]["post"]
    assert ingest["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/MeetingBatch"
    }
    csv_import = schema["paths"]["/api/v1/events/{event}/attendees/import"]["post"]
    assert "text/csv" in csv_import["requestBody"]["content"]
    settings = components["EventCreate"]["properties"]["settings"]
    assert "link_threshold_seconds" in settings["properties"]
    assert components["ErrorBody"]["required"] == ["code", "detail"]
    assert client.get("/docs").status_code == 200


async def test_works_through_asgi_transport_without_lifespan(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://server") as http:
        created = await http.post("/api/v1/events", json={"id": "e", "name": "E"}, headers=ORG)
        assert created.status_code == 201
        registered = await http.post(
            "/api/v1/events/e/gateways", json={"id": "g", "name": "G", "zone": "z"}, headers=ORG
        )
        token = registered.json()["token"]
        result = await http.post(
            "/api/v1/gateway/meetings",
            content=encode_json(MeetingBatch(meetings=[])),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert result.json() == {"accepted": 0, "duplicates": 0, "rejected": []}


def test_data_survives_a_new_app_on_the_same_database(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as first:
        created = first.post("/api/v1/events", json={"id": "e", "name": "E"}, headers=ORG)
        assert created.status_code == 201
    with TestClient(create_app(settings)) as second:
        assert [e["id"] for e in second.get("/api/v1/events", headers=ORG).json()] == ["e"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_mode_with_foreign_keys(app: FastAPI, client: TestClient) -> None:
    from sqlalchemy import text

    database = app.state.database
    with database.session() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_value_the_database_refuses_is_422(postgres: PostgresServer, tmp_path: Path) -> None:
    # a real DataError: PostgreSQL cannot hold NUL in text (the schemas refuse NUL up front;
    # this is the net for a value that slips past them)
    app = create_app(make_settings(tmp_path, database_url=postgres.shared_url))

    def refuse(session: SessionDep) -> None:
        session.execute(text("SELECT CAST(:v AS text)"), {"v": "a\x00b"})

    app.add_api_route("/refuse", refuse)
    try:
        with TestClient(app) as client:
            response = client.get("/refuse")
    finally:
        postgres.reset(postgres.shared_url)
    assert response.status_code == 422
    assert response.json() == {
        "code": "invalid_value",
        "detail": "a value of the request cannot be stored",
    }
