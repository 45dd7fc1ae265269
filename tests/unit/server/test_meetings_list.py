"""The organizer's meeting list: filters and pagination."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.server.conftest import ORG, T0, Scenario, proximity, tap

URL = "/api/v1/events/ev1/meetings"


@pytest.fixture
def filled(scenario: Scenario) -> Scenario:
    s = scenario
    b = s.badges
    s.api.ingest_ok(
        s.token,
        [
            proximity(s.event, b["Ada"], b["Bob"], T0, 3, gateway=s.gateway),  # T0 .. T0+60
            proximity(s.event, b["Bob"], b["Cy"], T0 + 100, 3, gateway=s.gateway),  # ..T0+160
            tap(s.event, b["Cy"], b["Di"], T0 + 200, gateway=s.gateway, zone="stage"),
            proximity(s.event, b["Di"], b["Ada"], T0 + 300, 3, gateway=s.gateway),  # ..T0+360
        ],
    )
    return s


def _page(s: Scenario, **params: Any) -> dict[str, Any]:
    response = s.api.client.get(URL, params=params, headers=ORG)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def _firsts(page: dict[str, Any]) -> list[int]:
    return [m["first_seen"] - T0 for m in page["items"]]


def test_all_in_event_time_order(filled: Scenario) -> None:
    page = _page(filled)
    assert page["total"] == 4 and page["limit"] == 100 and page["offset"] == 0
    assert _firsts(page) == [0, 100, 200, 300]


def test_filters(filled: Scenario) -> None:
    s = filled
    assert _firsts(_page(s, attendee=s.attendees["Ada"])) == [0, 300]
    assert _firsts(_page(s, kind="tap")) == [200]
    assert _firsts(_page(s, kind="proximity", attendee=s.attendees["Cy"])) == [100]
    # since: still going on at or after; until: started at or before (ISO or Unix seconds)
    assert _firsts(_page(s, since="2024-06-01T09:02:40Z")) == [100, 200, 300]
    assert _firsts(_page(s, since=T0 + 161)) == [200, 300]
    assert _firsts(_page(s, until="2024-06-01T09:03:20+00:00")) == [0, 100, 200]
    assert _firsts(_page(s, since=T0 + 50, until=T0 + 200)) == [0, 100, 200]
    assert _page(s, attendee=999)["total"] == 0
    assert _firsts(_page(s, zone="stage")) == [200]
    assert _firsts(_page(s, zone="hall")) == [0, 100, 300]  # the gateway's zone by default
    assert _page(s, zone="nowhere")["total"] == 0


def test_pagination(filled: Scenario) -> None:
    first = _page(filled, limit=3)
    second = _page(filled, limit=3, offset=3)
    assert (first["total"], second["total"]) == (4, 4)
    assert _firsts(first) + _firsts(second) == [0, 100, 200, 300]
    assert _page(filled, offset=10)["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
        {"kind": "hug"},
        {"since": "yesterday"},
        {"attendee": 2**64},
    ],
)
def test_bad_filters_are_422(filled: Scenario, params: dict[str, Any]) -> None:
    response = filled.api.client.get(URL, params=params, headers=ORG)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
