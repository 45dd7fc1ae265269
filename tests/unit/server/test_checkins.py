"""Check-ins: gateway ingest, desk check-ins (pretix-style), reads, counts, erasure, retention."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.api import CheckInBatch, CheckInOutcome, CheckInRecord
from protocol.encoding import encode_json
from protocol.ids import checkin_id
from server.config import ServerSettings
from server.db import Database, make_engine
from server.services.retention import purge_expired
from tests.unit.server.conftest import (
    ORG,
    T0,
    Api,
    Scenario,
    StepClock,
    bearer,
    build_scenario,
    dump_database,
)

CHECKINS = "/api/v1/events/ev1/checkins"


def record(
    s: Scenario,
    who: str,
    direction: str,
    t: int,
    *,
    outcome: CheckInOutcome = "accepted",
    zone: str = "main-hall",
    nonce: str | None = None,
    badge: str | None = None,
    reader: str = "door-1",
) -> CheckInRecord:
    """A reader's record of ``who`` tapping at ``t`` (nonce derived from the time)."""
    badge_id = badge if badge is not None else s.badges[who]
    nonce_hex = nonce if nonce is not None else f"{t:032x}"
    return CheckInRecord(
        id=checkin_id(s.event, badge_id, reader, nonce_hex),
        event=s.event,
        badge=badge_id,
        reader=reader,
        zone=zone,
        direction="entry" if direction == "entry" else "exit",
        t=t,
        received_at=t + 1,
        outcome=outcome,
        detail="" if outcome == "accepted" else f"reader said {outcome}",
        gateway=s.gateway,
    )


def post_records(api: Api, token: str, records: Sequence[CheckInRecord]) -> httpx2.Response:
    return api.client.post(
        "/api/v1/gateway/checkins",
        content=encode_json(CheckInBatch(checkins=list(records))),
        headers={**bearer(token), "Content-Type": "application/json"},
    )


def ingest_ok(s: Scenario, records: Sequence[CheckInRecord]) -> dict[str, Any]:
    response = post_records(s.api, s.token, records)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def desk(api: Api, event: str = "ev1", **fields: Any) -> httpx2.Response:
    body = {"zone": "main-hall", "direction": "entry", **fields}
    return api.client.post(f"/api/v1/events/{event}/checkins", json=body, headers=ORG)


def test_gateway_records_of_every_outcome_are_stored_once(site: Scenario) -> None:
    s = site
    records = [
        record(s, "Ada", "entry", T0),
        record(s, "Bob", "entry", T0 + 5, outcome="revoked_badge"),
        record(s, "Cy", "entry", T0 + 9, outcome="stale_nonce", zone=""),  # gateway's zone
    ]
    assert ingest_ok(s, records) == {"accepted": 3, "duplicates": 0, "rejected": []}
    assert ingest_ok(s, records) == {"accepted": 0, "duplicates": 3, "rejected": []}

    page = s.api.client.get(CHECKINS, headers=ORG).json()
    assert page["total"] == 3
    first = page["items"][0]
    assert first == {
        "id": records[0].id,
        "source": "gateway",
        "nonce": None,
        "badge": s.badges["Ada"],
        "attendee": s.attendees["Ada"],
        "reader": "door-1",
        "gateway": "gw1",
        "zone": "main-hall",
        "direction": "entry",
        "t": T0,
        "received_at": T0 + 1,
        "outcome": "accepted",
        "detail": "",
    }
    assert page["items"][2]["zone"] == "hall"  # the gateway's zone

    failed = s.api.client.get(f"{CHECKINS}/failed", headers=ORG).json()
    assert failed["total"] == 2
    assert failed["by_outcome"] == [
        {"outcome": "revoked_badge", "count": 1},
        {"outcome": "stale_nonce", "count": 1},
    ]
    assert [i["detail"] for i in failed["items"]] == [
        "reader said revoked_badge",
        "reader said stale_nonce",
    ]


def test_same_id_with_other_content_is_a_conflict(site: Scenario) -> None:
    s = site
    original = record(s, "Ada", "entry", T0)
    ingest_ok(s, [original])
    changed = CheckInRecord(**{**record_fields(original), "outcome": "already_inside"})
    result = ingest_ok(s, [changed, record(s, "Bob", "entry", T0)])
    assert result["accepted"] == 1
    assert [(r["id"], r["code"]) for r in result["rejected"]] == [(original.id, "conflict")]
    stored = s.api.client.get(CHECKINS, params={"badge": s.badges["Ada"]}, headers=ORG).json()
    assert [i["outcome"] for i in stored["items"]] == ["accepted"]


