"""Attendee imports (JSON and CSV, row-level errors), listing and search."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.server.conftest import ORG, Api, Scenario

CSV_URL = "/api/v1/events/ev/attendees/import"
JSON_URL = "/api/v1/events/ev/attendees"


@pytest.fixture
def event(api: Api) -> str:
    api.create_event("ev")
    return "ev"


def _names(api: Api, **params: Any) -> list[str]:
    response = api.client.get(JSON_URL, params=params, headers=ORG)
    assert response.status_code == 200
    return [a["name"] for a in response.json()]


def test_json_import_keeps_good_rows_and_reports_bad_ones(api: Api, event: str) -> None:
    rows: list[Any] = [
        {"name": "Ada Lovelace", "company": "Engines", "email": "Ada@Example.org ", "title": "CTO"},
        {"name": "   "},
        {"company": "No Name Ltd"},
        {"name": "Bob", "email": "not-an-email"},
        {"name": "Ada Again", "email": "ada@example.org"},
        "just a string",
        {"name": "Cy", "phone": "+49 30 1234-567", "external_id": "X-1", "unknown": "ignored"},
        {"name": "Cy Twin", "external_id": "X-1"},
        {"name": 42},
        {"name": "Di", "phone": "call me"},
    ]
    response = api.client.post(JSON_URL, json=rows, headers=ORG)
    assert response.status_code == 200
    body = response.json()
    assert body["created"] == 2
    assert [(e["row"], e["code"]) for e in body["errors"]] == [
        (1, "invalid_name"),
        (2, "missing_name"),
        (3, "invalid_email"),
        (4, "duplicate_email"),
        (5, "invalid_row"),
        (7, "duplicate_external_id"),
        (8, "invalid_name"),
        (9, "invalid_phone"),
    ]
    assert all(set(e) == {"row", "code", "detail"} and e["detail"] for e in body["errors"])
    listed = api.client.get(JSON_URL, headers=ORG).json()
    assert [(a["name"], a["email"], a["external_id"], a["phone"]) for a in listed] == [
        ("Ada Lovelace", "ada@example.org", None, None),
        ("Cy", None, "X-1", "+49 30 1234-567"),
    ]
    assert listed[0]["company"] == "Engines" and listed[0]["title"] == "CTO"
    assert listed[0]["badge"] is None


def test_duplicate_email_against_earlier_import(api: Api, event: str) -> None:
    api.client.post(JSON_URL, json=[{"name": "A", "email": "a@x.org"}], headers=ORG)
    body = api.client.post(
        JSON_URL, json=[{"name": "A2", "email": "A@X.org"}, {"name": "B"}], headers=ORG
    ).json()
    assert body["created"] == 1
    assert [(e["row"], e["code"]) for e in body["errors"]] == [(0, "duplicate_email")]


def test_json_body_must_be_a_list(api: Api, event: str) -> None:
    response = api.client.post(JSON_URL, json={"name": "A"}, headers=ORG)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


def test_csv_import_numbers_rows_like_a_spreadsheet(api: Api, event: str) -> None:
    csv_text = (
        "\ufeffName,Company,EMAIL,shoe_size,phone\r\n"
        "Ada,Engines,ada@example.org,38,\r\n"
        ",Nobody Inc,nobody@example.org,40,\r\n"
        "\r\n"
        '"Bob, Jr.","Multi\nline Co",bob@example.org,44,\r\n'
        "Eve,Evil,ada@example.org,37,\r\n"
        "Fay\r\n"
        "Gus,Gus Co,broken@,41,\r\n"
    )
    response = api.client.post(
        CSV_URL, content=csv_text.encode(), headers={**ORG, "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["created"] == 3
    assert [(e["row"], e["code"]) for e in body["errors"]] == [
        (3, "invalid_name"),
        (7, "duplicate_email"),
        (9, "invalid_email"),
    ]
    listed = api.client.get(JSON_URL, headers=ORG).json()
    assert [(a["name"], a["company"]) for a in listed] == [
        ("Ada", "Engines"),
        ("Bob, Jr.", "Multi\nline Co"),
        ("Fay", None),
    ]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"company,email\nX,x@y.org\n", 400, "missing_column"),
        (b"", 400, "missing_column"),
        (b"name\n\xff\xfe\n", 400, "invalid_encoding"),
        (b'name\n"unterminated\n', 400, "malformed_csv"),
    ],
)
def test_bad_csv_is_rejected_as_a_whole(
    api: Api, event: str, body: bytes, status: int, code: str
) -> None:
    response = api.client.post(CSV_URL, content=body, headers={**ORG, "Content-Type": "text/csv"})
    assert response.status_code == status
    assert response.json()["code"] == code
    assert set(response.json()) == {"code", "detail"}
    assert _names(api) == []


def test_csv_with_too_many_rows_is_413(api: Api, event: str) -> None:
    body = "name\n" + "".join(f"P{i}\n" for i in range(10_001))
    response = api.client.post(CSV_URL, content=body.encode(), headers=ORG)
    assert response.status_code == 413
    assert response.json()["code"] == "too_many_rows"


def test_oversized_body_is_413(api: Api, event: str) -> None:
    body = b"name\n" + b"x" * (8 * 1024 * 1024)
    response = api.client.post(CSV_URL, content=body, headers=ORG)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_search_by_name_company_or_email(api: Api, event: str) -> None:
    rows = [
        {"name": "Ada Lovelace", "company": "Analytical", "email": "ada@engines.org"},
        {"name": "Bob_Smith", "company": "Lovelace & Co", "email": "bob@example.org"},
        {"name": "Cy 100%", "company": "Other", "email": "cy@lovelace.net"},
        {"name": "Di", "company": None, "email": None},
    ]
    assert api.client.post(JSON_URL, json=rows, headers=ORG).json()["created"] == 4
    assert _names(api, q="lovelace") == ["Ada Lovelace", "Bob_Smith", "Cy 100%"]
    assert _names(api, q="ENGINES") == ["Ada Lovelace"]
    assert _names(api, q="100%") == ["Cy 100%"]
    assert _names(api, q="_") == ["Bob_Smith"]  # LIKE wildcards are literal
    assert _names(api, q="%") == ["Cy 100%"]
    assert _names(api, q="zzz") == []
    assert _names(api, q="  ") == ["Ada Lovelace", "Bob_Smith", "Cy 100%", "Di"]
    assert _names(api, limit=2, offset=1) == ["Bob_Smith", "Cy 100%"]


def test_attendees_are_per_event(api: Api, event: str) -> None:
    api.create_event("other")
    api.client.post(JSON_URL, json=[{"name": "A", "email": "a@x.org"}], headers=ORG)
    other = api.client.post(
        "/api/v1/events/other/attendees", json=[{"name": "A", "email": "a@x.org"}], headers=ORG
    ).json()
    assert other == {"created": 1, "errors": []}
    assert _names(api) == ["A"]


def test_patch_changes_only_the_given_fields(scenario: Scenario) -> None:
    client = scenario.api.client
    ada = scenario.attendees["Ada"]
    url = f"/api/v1/events/ev1/attendees/{ada}"
    response = client.patch(url, json={"title": "CTO", "company": None}, headers=ORG)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["company"], body["title"], body["email"]) == (
        "Ada",
        None,
        "CTO",
        "ada@example.org",
    )
    assert body["badge"] == scenario.badges["Ada"]
    taken = client.patch(url, json={"email": "BOB@example.org"}, headers=ORG)
    assert (taken.status_code, taken.json()["code"]) == (409, "duplicate_attendee")
    for bad in ({"name": None}, {"email": "nope"}, {"share_level": "full"}, {"name": ""}):
        invalid = client.patch(url, json=bad, headers=ORG)
        assert (invalid.status_code, invalid.json()["code"]) == (422, "invalid_request"), bad
    assert client.delete(url, headers=ORG).status_code == 204
    erased = client.patch(url, json={"name": "Ada again"}, headers=ORG)
    assert (erased.status_code, erased.json()["code"]) == (409, "attendee_erased")
    other_event = client.patch(f"/api/v1/events/ev2/attendees/{ada}", json={}, headers=ORG)
    assert other_event.status_code == 404
