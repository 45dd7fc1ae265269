"""The contact network's statistics: degrees, most connected, activity per hour."""

from __future__ import annotations

from tests.unit.server.conftest import ORG, T0, Api, bearer, build_scenario, proximity, tap


def test_network_stats(api: Api) -> None:
    s = build_scenario(api, names=("Ada", "Bob", "Cy", "Di", "Eve"), link_threshold_seconds=120)
    b, e = s.badges, s.event
    s.api.ingest_ok(
        s.token,
        [
            proximity(e, b["Ada"], b["Bob"], T0, 10, gateway="gw1"),  # 200 s, linked
            tap(e, b["Ada"], b["Cy"], T0 + 50, gateway="gw1"),  # linked
            proximity(e, b["Ada"], b["Di"], T0 + 3600, 7, gateway="gw1"),  # 140 s, linked
            proximity(e, b["Bob"], b["Cy"], T0 + 3700, 8, gateway="gw1"),  # 160 s, linked
            proximity(e, b["Di"], b["Cy"], T0 + 7300, 2, gateway="gw1"),  # 40 s: not linked
        ],
    )
    response = s.api.client.get("/api/v1/events/ev1/stats/network", params={"top": 2}, headers=ORG)
    assert response.status_code == 200, response.text
    stats = response.json()
    assert (stats["attendees"], stats["connected_pairs"]) == (5, 4)
    assert stats["mean_contacts"] == 8 / 5
    # Ada 3, Bob 2, Cy 2, Di 1, Eve 0
    assert stats["degree_distribution"] == [
        {"contacts": 0, "attendees": 1},
        {"contacts": 1, "attendees": 1},
        {"contacts": 2, "attendees": 2},
        {"contacts": 3, "attendees": 1},
    ]
    assert stats["most_connected"] == [
        {
            "attendee": s.attendees["Ada"],
            "name": "Ada",
            "contacts": 3,
            "total_contact_seconds": 340,
        },
        {
            "attendee": s.attendees["Bob"],
            "name": "Bob",
            "contacts": 2,
            "total_contact_seconds": 360,
        },
    ]
    assert stats["active_attendees_per_hour"] == [
        {"hour": "2024-06-01T09:00:00Z", "attendees": 3},
        {"hour": "2024-06-01T10:00:00Z", "attendees": 4},
        {"hour": "2024-06-01T11:00:00Z", "attendees": 2},
    ]


def test_network_stats_of_an_empty_event_and_scope(api: Api) -> None:
    s = build_scenario(api)
    stats = s.api.client.get("/api/v1/events/ev1/stats/network", headers=ORG).json()
    assert stats["connected_pairs"] == 0 and stats["mean_contacts"] == 0
    assert stats["degree_distribution"] == [{"contacts": 0, "attendees": 4}]
    assert stats["most_connected"] == [] and stats["active_attendees_per_hour"] == []
    denied = s.api.client.get("/api/v1/events/ev1/stats/network", headers=bearer(s.token))
    assert denied.status_code == 403
