"""Badge lifecycle: revoke a lost badge, replace it without losing history."""

from __future__ import annotations

from protocol.api import ProvisioningBundle
from protocol.encoding import decode_json
from tests.unit.server.conftest import ORG, T0, Scenario, bearer, proximity


def _registry(s: Scenario) -> dict[str, bool]:
    registry = s.api.client.get("/api/v1/gateway/registry", headers=bearer(s.token)).json()
    return {b["badge"]: b["revoked"] for b in registry["badges"]}


def test_replace_keeps_history_and_revokes_the_old_badge(scenario: Scenario) -> None:
    s = scenario
    client = s.api.client
    old = s.badges["Ada"]
    s.api.ingest_ok(s.token, [proximity("ev1", old, s.badges["Bob"], T0, 12, gateway="gw1")])
    response = client.post(f"/api/v1/events/ev1/badges/replace/{s.attendees['Ada']}", headers=ORG)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    bundle = decode_json(response.content, ProvisioningBundle)
    assert bundle.badge != old
    assert _registry(s)[old] is True and _registry(s)[bundle.badge] is False
    # the new badge's meetings and the old one's both belong to Ada
    s.api.ingest_ok(
        s.token, [proximity("ev1", bundle.badge, s.badges["Bob"], T0 + 1000, 12, gateway="gw1")]
    )
    connections = client.get(
        f"/api/v1/events/ev1/attendees/{s.attendees['Ada']}/connections", headers=ORG
    ).json()
    assert [(c["name"], c["meetings"]) for c in connections] == [("Bob", 2)]
    # the attendee list shows the new badge as the active one
    listed = client.get("/api/v1/events/ev1/attendees", params={"q": "Ada"}, headers=ORG).json()
    assert listed[0]["badge"] == bundle.badge


def test_revoke_is_idempotent_and_scoped(scenario: Scenario) -> None:
    s = scenario
    client = s.api.client
    url = f"/api/v1/events/ev1/badges/{s.badges['Cy']}/revoke"
    first = client.post(url, headers=ORG)
    assert first.status_code == 200 and first.json()["revoked"] is True
    assert client.post(url, headers=ORG).json()["revoked"] is True
    assert _registry(s)[s.badges["Cy"]] is True
    s.api.create_event("ev2")
    other = client.post(f"/api/v1/events/ev2/badges/{s.badges['Di']}/revoke", headers=ORG)
    assert (other.status_code, other.json()["code"]) == (404, "badge_not_found")
    assert _registry(s)[s.badges["Di"]] is False
    # Cy has no active badge now: a replacement simply provisions one
    again = client.post(f"/api/v1/events/ev1/badges/replace/{s.attendees['Cy']}", headers=ORG)
    assert again.status_code == 201


def test_erased_attendees_get_no_badges(scenario: Scenario) -> None:
    s = scenario
    client = s.api.client
    ada = s.attendees["Ada"]
    assert client.delete(f"/api/v1/events/ev1/attendees/{ada}", headers=ORG).status_code == 204
    replaced = client.post(f"/api/v1/events/ev1/badges/replace/{ada}", headers=ORG)
    assert (replaced.status_code, replaced.json()["code"]) == (409, "attendee_erased")
    chosen = client.post("/api/v1/events/ev1/badges", json={"attendee_ids": [ada]}, headers=ORG)
    assert (chosen.status_code, chosen.json()["code"]) == (409, "attendee_erased")
    everyone = client.post("/api/v1/events/ev1/badges", json={"all_unbadged": True}, headers=ORG)
    assert everyone.status_code == 201 and everyone.json() == []
    missing = client.post("/api/v1/events/ev1/badges/replace/999", headers=ORG)
    assert (missing.status_code, missing.json()["code"]) == (404, "attendee_not_found")
