"""Consent: every combination of level, audience and tap, in every attendee export format."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import vobject

from server.models import Attendee
from server.services.consent import SHARE_LEVELS, SHARE_WITH, visible_contact
from tests.unit.server.conftest import ORG, T0, Api, proximity, tap

COMBINATIONS = list(itertools.product(SHARE_LEVELS, SHARE_WITH, (True, False)))


def _expected(level: str, audience: str, is_tapped: bool, person: dict[str, str]) -> dict[str, str]:
    """The oracle, written out independently of server.services.consent."""
    if level == "none" or (audience == "tapped" and not is_tapped):
        return {}
    if level == "name_company":
        return {"name": person["name"], "company": person["company"]}
    return dict(person)


def _person(index: int) -> dict[str, str]:
    return {
        "name": f"P{index}",
        "company": f"Company {index}",
        "title": f"Title {index}",
        "email": f"p{index}@example.org",
        "phone": f"+33 1 00 00 00 {index:02d}",
    }


@pytest.mark.parametrize(("level", "audience", "is_tapped"), COMBINATIONS)
def test_visible_contact_rule(level: str, audience: str, is_tapped: bool) -> None:
    person = _person(1)
    other = Attendee(**person, share_level=level, share_with=audience, erased_at=None)
    contact = visible_contact(other, is_tapped=is_tapped)
    shown = {} if contact is None else {k: v for k, v in contact._asdict().items() if v is not None}
    assert shown == _expected(level, audience, is_tapped, person)
    other.erased_at = datetime(2024, 1, 1, tzinfo=UTC)
    assert visible_contact(other, is_tapped=is_tapped) is None


def issue_link(api: Api, event: str, attendee: int) -> str:
    response = api.client.post(f"/api/v1/events/{event}/attendees/{attendee}/link", headers=ORG)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def _vcards(text: str) -> dict[str, dict[str, str]]:
    cards = {}
    for card in vobject.readComponents(text):
        assert card.version.value == "4.0"
        fields = {"name": card.fn.value}
        if hasattr(card, "org"):
            fields["company"] = card.org.value[0]
        for key in ("title", "email", "tel"):
            if hasattr(card, key):
                fields["phone" if key == "tel" else key] = getattr(card, key).value
        cards[fields["name"]] = fields
    return cards


def test_every_combination_in_every_export(api: Api) -> None:
    """Ada meets 12 people, one per (level, audience, tap) combination; each export honours it."""
    api.create_event("ev1", link_threshold_seconds=60)
    people = [_person(i) for i in range(len(COMBINATIONS))]
    ids = api.add_attendees("ev1", [{"name": "Ada", "email": "ada@example.org"}, *people])
    bundles = api.provision("ev1", ids)
    badges = [b["badge"] for b in bundles]
    token = api.register_gateway("ev1", "gw1")
    meetings = []
    for index, (level, audience, is_tapped) in enumerate(COMBINATIONS):
        link = issue_link(api, "ev1", ids[index + 1])
        body = {"share_level": level, "share_with": audience}
        put = api.client.put(f"/api/v1/me/{link}/consent", json=body)
        assert put.status_code == 200, put.text
        assert (put.json()["share_level"], put.json()["share_with"]) == (level, audience)
        start = T0 + 1000 * index
        if is_tapped:
            meetings.append(tap("ev1", badges[0], badges[index + 1], start, gateway="gw1"))
        else:
            meetings.append(proximity("ev1", badges[0], badges[index + 1], start, 6, gateway="gw1"))
    api.ingest_ok(token, meetings)
    expected = {}
    for index, (level, audience, is_tapped) in enumerate(COMBINATIONS):
        shown = _expected(level, audience, is_tapped, people[index])
        if shown:
            expected[people[index]["name"]] = shown
    assert len(expected) == 6  # sanity: the oracle hides half of the combinations

    ada = issue_link(api, "ev1", ids[0])
    base = "/api/v1/me/" + ada
    organizer_base = f"/api/v1/events/ev1/attendees/{ids[0]}"
    for prefix, headers in ((base, {}), (organizer_base, ORG)):
        csv_text = api.client.get(f"{prefix}/export.csv", headers=headers).text
        rows = {r["name"]: r for r in csv.DictReader(io.StringIO(csv_text))}
        for row in rows.values():
            # a cell starting with "+" would be a formula in a spreadsheet: it is quoted
            assert not row["phone"] or row["phone"].startswith("'+")
            row["phone"] = row["phone"].removeprefix("'")
        assert {
            n: {k: v for k, v in r.items() if k in people[0] and v} for n, r in rows.items()
        } == (expected)
        cards = _vcards(api.client.get(f"{prefix}/export.vcf", headers=headers).text)
        assert cards == expected
        document: dict[str, Any] = json.loads(
            api.client.get(f"{prefix}/export.json", headers=headers).text
        )
        entries = {e["name"]: e for e in document["connections"]}
        assert {n: {k: v for k, v in e.items() if k in people[0]} for n, e in entries.items()} == (
            expected
        )


def test_consent_is_validated(api: Api) -> None:
    api.create_event("ev1")
    (ada,) = api.add_attendees("ev1", [{"name": "Ada"}])
    link = issue_link(api, "ev1", ada)
    for body in (
        {"share_level": "everything", "share_with": "met"},
        {"share_level": "full", "share_with": "world"},
        {"share_level": "full"},
        {"share_level": "full", "share_with": "met", "extra": 1},
    ):
        response = api.client.put(f"/api/v1/me/{link}/consent", json=body)
        assert response.status_code == 422, body
        assert set(response.json()) == {"code", "detail"}
    assert api.client.get(f"/api/v1/me/{link}").json()["share_level"] == "name_company"


def test_consent_from_the_csv_import(api: Api) -> None:
    api.create_event("ev1")
    body = "name,share_level,share_with\nAda,full,tapped\nBob,,\nCy,loud,met\n"
    response = api.client.post(
        "/api/v1/events/ev1/attendees/import",
        content=body.encode(),
        headers={**ORG, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200
    assert [(e["row"], e["code"]) for e in response.json()["errors"]] == [
        (4, "invalid_share_level")
    ]
    listed = api.client.get("/api/v1/events/ev1/attendees", headers=ORG).json()
    assert [(a["name"], a["share_level"], a["share_with"]) for a in listed] == [
        ("Ada", "full", "tapped"),
        ("Bob", "name_company", "met"),
    ]
