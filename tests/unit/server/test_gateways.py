"""Organizer gateway management: list with last seen, token rotation, scope."""

from __future__ import annotations

from tests.unit.server.conftest import ORG, Scenario, StepClock, bearer


def test_list_shows_last_seen(scenario: Scenario, clock: StepClock) -> None:
    client = scenario.api.client
    listed = client.get("/api/v1/events/ev1/gateways", headers=ORG).json()
    assert [(g["id"], g["zone"], g["last_seen"]) for g in listed] == [("gw1", "hall", None)]
    clock.advance(60)
    assert client.get("/api/v1/gateway/registry", headers=bearer(scenario.token)).status_code == 200
    (gateway,) = client.get("/api/v1/events/ev1/gateways", headers=ORG).json()
    assert gateway["last_seen"] == "2024-06-01T08:01:00Z"
    assert "token" not in gateway and "token_sha256" not in gateway


def test_rotation_revokes_the_old_token(scenario: Scenario) -> None:
    client = scenario.api.client
    response = client.post("/api/v1/events/ev1/gateways/gw1/token", headers=ORG)
    assert response.status_code == 200
    new = response.json()["token"]
    assert new != scenario.token and response.json()["gateway"] == "gw1"
    old = client.get("/api/v1/gateway/registry", headers=bearer(scenario.token))
    assert (old.status_code, old.json()["code"]) == (401, "invalid_token")
    assert client.get("/api/v1/gateway/registry", headers=bearer(new)).status_code == 200


def test_gateway_management_is_scoped(scenario: Scenario) -> None:
    client = scenario.api.client
    missing = client.post("/api/v1/events/ev1/gateways/nope/token", headers=ORG)
    assert (missing.status_code, missing.json()["code"]) == (404, "gateway_not_found")
    scenario.api.create_event("ev2")
    other = client.post("/api/v1/events/ev2/gateways/gw1/token", headers=ORG)
    assert (other.status_code, other.json()["code"]) == (404, "gateway_not_found")
    by_gateway = client.get("/api/v1/events/ev1/gateways", headers=bearer(scenario.token))
    assert (by_gateway.status_code, by_gateway.json()["code"]) == (403, "organizer_only")
    assert client.get("/api/v1/gateway/registry", headers=bearer(scenario.token)).status_code == 200
