"""The "people I met" CSV export."""

from __future__ import annotations

import csv
import io

from server.services.exports import EXPORT_COLUMNS, render_csv
from tests.unit.server.conftest import ORG, T0, Api, Scenario, build_scenario, proximity, tap


def _export(s: Scenario, name: str) -> tuple[str, str]:
    response = s.api.client.get(
        f"/api/v1/events/{s.event}/attendees/{s.attendees[name]}/export.csv", headers=ORG
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return response.text, response.headers["content-disposition"]


def test_export_of_a_small_scenario(api: Api) -> None:
    s = build_scenario(
        api,
        names=("Ada", "Bob", "Cy", "Di", "Eve"),
        share_level="full",
        link_threshold_seconds=120,
    )
    b = s.badges
    s.api.ingest_ok(
        s.token,
        [
            # Bob: 2 proximity meetings in two zones, 300 s in total, plus a tap
            proximity(s.event, b["Ada"], b["Bob"], T0, 10, gateway=s.gateway, zone="stage"),
            proximity(s.event, b["Bob"], b["Ada"], T0 + 600, 5, gateway=s.gateway),
            tap(s.event, b["Ada"], b["Bob"], T0 + 650, gateway=s.gateway, zone="stage"),
            # Cy: a tap only
            tap(s.event, b["Cy"], b["Ada"], T0 + 30, gateway=s.gateway),
            # Di: 135 s of proximity (over the 120 s threshold)
            proximity(s.event, b["Di"], b["Ada"], T0 + 60, 7, gateway=s.gateway, zone="lobby"),
            # Eve: only 60 s, not a connection
            proximity(s.event, b["Eve"], b["Ada"], T0, 3, gateway=s.gateway),
        ],
    )
    text, disposition = _export(s, "Ada")
    assert disposition == f'attachment; filename="ev1-{s.attendees["Ada"]}-connections.csv"'
    assert text == (
        "name,company,title,email,phone,first_met,last_met,total_minutes,meetings,where,how\r\n"
        "Bob,Bob Corp,,bob@example.org,,2024-06-01T09:00:00Z,2024-06-01T09:11:40Z,5.0,3,"
        "hall; stage,tap+proximity\r\n"
        "Di,Di Corp,,di@example.org,,2024-06-01T09:01:00Z,2024-06-01T09:03:20Z,2.3,1,lobby,"
        "proximity\r\n"
        "Cy,Cy Corp,,cy@example.org,,2024-06-01T09:00:30Z,2024-06-01T09:00:30Z,0.0,1,hall,tap\r\n"
    )
    # Eve sees nobody: her only meeting is below the threshold
    eve_text, _ = _export(s, "Eve")
    assert eve_text == ",".join(EXPORT_COLUMNS) + "\r\n"


def test_cells_that_look_like_formulas_are_neutralised(api: Api) -> None:
    s = build_scenario(
        api, names=("Ada", "=HYPERLINK(1)"), share_level="full", link_threshold_seconds=0
    )
    s.api.ingest_ok(
        s.token,
        [tap(s.event, s.badges["Ada"], s.badges["=HYPERLINK(1)"], T0, gateway=s.gateway)],
    )
    text, _ = _export(s, "Ada")
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["name"] == "'=HYPERLINK(1)"
    assert row["email"] == "'=hyperlink(1)@example.org"
    assert row["company"] == "'=HYPERLINK(1) Corp"
    assert row["how"] == "tap"  # cells not starting like a formula are unchanged


def test_render_csv_quotes_separators() -> None:
    row = dict.fromkeys(EXPORT_COLUMNS, "")
    row.update(name='Bob "B", Jr.', where="a; b", how="tap")
    lines = list(render_csv([list(row.values())]))
    assert lines[0] == ",".join(EXPORT_COLUMNS) + "\r\n"
    assert next(csv.DictReader(io.StringIO("".join(lines))))["name"] == 'Bob "B", Jr.'


def test_export_of_unknown_attendee_is_404(api: Api) -> None:
    s = build_scenario(api)
    response = s.api.client.get("/api/v1/events/ev1/attendees/4242/export.csv", headers=ORG)
    assert response.status_code == 404
    assert response.json()["code"] == "attendee_not_found"