def record_fields(r: CheckInRecord) -> dict[str, Any]:
    return {f: getattr(r, f) for f in r.__struct_fields__}


def test_unknown_badges_are_stored_without_attendee(site: Scenario) -> None:
    s = site
    ghost = record(s, "", "entry", T0, badge="ghost", outcome="unknown_badge")
    ingest_ok(s, [ghost])
    item = s.api.client.get(CHECKINS, headers=ORG).json()["items"][0]
    assert (item["badge"], item["attendee"], item["outcome"]) == ("ghost", None, "unknown_badge")


def test_malformed_batches_and_records(site: Scenario) -> None:
    s = site
    for body in (b"not json", b'{"checkins": [{"id": "x"}]}', b"{}"):
        response = s.api.client.post(
            "/api/v1/gateway/checkins", content=body, headers=bearer(s.token)
        )
        assert response.status_code == 422
        assert response.json()["code"] == "malformed"
    far = record(s, "Ada", "entry", 2**40 - 1)
    result = ingest_ok(s, [far])
    assert [r["code"] for r in result["rejected"]] == ["malformed"]


def test_desk_check_in_and_out(site: Scenario, clock: StepClock) -> None:
    api, badge = site.api, site.badges["Ada"]
    first = desk(api, nonce="n1", badge=badge)
    assert first.status_code == 201
    body = first.json()
    assert (body["outcome"], body["attendee"], body["source"], body["reader"]) == (
        "accepted",
        site.attendees["Ada"],
        "desk",
        "desk",
    )
    assert body["t"] == int(clock.now.timestamp())

    retry = desk(api, nonce="n1", badge=badge)
    assert retry.status_code == 200
    assert retry.json() == body

    clock.advance(60)
    second = desk(api, nonce="n2", badge=badge).json()
    assert second["outcome"] == "already_inside"
    exit_ = desk(api, nonce="n3", badge=badge, direction="exit").json()
    assert exit_["outcome"] == "accepted"
    clock.advance(60)
    by_attendee = desk(api, nonce="n4", attendee=site.attendees["Ada"]).json()
    assert (by_attendee["outcome"], by_attendee["badge"]) == ("accepted", badge)
    # inside one zone does not mean inside another
    assert desk(api, nonce="n5", badge=badge, zone="room-b").json()["outcome"] == "accepted"


def test_desk_failed_outcomes_are_stored(site: Scenario, api: Api) -> None:
    other = build_scenario(api, "ev2", ("Eve",))
    revoked = site.badges["Bob"]
    response = api.client.post(f"/api/v1/events/ev1/badges/{revoked}/revoke", headers=ORG)
    assert response.status_code == 200
    outcomes = {
        "u": desk(api, nonce="u", badge="nobody").json()["outcome"],
        "r": desk(api, nonce="r", badge=revoked).json()["outcome"],
        "o": desk(api, nonce="o", badge=other.badges["Eve"]).json()["outcome"],
    }
    assert outcomes == {"u": "unknown_badge", "r": "revoked_badge", "o": "not_registered"}
    failed = api.client.get(f"{CHECKINS}/failed", headers=ORG).json()
    assert {c["outcome"]: c["count"] for c in failed["by_outcome"]} == {
        "unknown_badge": 1,
        "revoked_badge": 1,
        "not_registered": 1,
    }
    # nothing of ev2 leaks: its check-in list is empty
    assert api.client.get("/api/v1/events/ev2/checkins", headers=ORG).json()["total"] == 0


