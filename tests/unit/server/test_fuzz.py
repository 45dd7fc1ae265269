"""Hypothesis: garbage bodies never cause a 5xx, and every error body is exactly code + detail."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from protocol.api import IngestResult
from protocol.encoding import decode_json
from server.main import create_app
from tests.unit.server.conftest import ORG, Api, Scenario, bearer, build_scenario, make_settings

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def fuzz_scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    app = create_app(make_settings(tmp_path_factory.mktemp("fuzz")))
    with TestClient(app) as client:
        yield build_scenario(Api(client))


def _check(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"code", "detail"}, body
        assert isinstance(body["code"], str) and isinstance(body["detail"], str)


def _post(
    s: Scenario,
    path: str,
    content: bytes,
    token: str | None = None,
    media: str = "application/json",
) -> Any:
    headers = {**(bearer(token) if token else ORG), "Content-Type": media}
    response = s.api.client.post(path, content=content, headers=headers)
    _check(response)
    return response


def _ingest(s: Scenario, content: bytes) -> None:
    response = _post(s, "/api/v1/gateway/meetings", content, s.token)
    if response.status_code == 200:
        decode_json(response.content, IngestResult)
    else:
        assert response.status_code == 422 and response.json()["code"] == "malformed"


@FUZZ
@given(body=st.binary(max_size=300))
def test_random_bytes_to_ingest(fuzz_scenario: Scenario, body: bytes) -> None:
    _ingest(fuzz_scenario, body)


@FUZZ
@given(value=json_values)
def test_random_json_to_ingest(fuzz_scenario: Scenario, value: object) -> None:
    _ingest(fuzz_scenario, msgspec.json.encode(value))


@st.composite
def meeting_like(draw: st.DrawFn, s: Scenario) -> dict[str, Any]:
    """A valid meeting of the scenario, with a few fields replaced by odd or hostile values."""
    a, b = draw(
        st.lists(st.sampled_from(sorted(s.badges.values())), min_size=2, max_size=2, unique=True)
    )
    first = draw(st.integers(min_value=0, max_value=2**40 - 10_000))
    span = draw(st.integers(min_value=0, max_value=10_000))
    meeting: dict[str, Any] = {
        "id": draw(st.binary(min_size=16, max_size=16)).hex(),
        "event": s.event,
        "kind": draw(st.sampled_from(["proximity", "tap"])),
        "badge_a": a,
        "badge_b": b,
        "first_seen": first,
        "last_seen": first + span,
        "contact_seconds": draw(st.integers(min_value=0, max_value=span)),
        "windows": draw(st.integers(min_value=0, max_value=500)),
        "gateway": s.gateway,
        "zone": draw(st.text(max_size=20)),
        "rssi_median_dbm": draw(st.none() | st.integers(min_value=-127, max_value=20)),
    }
    odd = st.one_of(
        st.sampled_from([2**31, 2**63 - 1, 2**63, 2**64, 2**65, -1, 2**40, 2**40 + 1, 999]),
        st.integers(min_value=-(2**65), max_value=2**65),
        st.text(max_size=300),
        st.sampled_from([*s.badges.values(), "b0000000000", "other", s.gateway, "0" * 32]),
        json_values,
    )
    for field in draw(st.lists(st.sampled_from(sorted(meeting)), max_size=2, unique=True)):
        meeting[field] = draw(odd)
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        del meeting[draw(st.sampled_from(sorted(meeting)))]
    return meeting


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_meeting_like_batches(fuzz_scenario: Scenario, data: st.DataObject) -> None:
    meetings = data.draw(st.lists(meeting_like(fuzz_scenario), min_size=1, max_size=3))
    _ingest(fuzz_scenario, msgspec.json.encode({"meetings": meetings}))


@FUZZ
@given(body=st.binary(max_size=300) | json_values.map(msgspec.json.encode))
def test_garbage_to_json_attendee_import(fuzz_scenario: Scenario, body: bytes) -> None:
    response = _post(fuzz_scenario, "/api/v1/events/ev1/attendees", body)
    if response.status_code == 200:
        assert set(response.json()) == {"created", "errors"}


row_values = st.none() | st.text(max_size=30) | st.integers() | st.booleans()
attendee_rows = st.lists(
    st.dictionaries(
        st.sampled_from(["name", "company", "email", "phone", "title", "external_id", "x"]),
        row_values,
    )
    | json_values,
    max_size=5,
)


@FUZZ
@given(rows=attendee_rows)
def test_row_like_json_import(fuzz_scenario: Scenario, rows: list[Any]) -> None:
    response = _post(fuzz_scenario, "/api/v1/events/ev1/attendees", msgspec.json.encode(rows))
    assert response.status_code == 200
    body = response.json()
    assert body["created"] + len(body["errors"]) == len(rows)


@FUZZ
@given(
    body=st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | st.lists(st.lists(st.text(max_size=10), max_size=6), max_size=5).map(
        lambda rows: "\n".join(",".join(r) for r in [["name", "email"], *rows]).encode()
    )
)
def test_garbage_to_csv_import(fuzz_scenario: Scenario, body: bytes) -> None:
    _post(fuzz_scenario, "/api/v1/events/ev1/attendees/import", body, media="text/csv")


@FUZZ
@given(value=json_values)
def test_garbage_to_other_json_endpoints(fuzz_scenario: Scenario, value: object) -> None:
    body = msgspec.json.encode(value)
    for path in ("/api/v1/events", "/api/v1/events/ev1/badges", "/api/v1/events/ev1/gateways"):
        response = _post(fuzz_scenario, path, body)
        assert response.status_code in (201, 400, 404, 409, 422), response.text


HOSTILE: list[Any] = [
    None,
    True,
    -1,
    0,
    2**31,
    2**40 + 1,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63) - 1,
    1.5,
    "",
    "x" * 10_000,
    "\x00",
    "ü" * 65,
    [],
    {},
    "0" * 32,
]


@pytest.mark.parametrize(
    "field",
    [
        "id",
        "event",
        "kind",
        "badge_a",
        "badge_b",
        "first_seen",
        "last_seen",
        "contact_seconds",
        "windows",
        "gateway",
        "zone",
        "rssi_median_dbm",
    ],
)
def test_each_field_with_hostile_values(fuzz_scenario: Scenario, field: str) -> None:
    s = fuzz_scenario
    for n, value in enumerate(HOSTILE):
        meeting: dict[str, Any] = {
            "id": hashlib.md5(f"{field}/{n}".encode()).hexdigest(),
            "event": s.event,
            "kind": "proximity",
            "badge_a": s.badges["Ada"],
            "badge_b": s.badges["Bob"],
            "first_seen": 1000,
            "last_seen": 1100,
            "contact_seconds": 100,
            "windows": 5,
            "gateway": s.gateway,
            "zone": "hall",
            "rssi_median_dbm": -60,
            field: value,
        }
        _ingest(s, msgspec.json.encode({"meetings": [meeting]}))


@st.composite
def checkin_like(draw: st.DrawFn, s: Scenario) -> dict[str, Any]:
    """A valid check-in record of the scenario, with a few fields odd or hostile."""
    t = draw(st.integers(min_value=0, max_value=2**40))
    record: dict[str, Any] = {
        "id": draw(st.binary(min_size=16, max_size=16)).hex(),
        "event": s.event,
        "badge": draw(st.sampled_from([*sorted(s.badges.values()), "ghost"])),
        "reader": "door-1",
        "zone": draw(st.text(max_size=20)),
        "direction": draw(st.sampled_from(["entry", "exit"])),
        "t": t,
        "received_at": draw(st.integers(min_value=0, max_value=2**40)),
        "outcome": draw(st.sampled_from(["accepted", "already_inside", "stale_nonce"])),
        "detail": draw(st.text(max_size=30)),
        "gateway": s.gateway,
    }
    odd = st.one_of(
        st.sampled_from(HOSTILE),
        st.integers(min_value=-(2**65), max_value=2**65),
        st.text(max_size=300),
        json_values,
    )
    for field in draw(st.lists(st.sampled_from(sorted(record)), max_size=2, unique=True)):
        record[field] = draw(odd)
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        del record[draw(st.sampled_from(sorted(record)))]
    return record


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_checkin_like_batches(fuzz_scenario: Scenario, data: st.DataObject) -> None:
    s = fuzz_scenario
    records = data.draw(st.lists(checkin_like(s), min_size=1, max_size=3))
    response = _post(
        s, "/api/v1/gateway/checkins", msgspec.json.encode({"checkins": records}), s.token
    )
    if response.status_code == 200:
        result = decode_json(response.content, IngestResult)
        assert result.accepted + result.duplicates + len(result.rejected) == len(records)
    else:
        assert response.status_code == 422 and response.json()["code"] == "malformed"
    # the organizer's reads stay answerable whatever was stored
    for path in ("checkins", "checkins/failed", "checkins/counts?bucket=86400", "stats"):
        response = s.api.client.get(f"/api/v1/events/ev1/{path}", headers=ORG)
        _check(response)
        assert response.status_code in (200, 422), response.text


@FUZZ
@given(value=json_values)
def test_garbage_to_zone_session_and_desk_endpoints(fuzz_scenario: Scenario, value: object) -> None:
    body = msgspec.json.encode(value)
    for path in ("zones", "sessions", "checkins"):
        response = _post(fuzz_scenario, f"/api/v1/events/ev1/{path}", body)
        assert response.status_code in (201, 404, 409, 422), response.text
