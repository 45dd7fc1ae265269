"""Attendee self-service links (scope, forgery, expiry) and erasure."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from starlette.testclient import TestClient

from protocol.api import Meeting
from server.config import ServerSettings
from server.main import create_app
from tests.unit.server.conftest import (
    ORG,
    T0,
    Api,
    Scenario,
    StepClock,
    bearer,
    build_scenario,
    dump_database,
    make_settings,
    proximity,
    tap,
)
from tests.unit.server.test_consent import issue_link


def _error(response: httpx2.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"code": code, "detail": response.json()["detail"]}


def test_a_link_reads_only_its_own_attendee(scenario: Scenario) -> None:
    client = scenario.api.client
    ada = issue_link(scenario.api, "ev1", scenario.attendees["Ada"])
    me = client.get(f"/api/v1/me/{ada}")
    assert me.status_code == 200
    assert (me.json()["id"], me.json()["name"]) == (scenario.attendees["Ada"], "Ada")
    # the attendee id inside the token cannot be changed: the signature covers it
    version, event, attendee, expires, signature = ada.split(".")
    bob_id = str(scenario.attendees["Bob"])
    for forged in (
        ".".join((version, event, bob_id, expires, signature)),
        ".".join((version, "ev2", attendee, expires, signature)),
        ".".join((version, event, attendee, str(int(expires) + 10**6), signature)),
        ada[:-2] + ("AA" if not ada.endswith("AA") else "BB"),
        "v1.ev1.1.99999999999",
        "nonsense",
        "x" * 201,
    ):
        _error(client.get(f"/api/v1/me/{forged}"), 401, "invalid_link")
        _error(
            client.put(
                f"/api/v1/me/{forged}/consent", json={"share_level": "full", "share_with": "met"}
            ),
            401,
            "invalid_link",
        )
        _error(client.delete(f"/api/v1/me/{forged}"), 401, "invalid_link")
    # a link is not a bearer token for the organizer or gateway API, and vice versa
    _error(client.get("/api/v1/events", headers=bearer(ada)), 401, "invalid_token")
    _error(client.get("/api/v1/gateway/registry", headers=bearer(ada)), 401, "invalid_token")
    _error(client.get(f"/api/v1/me/{scenario.token}"), 401, "invalid_link")


def test_links_expire_and_follow_the_secret(
    settings: ServerSettings, clock: StepClock, tmp_path: Path
) -> None:
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        s = build_scenario(Api(client))
        ada = issue_link(s.api, "ev1", s.attendees["Ada"])
        clock.advance(89 * 86400)
        assert client.get(f"/api/v1/me/{ada}").status_code == 200
        clock.advance(2 * 86400)
        _error(client.get(f"/api/v1/me/{ada}"), 401, "expired_link")
    rotated = make_settings(
        tmp_path,
        database_url=settings.database_url,
        link_secret="a-new-link-secret",
    )
    with TestClient(create_app(rotated, clock=clock)) as client:
        _error(client.get(f"/api/v1/me/{ada}"), 401, "invalid_link")
        response = client.post(
            f"/api/v1/events/ev1/attendees/{s.attendees['Ada']}/link", headers=ORG
        )
        assert client.get(f"/api/v1/me/{response.json()['token']}").status_code == 200


def test_only_the_organizer_of_the_event_issues_links(scenario: Scenario) -> None:
    client = scenario.api.client
    ada = scenario.attendees["Ada"]
    _error(client.post(f"/api/v1/events/ev1/attendees/{ada}/link"), 401, "missing_token")
    _error(
        client.post(f"/api/v1/events/ev1/attendees/{ada}/link", headers=bearer(scenario.token)),
        403,
        "organizer_only",
    )
    scenario.api.create_event("ev2")
    _error(
        client.post(f"/api/v1/events/ev2/attendees/{ada}/link", headers=ORG),
        404,
        "attendee_not_found",
    )


def _meetings(s: Scenario) -> list[Meeting]:
    b = s.badges
    return [
        proximity(s.event, b["Ada"], b["Bob"], T0, 12, gateway=s.gateway),
        tap(s.event, b["Ada"], b["Cy"], T0 + 100, gateway=s.gateway),
        proximity(s.event, b["Bob"], b["Cy"], T0, 12, gateway=s.gateway),
    ]


@pytest.mark.parametrize("by", ["attendee", "organizer"])
def test_export_then_erase(api: Api, settings: ServerSettings, by: str) -> None:
    s = build_scenario(api, share_level="full")
    s.api.ingest_ok(s.token, _meetings(s))
    client = s.api.client
    ada = issue_link(s.api, "ev1", s.attendees["Ada"])
    exported = client.get(f"/api/v1/me/{ada}/export.json").json()
    assert [c["name"] for c in exported["connections"]] == ["Bob", "Cy"]
    assert exported["attendee"]["email"] == "ada@example.org"  # her own data, in full
    stats_before = client.get("/api/v1/events/ev1/stats", headers=ORG).json()
    bob_before = client.get(
        f"/api/v1/events/ev1/attendees/{s.attendees['Bob']}/export.json", headers=ORG
    ).json()
    if by == "attendee":
        assert client.delete(f"/api/v1/me/{ada}").status_code == 204
    else:
        url = f"/api/v1/events/ev1/attendees/{s.attendees['Ada']}"
        assert client.delete(url, headers=ORG).status_code == 204
        assert client.delete(url, headers=ORG).status_code == 204  # idempotent
    # the link is dead, the personal data gone from every table
    _error(client.get(f"/api/v1/me/{ada}"), 401, "invalid_link")
    dump = dump_database(settings.database_url)
    assert "ada@example.org" not in dump and "Ada Corp" not in dump and "'Ada'" not in dump
    # the others keep their history, without Ada in it
    bob_after = client.get(
        f"/api/v1/events/ev1/attendees/{s.attendees['Bob']}/export.json", headers=ORG
    ).json()
    assert [c["name"] for c in bob_before["connections"]] == ["Ada", "Cy"]
    assert [c["name"] for c in bob_after["connections"]] == ["Cy"]
    assert client.get("/api/v1/events/ev1/stats", headers=ORG).json() == stats_before
    listed = {a["id"]: a for a in client.get("/api/v1/events/ev1/attendees", headers=ORG).json()}
    erased = listed[s.attendees["Ada"]]
    assert (erased["name"], erased["email"], erased["company"], erased["badge"]) == (
        "(erased)",
        None,
        None,
        None,
    )
    assert erased["erased_at"] is not None
    registry = client.get("/api/v1/gateway/registry", headers=bearer(s.token)).json()
    revoked = {b["badge"]: b["revoked"] for b in registry["badges"]}
    assert revoked[s.badges["Ada"]] is True and revoked[s.badges["Bob"]] is False