def test_desk_errors(site: Scenario) -> None:
    api, badge = site.api, site.badges["Ada"]
    assert desk(api, nonce="n1", badge=badge).status_code == 201
    reused = desk(api, nonce="n1", badge=badge, direction="exit")
    assert reused.status_code == 409
    assert reused.json()["code"] == "nonce_reused"
    unknown_zone = desk(api, nonce="n2", badge=badge, zone="nowhere")
    assert (unknown_zone.status_code, unknown_zone.json()["code"]) == (422, "unknown_zone")
    unknown_attendee = desk(api, nonce="n3", attendee=999)
    assert (unknown_attendee.status_code, unknown_attendee.json()["code"]) == (
        404,
        "attendee_not_found",
    )
    for bad in ({"nonce": "n4"}, {"nonce": "n4", "badge": badge, "attendee": 1}):
        assert desk(api, **bad).status_code == 422
    assert api.client.get(CHECKINS, headers=ORG).json()["total"] == 1


def test_offline_upload_lands_at_its_real_time(site: Scenario, clock: StepClock) -> None:
    api, badge = site.api, site.badges["Ada"]
    clock.now = datetime.fromtimestamp(T0 + 7200, UTC)
    # uploaded late: entry at T0 and exit at T0 + 600; now an entry at T0 + 7200
    early = desk(api, nonce="a", badge=badge, t=_iso(T0)).json()
    assert (early["t"], early["received_at"], early["outcome"]) == (T0, T0 + 7200, "accepted")
    assert desk(api, nonce="b", badge=badge, t=_iso(T0 + 600), direction="exit").status_code == 201
    late = desk(api, nonce="c", badge=badge).json()
    assert late["outcome"] == "accepted"
    # an entry uploaded for T0 + 300 finds Ada already inside at that time
    between = desk(api, nonce="d", badge=badge, t=_iso(T0 + 300)).json()
    assert between["outcome"] == "already_inside"
    counts = api.client.get(
        f"{CHECKINS}/counts", params={"bucket": 3600, "zone": "main-hall"}, headers=ORG
    ).json()
    assert [
        (b["start"], b["entries"], b["exits"], b["occupancy"])
        for b in counts["zones"][0]["buckets"]
    ] == [
        ("2024-06-01T09:00:00Z", 1, 1, 0),
        ("2024-06-01T10:00:00Z", 0, 0, 0),
        ("2024-06-01T11:00:00Z", 1, 0, 1),
    ]


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _occupancy_scenario(s: Scenario) -> None:
    ingest_ok(
        s,
        [
            record(s, "Ada", "entry", T0),
            record(s, "Bob", "entry", T0 + 100),
            record(s, "Cy", "entry", T0 + 120, outcome="unknown_nonce"),
            record(s, "Ada", "exit", T0 + 1000),
            record(s, "Cy", "entry", T0 + 200, zone="room-b"),
            record(s, "Di", "entry", T0 + 2000),
        ],
    )


def test_counts_over_time(site: Scenario) -> None:
    s = site
    _occupancy_scenario(s)
    counts = s.api.client.get(f"{CHECKINS}/counts", headers=ORG).json()
    assert counts["bucket_seconds"] == 900
    by_zone = {
        z["zone"]: [(b["entries"], b["exits"], b["occupancy"]) for b in z["buckets"]]
        for z in counts["zones"]
    }
    # buckets from the first to the last accepted tap, 09:00 to 09:30
    assert by_zone == {
        "main-hall": [(2, 0, 2), (0, 1, 1), (1, 0, 2)],
        "room-b": [(1, 0, 1), (0, 0, 1), (0, 0, 1)],
    }
    # a later window keeps who entered before it
    later = s.api.client.get(
        f"{CHECKINS}/counts",
        params={"zone": "main-hall", "since": _iso(T0 + 1800), "bucket": 600},
        headers=ORG,
    ).json()
    assert [(b["start"], b["entries"], b["occupancy"]) for b in later["zones"][0]["buckets"]] == [
        ("2024-06-01T09:30:00Z", 1, 2)
    ]
    too_many = s.api.client.get(
        f"{CHECKINS}/counts", params={"since": "2000-01-01T00:00:00Z", "bucket": 60}, headers=ORG
    )
    assert (too_many.status_code, too_many.json()["code"]) == (422, "too_many_buckets")


