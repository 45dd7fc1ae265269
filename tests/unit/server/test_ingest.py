"""Gateway meeting ingest: idempotence, conflicts, per-meeting rejections, malformed batches."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from protocol.api import IngestResult, Meeting
from protocol.encoding import decode_json, encode_json
from server.config import ServerSettings
from server.db import Database, make_engine
from server.models import Gateway
from tests.unit.server.conftest import ORG, T0, Scenario, StepClock, bearer, proximity, tap


def _stored(scenario: Scenario, **params: Any) -> list[dict[str, Any]]:
    response = scenario.api.client.get(
        f"/api/v1/events/{scenario.event}/meetings", params={"limit": 1000, **params}, headers=ORG
    )
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _batch(s: Scenario) -> list[Meeting]:
    b = s.badges
    return [
        proximity(s.event, b["Ada"], b["Bob"], T0, 6, gateway=s.gateway),
        proximity(s.event, b["Bob"], b["Cy"], T0 + 40, 3, gateway=s.gateway, zone="stage"),
        tap(s.event, b["Ada"], b["Di"], T0 + 100, gateway=s.gateway),
    ]


def test_same_batch_twice_is_stored_once(scenario: Scenario) -> None:
    batch = _batch(scenario)
    first = scenario.api.ingest_ok(scenario.token, batch)
    assert first == {"accepted": 3, "duplicates": 0, "rejected": []}
    second = scenario.api.ingest_ok(scenario.token, batch)
    assert second == {"accepted": 0, "duplicates": 3, "rejected": []}
    stored = _stored(scenario)
    assert sorted(m["id"] for m in stored) == sorted(m.id for m in batch)
    stats = scenario.api.client.get("/api/v1/events/ev1/stats", headers=ORG).json()
    assert (stats["meetings"], stats["proximity_meetings"], stats["taps"]) == (3, 2, 1)
    assert stats["total_contact_seconds"] == 180


def test_result_decodes_as_protocol_ingest_result(scenario: Scenario) -> None:
    response = scenario.api.ingest(scenario.token, _batch(scenario))
    assert response.headers["content-type"] == "application/json"
    assert decode_json(response.content, IngestResult) == IngestResult(accepted=3, duplicates=0)


def test_stored_meeting_keeps_gateway_and_zone(scenario: Scenario) -> None:
    scenario.api.ingest_ok(scenario.token, _batch(scenario))
    stored = {m["kind"] + str(m["first_seen"]): m for m in _stored(scenario)}
    first = stored[f"proximity{T0}"]
    assert first["gateway"] == "gw1"
    assert first["zone"] == "hall"  # meeting without a zone: the gateway's zone
    assert stored[f"proximity{T0 + 40}"]["zone"] == "stage"
    assert first["attendee_a"] == scenario.attendees["Ada"]
    assert first["attendee_b"] == scenario.attendees["Bob"]
    assert (first["contact_seconds"], first["windows"], first["rssi_median_dbm"]) == (120, 6, -60)


def test_same_id_with_other_content_is_a_conflict(scenario: Scenario) -> None:
    original = _batch(scenario)[0]
    scenario.api.ingest_ok(scenario.token, [original])
    changed = msgspec.structs.replace(original, windows=7, contact_seconds=140, last_seen=T0 + 140)
    result = scenario.api.ingest_ok(scenario.token, [changed])
    assert result["accepted"] == 0 and result["duplicates"] == 0
    assert [(r["id"], r["code"]) for r in result["rejected"]] == [(original.id, "conflict")]
    (stored,) = _stored(scenario)
    assert stored["windows"] == 6


def test_swapped_badges_and_other_gateway_are_the_same_meeting(scenario: Scenario) -> None:
    original = _batch(scenario)[0]
    scenario.api.ingest_ok(scenario.token, [original])
    other_token = scenario.api.register_gateway(scenario.event, "gw2", zone="lobby")
    seen_elsewhere = msgspec.structs.replace(
        original,
        badge_a=original.badge_b,
        badge_b=original.badge_a,
        gateway="gw2",
        zone="lobby",
        rssi_median_dbm=-70,
    )
    result = scenario.api.ingest_ok(other_token, [seen_elsewhere])
    assert result == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert len(_stored(scenario)) == 1


def test_mixed_batch_accepts_the_good_ones(scenario: Scenario) -> None:
    s = scenario
    b = s.badges
    good = proximity(s.event, b["Ada"], b["Cy"], T0, 3, gateway=s.gateway)
    other_content = msgspec.structs.replace(good, windows=2, contact_seconds=40)
    span_too_short = proximity(s.event, b["Cy"], b["Di"], T0, 3, gateway=s.gateway)
    batch = [
        good,
        good,  # repeated in the same batch: duplicate
        other_content,  # same id, different content in the same batch: conflict
        proximity("other-event", b["Ada"], b["Bob"], T0, 3, gateway=s.gateway),
        proximity(s.event, b["Ada"], b["Bob"], T0, 3, gateway="gw-somebody-else"),
        proximity(s.event, b["Ada"], "b0000000000", T0, 3, gateway=s.gateway),
        proximity(s.event, b["Bob"], b["Bob"], T0, 3, gateway=s.gateway),
        msgspec.structs.replace(
            proximity(s.event, b["Bob"], b["Di"], T0, 3, gateway=s.gateway), last_seen=T0 - 1
        ),
        msgspec.structs.replace(span_too_short, last_seen=T0 + 59),
        msgspec.structs.replace(
            proximity(s.event, b["Bob"], b["Cy"], T0, 3, gateway=s.gateway), rssi_median_dbm=999
        ),
        proximity(s.event, b["Di"], b["Bob"], T0, 3, gateway=s.gateway, zone="z" * 201),
        tap(s.event, b["Di"], b["Cy"], T0 + 5, gateway=s.gateway),
    ]
    result = s.api.ingest_ok(s.token, batch)
    assert result["accepted"] == 2
    assert result["duplicates"] == 1
    assert [r["code"] for r in result["rejected"]] == [
        "conflict",
        "wrong_event",
        "wrong_gateway",
        "unknown_badge",
        "self_meeting",
        "invalid_interval",
        "invalid_interval",
        "malformed",
        "malformed",
    ]
    assert all(r["detail"] for r in result["rejected"])
    assert sorted(m["id"] for m in _stored(s)) == sorted([good.id, batch[-1].id])


def test_badge_of_another_event_is_unknown(scenario: Scenario) -> None:
    from tests.unit.server.conftest import build_scenario

    other = build_scenario(scenario.api, "ev2")
    meeting = proximity("ev1", scenario.badges["Ada"], other.badges["Bob"], T0, 3, gateway="gw1")
    result = scenario.api.ingest_ok(scenario.token, [meeting])
    assert [r["code"] for r in result["rejected"]] == ["unknown_badge"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"meetings": [{}]}',
        b'{"meetings": [], "extra": 1}',
        b'{"meetings": "x"}',
        b'{"meetings": [{"id": "zz"}]}',
        b"\xff\xfe\x00",
    ],
)
def test_malformed_batch_is_422(scenario: Scenario, body: bytes) -> None:
    response = scenario.api.client.post(
        "/api/v1/gateway/meetings", content=body, headers=bearer(scenario.token)
    )
    assert response.status_code == 422
    payload = response.json()
    assert set(payload) == {"code", "detail"}
    assert payload["code"] == "malformed"


def test_batch_over_protocol_limit_is_422(scenario: Scenario) -> None:
    meeting = _batch(scenario)[0]
    body = encode_json({"meetings": [meeting] * 5001})
    response = scenario.api.client.post(
        "/api/v1/gateway/meetings", content=body, headers=bearer(scenario.token)
    )
    assert response.status_code == 422
    assert response.json()["code"] == "malformed"


def test_full_batch_in_one_request(scenario: Scenario) -> None:
    s = scenario
    pairs = [("Ada", "Bob"), ("Ada", "Cy"), ("Bob", "Di"), ("Cy", "Di"), ("Ada", "Di")]
    batch = [
        proximity(s.event, s.badges[x], s.badges[y], T0 + 100 * i, 3, gateway=s.gateway)
        for i in range(1000)
        for x, y in pairs
    ]
    assert len(batch) == 5000
    assert s.api.ingest_ok(s.token, batch) == {"accepted": 5000, "duplicates": 0, "rejected": []}
    assert s.api.ingest_ok(s.token, batch[::-1])["duplicates"] == 5000
    page = s.api.client.get("/api/v1/events/ev1/meetings", params={"limit": 1}, headers=ORG)
    assert page.json()["total"] == 5000


def test_registry_marks_gateway_seen(
    scenario: Scenario, clock: StepClock, settings: ServerSettings
) -> None:
    clock.advance(3600)
    response = scenario.api.client.get("/api/v1/gateway/registry", headers=bearer(scenario.token))
    assert response.status_code == 200
    registry = response.json()
    assert registry["gateway"] == "gw1" and registry["zone"] == "hall"
    assert sorted(x["badge"] for x in registry["badges"]) == sorted(scenario.badges.values())
    database = Database(make_engine(settings.database_url))
    with database.session() as session:
        gateway = session.get(Gateway, ("ev1", "gw1"))
        assert gateway is not None
        assert gateway.last_seen == clock.now
    database.dispose()
