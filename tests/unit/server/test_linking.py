"""Linking: the threshold rule, taps, replaced badges, and the connections endpoint."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

import pytest
from sqlalchemy import update

from server.config import ServerSettings
from server.db import Database, make_engine
from server.models import Badge
from tests.unit.server.conftest import ORG, T0, Api, Scenario, build_scenario, proximity, tap

THRESHOLD = 180  # 9 windows of 20 s


def _connections(s: Scenario, name: str) -> list[dict[str, Any]]:
    response = s.api.client.get(
        f"/api/v1/events/{s.event}/attendees/{s.attendees[name]}/connections", headers=ORG
    )
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json()
    return result


def _connections_count(s: Scenario) -> int:
    stats = s.api.client.get(f"/api/v1/events/{s.event}/stats", headers=ORG).json()
    count: int = stats["connections"]
    return count


@pytest.fixture
def linked(api: Api) -> Scenario:
    return build_scenario(api, link_threshold_seconds=THRESHOLD)


@pytest.mark.parametrize(("windows", "is_linked"), [(8, False), (9, True), (10, True)])
def test_one_meeting_against_threshold(linked: Scenario, windows: int, is_linked: bool) -> None:
    s = linked
    s.api.ingest_ok(
        s.token,
        [proximity(s.event, s.badges["Ada"], s.badges["Bob"], T0, windows, gateway=s.gateway)],
    )
    assert _connections_count(s) == int(is_linked)
    assert [c["name"] for c in _connections(s, "Ada")] == (["Bob"] if is_linked else [])
    assert [c["name"] for c in _connections(s, "Bob")] == (["Ada"] if is_linked else [])


def test_meetings_add_up_to_the_threshold(linked: Scenario) -> None:
    s = linked
    a, b = s.badges["Ada"], s.badges["Bob"]
    s.api.ingest_ok(s.token, [proximity(s.event, a, b, T0, 4, gateway=s.gateway)])
    assert _connections_count(s) == 0
    # 80 s + 80 s = 160 s < 180 s, in either badge order
    s.api.ingest_ok(s.token, [proximity(s.event, b, a, T0 + 1000, 4, gateway=s.gateway)])
    assert _connections_count(s) == 0
    # + 20 s reaches exactly 180 s
    s.api.ingest_ok(s.token, [proximity(s.event, a, b, T0 + 2000, 1, gateway=s.gateway)])
    assert _connections_count(s) == 1
    (bob,) = _connections(s, "Ada")
    assert (bob["meetings"], bob["total_contact_seconds"], bob["tapped"]) == (3, 180, False)


def test_a_tap_links_immediately(linked: Scenario) -> None:
    s = linked
    s.api.ingest_ok(s.token, [tap(s.event, s.badges["Cy"], s.badges["Di"], T0, gateway=s.gateway)])
    assert _connections_count(s) == 1
    (di,) = _connections(s, "Cy")
    assert di["name"] == "Di" and di["tapped"] is True and di["total_contact_seconds"] == 0
    assert di["first_met"] == di["last_met"] == "2024-06-01T09:00:00Z"


def test_connections_sorted_by_total_time_with_zones(linked: Scenario) -> None:
    s = linked
    b = s.badges
    s.api.ingest_ok(
        s.token,
        [
            proximity(s.event, b["Ada"], b["Bob"], T0, 10, gateway=s.gateway, zone="stage"),
            proximity(s.event, b["Ada"], b["Cy"], T0, 30, gateway=s.gateway, zone="lobby"),
            proximity(s.event, b["Cy"], b["Ada"], T0 + 3600, 2, gateway=s.gateway, zone="bar"),
            proximity(s.event, b["Ada"], b["Di"], T0, 2, gateway=s.gateway),
            tap(s.event, b["Bob"], b["Ada"], T0 + 7200, gateway=s.gateway, zone="stage"),
            proximity(s.event, b["Bob"], b["Cy"], T0, 50, gateway=s.gateway),  # not Ada's
        ],
    )
    connections = _connections(s, "Ada")
    assert connections == [
        {
            "attendee": s.attendees["Cy"],
            "name": "Cy",
            "company": "Cy Corp",
            "first_met": "2024-06-01T09:00:00Z",
            "last_met": "2024-06-01T10:00:40Z",
            "total_contact_seconds": 640,
            "meetings": 2,
            "tapped": False,
            "where": ["bar", "lobby"],
        },
        {
            "attendee": s.attendees["Bob"],
            "name": "Bob",
            "company": "Bob Corp",
            "first_met": "2024-06-01T09:00:00Z",
            "last_met": "2024-06-01T11:00:00Z",
            "total_contact_seconds": 200,
            "meetings": 2,
            "tapped": True,
            "where": ["stage"],
        },
    ]
    assert _connections_count(s) == 3  # Ada-Cy, Ada-Bob, Bob-Cy; not Ada-Di (40 s)


def test_replaced_badge_keeps_history(linked: Scenario, settings: ServerSettings) -> None:
    s = linked
    old = s.badges["Ada"]
    s.api.ingest_ok(s.token, [proximity(s.event, old, s.badges["Bob"], T0, 5, gateway=s.gateway)])
    database = Database(make_engine(settings.database_url))
    with database.session() as session:
        session.execute(update(Badge).where(Badge.id == old).values(revoked=True))
        session.commit()
    database.dispose()
    (bundle,) = s.api.provision(s.event, [s.attendees["Ada"]])
    new = bundle["badge"]
    assert new != old
    s.api.ingest_ok(
        s.token, [proximity(s.event, s.badges["Bob"], new, T0 + 900, 5, gateway=s.gateway)]
    )
    (bob,) = _connections(s, "Ada")
    assert (bob["name"], bob["meetings"], bob["total_contact_seconds"]) == ("Bob", 2, 200)
    registry = s.api.client.get(
        "/api/v1/gateway/registry", headers={"Authorization": f"Bearer {s.token}"}
    ).json()
    assert {x["badge"]: x["revoked"] for x in registry["badges"]}[old] is True
    attendees = s.api.client.get(f"/api/v1/events/{s.event}/attendees", headers=ORG).json()
    assert attendees[0]["badge"] == new


def test_zero_threshold_links_any_proximity_meeting(api: Api) -> None:
    s = build_scenario(api, "ev0", link_threshold_seconds=0)
    s.api.ingest_ok(
        s.token, [proximity(s.event, s.badges["Ada"], s.badges["Bob"], T0, 1, gateway=s.gateway)]
    )
    assert _connections_count(s) == 1


def test_linking_is_per_event(api: Api) -> None:
    one = build_scenario(api, "one", link_threshold_seconds=60)
    two = build_scenario(api, "two", link_threshold_seconds=60)
    one.api.ingest_ok(
        one.token, [proximity("one", one.badges["Ada"], one.badges["Bob"], T0, 5, gateway="gw1")]
    )
    assert _connections_count(one) == 1
    assert _connections_count(two) == 0
    assert _connections(two, "Ada") == []


@pytest.mark.parametrize(
    ("attendee", "status", "code"),
    [
        ("999", 404, "attendee_not_found"),
        ("0", 422, "invalid_request"),
        (str(2**64), 422, "invalid_request"),
        ("x", 422, "invalid_request"),
    ],
)
def test_bad_attendee_in_connections(
    linked: Scenario, attendee: str, status: int, code: str
) -> None:
    response = linked.api.client.get(
        f"/api/v1/events/ev1/attendees/{attendee}/connections", headers=ORG
    )
    assert response.status_code == status
    assert response.json()["code"] == code
    assert set(response.json()) == {"code", "detail"}


def test_attendee_of_another_event_is_not_found(api: Api) -> None:
    build_scenario(api, "one")
    other = build_scenario(api, "two", names=("Zed",))
    response = api.client.get(
        f"/api/v1/events/one/attendees/{other.attendees['Zed']}/connections", headers=ORG
    )
    assert response.status_code == 404


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_per_attendee_connections_agree_with_the_network(api: Api, seed: int) -> None:
    """connections_of folds in Python; the network export applies the rule in SQL."""
    names = ("Ada", "Bob", "Cy", "Di", "Eve", "Fay")
    s = build_scenario(api, names=names, link_threshold_seconds=100)
    rng = random.Random(seed)
    meetings = []
    for k in range(40):
        a, b = rng.sample(names, 2)
        start = T0 + 200 * k
        zone = rng.choice(("", "stage", "lobby"))
        if rng.random() < 0.1:
            meetings.append(tap(s.event, s.badges[a], s.badges[b], start, gateway="gw1", zone=zone))
        else:
            windows = rng.randint(1, 4)
            meetings.append(
                proximity(
                    s.event, s.badges[a], s.badges[b], start, windows, gateway="gw1", zone=zone
                )
            )
    s.api.ingest_ok(s.token, meetings)
    network = s.api.client.get(f"/api/v1/events/{s.event}/network.csv", headers=ORG).text
    pairs = {
        frozenset((r["name_a"], r["name_b"])): int(r["total_contact_seconds"])
        for r in csv.DictReader(io.StringIO(network))
    }
    from_attendees = {
        frozenset((name, c["name"])): c["total_contact_seconds"]
        for name in names
        for c in _connections(s, name)
    }
    assert from_attendees == pairs
    assert len(pairs) == _connections_count(s)