def test_session_filter_is_zone_and_time_span(site: Scenario) -> None:
    s = site
    _occupancy_scenario(s)
    session = {
        "id": "talk",
        "title": "Talk",
        "zone": "main-hall",
        "starts_at": _iso(T0 + 60),
        "ends_at": _iso(T0 + 1200),
    }
    assert s.api.client.post("/api/v1/events/ev1/sessions", json=session, headers=ORG).is_success
    page = s.api.client.get(CHECKINS, params={"session": "talk"}, headers=ORG).json()
    assert [(i["badge"], i["direction"]) for i in page["items"]] == [
        (s.badges["Bob"], "entry"),
        (s.badges["Cy"], "entry"),
        (s.badges["Ada"], "exit"),
    ]
    accepted = s.api.client.get(
        CHECKINS, params={"session": "talk", "outcome": "accepted"}, headers=ORG
    ).json()
    assert accepted["total"] == 2
    other_zone = s.api.client.get(
        CHECKINS, params={"session": "talk", "zone": "room-b"}, headers=ORG
    ).json()
    assert other_zone["total"] == 0
    failed = s.api.client.get(f"{CHECKINS}/failed", params={"session": "talk"}, headers=ORG)
    assert failed.json()["by_outcome"] == [{"outcome": "unknown_nonce", "count": 1}]
    missing = s.api.client.get(CHECKINS, params={"session": "nope"}, headers=ORG)
    assert (missing.status_code, missing.json()["code"]) == (404, "session_not_found")


def test_list_filters_and_pagination(site: Scenario) -> None:
    s = site
    _occupancy_scenario(s)
    client = s.api.client

    def ids(**params: Any) -> list[tuple[str, int]]:
        page = client.get(CHECKINS, params=params, headers=ORG).json()
        return [(i["direction"], i["t"]) for i in page["items"]]

    assert ids(attendee=s.attendees["Ada"]) == [("entry", T0), ("exit", T0 + 1000)]
    assert ids(direction="exit") == [("exit", T0 + 1000)]
    assert ids(zone="room-b") == [("entry", T0 + 200)]
    assert ids(since=_iso(T0 + 150), until=_iso(T0 + 1000)) == [
        ("entry", T0 + 200),
        ("exit", T0 + 1000),
    ]
    assert ids(source="desk") == []
    assert ids(limit=2, offset=1) == [("entry", T0 + 100), ("entry", T0 + 120)]
    total = client.get(CHECKINS, params={"limit": 1}, headers=ORG).json()["total"]
    assert total == 6


def test_who_is_inside_now(site: Scenario) -> None:
    s = site
    _occupancy_scenario(s)
    inside = s.api.client.get("/api/v1/events/ev1/zones/main-hall/inside", headers=ORG).json()
    assert (inside["zone"], inside["name"], inside["occupancy"]) == ("main-hall", "Main hall", 2)
    assert [(p["name"], p["badge"], p["since"]) for p in inside["inside"]] == [
        ("Bob", s.badges["Bob"], _iso(T0 + 100)),
        ("Di", s.badges["Di"], _iso(T0 + 2000)),
    ]
    # the gateway's own zone is known from its check-ins even if not created as a zone
    ingest_ok(s, [record(s, "Ada", "entry", T0, zone="", nonce="ab" * 16)])
    hall = s.api.client.get("/api/v1/events/ev1/zones/hall/inside", headers=ORG).json()
    assert (hall["name"], hall["occupancy"]) == (None, 1)
    # readers may name zones freely (the protocol's zone is any text up to 64 characters)
    ingest_ok(s, [record(s, "Bob", "entry", T0, zone="Main hall 2", nonce="cd" * 16)])
    free = s.api.client.get("/api/v1/events/ev1/zones/Main hall 2/inside", headers=ORG).json()
    assert [p["name"] for p in free["inside"]] == ["Bob"]
    listed = s.api.client.get(CHECKINS, params={"zone": "Main hall 2"}, headers=ORG).json()
    assert listed["total"] == 1
    missing = s.api.client.get("/api/v1/events/ev1/zones/nowhere/inside", headers=ORG)
    assert (missing.status_code, missing.json()["code"]) == (404, "zone_not_found")


def test_stats_gain_attendance(site: Scenario) -> None:
    s = site
    _occupancy_scenario(s)
    ingest_ok(s, [record(s, "Bob", "exit", T0 + 3700)])
    stats = s.api.client.get("/api/v1/events/ev1/stats", headers=ORG).json()
    assert (stats["checkins"], stats["failed_checkins"], stats["attendees"]) == (7, 1, 4)
    assert stats["attendance_per_hour"] == [
        {"hour": "2024-06-01T09:00:00Z", "entries": 4, "exits": 1, "inside": 3},
        {"hour": "2024-06-01T10:00:00Z", "entries": 0, "exits": 1, "inside": 2},
    ]


def test_erasure_pseudonymises_check_ins(site: Scenario, settings: ServerSettings) -> None:
    s = site
    _occupancy_scenario(s)
    desk(s.api, nonce="n1", badge=s.badges["Ada"])
    before = s.api.client.get(f"{CHECKINS}/counts", headers=ORG).json()
    ada = s.attendees["Ada"]
    assert s.api.client.delete(f"/api/v1/events/ev1/attendees/{ada}", headers=ORG).is_success

    page = s.api.client.get(CHECKINS, headers=ORG).json()
    assert s.api.client.get(CHECKINS, params={"attendee": ada}, headers=ORG).json()["total"] == 0
    pseudonyms = {i["badge"] for i in page["items"] if i["attendee"] is None}
    assert len(pseudonyms) == 1 and next(iter(pseudonyms)).startswith("erased-")
    assert s.badges["Ada"] not in {i["badge"] for i in page["items"]}
    # counts are unchanged: the pseudonym keeps the replay of entries and exits right
    assert s.api.client.get(f"{CHECKINS}/counts", headers=ORG).json() == before
    dump = dump_database(settings.database_url)
    checkin_rows = [line for line in dump.splitlines() if "door-1" in line or "'desk'" in line]
    assert checkin_rows and not any(s.badges["Ada"] in line for line in checkin_rows)


def test_retention_purges_old_check_ins(
    site: Scenario, settings: ServerSettings, clock: StepClock
) -> None:
    s = site
    ingest_ok(s, [record(s, "Ada", "entry", T0)])
    clock.advance(86_400 * 10)
    ingest_ok(s, [record(s, "Bob", "entry", T0)])
    database = Database(make_engine(settings.database_url))
    try:
        with database.session() as session:
            # 30 days of retention from when each was stored (10 days apart)
            assert purge_expired(session, clock.now + timedelta(days=20)) == 0
            assert purge_expired(session, clock.now + timedelta(days=20, seconds=1)) == 1
            assert purge_expired(session, clock.now + timedelta(days=30)) == 0
            assert purge_expired(session, clock.now + timedelta(days=30, seconds=1)) == 1
    finally:
        database.dispose()
    assert s.api.client.get(CHECKINS, headers=ORG).json()["total"] == 0


Tap = tuple[int, bool, int]  # (who, entry?, seconds after T0)
_EXAMPLES = itertools.count()


@settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    taps=st.lists(
        st.tuples(st.integers(0, 3), st.booleans(), st.integers(0, 5400)), min_size=1, max_size=25
    )
)
def test_occupancy_matches_a_replay_of_the_taps(site: Scenario, taps: list[Tap]) -> None:
    s = site
    names = ["Ada", "Bob", "Cy", "Di"]
    example = next(_EXAMPLES)  # each example in its own zone, with its own nonces
    zone = f"z{example}"
    records = [
        record(
            s,
            names[who],
            "entry" if entry else "exit",
            T0 + dt,
            nonce=f"{example:016x}{i:016x}",
            zone=zone,
        )
        for i, (who, entry, dt) in enumerate(taps)
    ]
    ingest_ok(s, records)

    # the model: sort by time (ties in arrival order, as received_at = t + 1 and ids differ)
    ordered = sorted(records, key=lambda r: (r.t, r.received_at, r.id))
    inside: set[str] = set()
    per_hour: dict[int, int] = {}
    for r in ordered:
        if r.direction == "entry":
            inside.add(r.badge)
        else:
            inside.discard(r.badge)
        per_hour[(r.t - T0) // 3600] = len(inside)
    counts = s.api.client.get(
        f"{CHECKINS}/counts", params={"zone": zone, "bucket": 3600}, headers=ORG
    ).json()
    buckets = counts["zones"][0]["buckets"]
    last = 0
    for index, bucket in enumerate(buckets):
        last = per_hour.get(index + min(per_hour), last)
        assert bucket["occupancy"] == last
    now = s.api.client.get(f"/api/v1/events/ev1/zones/{zone}/inside", headers=ORG).json()
    assert {p["badge"] for p in now["inside"]} == inside
