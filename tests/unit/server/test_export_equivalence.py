"""The fast attendee export gives, byte for byte, what the plain reference computes.

``export_reference`` states the export as it was before its speed work (naive fold over
the whole event, ORM people, one entry at a time). The server's bodies must equal its
bodies on a real database (SQLite and PostgreSQL: the ``api`` fixture runs on both),
for many attendees and every consent combination, and the renderers must equal it for
any entries Hypothesis makes up.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from server.models import Attendee, Event
from server.services.consent import Contact
from server.services.exports import (
    ExportEntry,
    export_row,
    iso_utc,
    render_csv,
    render_json,
    render_vcards,
)
from server.services.linking import Totals, fold_meeting_rows
from tests.unit.server.conftest import ORG, T0, Api, proximity, tap
from tests.unit.server.export_reference import (
    reference_bodies,
    reference_csv,
    reference_iso,
    reference_json,
    reference_vcard,
)

FORMATS = ("csv", "vcf", "json")
CONSENTS = list(itertools.product(("none", "name_company", "full"), ("tapped", "met")))
ZONES = ("", "hall", "stage, left", "lobby; bar", "=cmd")
HUB_PEOPLE = 320  # more than a rendering piece (256 entries) in one export


def _row(index: int) -> dict[str, Any]:
    # every combination among the first 60, then people who share with whoever met them
    level, audience = (
        CONSENTS[index % 6] if index < 60 else (("full", "name_company")[index % 2], "met")
    )
    names = ("=SUM(A1)", 'Zoë "Z", Jr.', "+Plus", "-minus", "@at")
    row: dict[str, Any] = {
        "name": f"{names[index % len(names)]} {index}",
        "email": f"p{index}@example.org",
        "share_level": level,
        "share_with": audience,
    }
    if index % 3:
        row["company"] = f"Co {index % 7}, Ltd"
    if index % 4 == 1:
        row["title"] = f"Title {index}"
    if index % 5 == 2:
        row["phone"] = f"+33 1 00 00 {index:04d}"
    return row


def test_exports_equal_the_reference_on_a_real_database(api: Api) -> None:
    """A hub meets 300 people, others meet at random; taps, zones, a replaced badge, erasures."""
    api.create_event("ev1", link_threshold_seconds=120)
    rows = [{"name": "Hub", "email": "hub@example.org", "share_level": "full"}]
    ids = api.add_attendees("ev1", rows + [_row(i) for i in range(HUB_PEOPLE)])
    badges = [b["badge"] for b in api.provision("ev1", ids)]
    token = api.register_gateway("ev1", "gw1")
    rng = random.Random(7)
    meetings = []
    for i, badge in enumerate(badges[1:], start=1):
        start = T0 + rng.randrange(0, 36_000)
        zone = rng.choice(ZONES)
        if i % 4 == 0:
            meetings.append(tap("ev1", badges[0], badge, start, gateway="gw1", zone=zone))
        # a few below the threshold of 6 windows: no connection
        windows = rng.randint(1, 12) if i % 10 == 0 else rng.randint(6, 12)
        meetings.append(proximity("ev1", badge, badges[0], start + 60, windows, gateway="gw1"))
    for k in range(900):
        a, b = rng.sample(badges[1:40], 2)
        start = T0 + 40_000 + k * 13
        zone = rng.choice(ZONES)
        if k % 9 == 0:
            meetings.append(tap("ev1", a, b, start, gateway="gw1", zone=zone))
        else:
            windows = rng.randint(1, 9)
            meetings.append(proximity("ev1", a, b, start, windows, gateway="gw1", zone=zone))
    api.ingest_ok(token, meetings)
    # attendee 1 gets a new badge; its meetings on either badge are one person's
    replaced = api.client.post(f"/api/v1/events/ev1/badges/replace/{ids[1]}", headers=ORG)
    assert replaced.status_code == 201, replaced.text
    new_badge = replaced.json()["badge"]
    api.ingest_ok(
        token, [proximity("ev1", new_badge, badges[2], T0 + 90_000, 4, gateway="gw1", zone="x")]
    )
    for erased in (ids[3], ids[10]):
        assert api.client.delete(f"/api/v1/events/ev1/attendees/{erased}", headers=ORG).is_success
    database = api.client.app.state.database  # type: ignore[attr-defined]
    viewers = [ids[0], *ids[1:16], ids[200]]
    hub_sizes = []
    for viewer in viewers:
        with database.session() as session:
            expected = reference_bodies(session, "ev1", viewer)
        for fmt in FORMATS:
            url = f"/api/v1/events/ev1/attendees/{viewer}/export.{fmt}"
            response = api.client.get(url, headers=ORG)
            assert response.status_code == 200, response.text
            assert response.content == expected[fmt].encode(), (viewer, fmt)
        if viewer == ids[0]:
            hub_sizes.append(expected["csv"].count("\r\n") - 1)
    # sanity: the hub's export spans several pieces and consent hides some of its people
    assert 256 < hub_sizes[0] < HUB_PEOPLE


@given(st.integers(min_value=-62_135_596_800, max_value=253_402_300_799))
def test_iso_utc_is_datetime_isoformat(seconds: int) -> None:
    assert iso_utc(seconds) == reference_iso(seconds)


_TEXT = st.text(alphabet=st.sampled_from("ab ,;\"'=+-@\t\r\nzé€"), max_size=8)
_OPTIONAL = st.none() | _TEXT
_CONTACTS = st.builds(Contact, _TEXT, _OPTIONAL, _OPTIONAL, _OPTIONAL, _OPTIONAL)
_SECONDS = st.integers(min_value=0, max_value=4_102_444_800)
_ENTRIES = st.builds(
    ExportEntry,
    _CONTACTS,
    _SECONDS,
    _SECONDS,
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=1, max_value=10**4),
    st.integers(min_value=0, max_value=10**4),
    st.lists(_TEXT, max_size=3),
    st.sampled_from(("tap", "proximity", "tap+proximity")),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_ENTRIES, max_size=600), _TEXT, _OPTIONAL)
def test_renderers_equal_the_reference(
    entries: list[ExportEntry], name: str, title: str | None
) -> None:
    event = Event(id="ev1", name=name or "E")
    viewer = Attendee(
        name=name,
        company=None,
        title=title,
        email=None,
        phone=None,
        share_level="full",
        share_with="met",
        erased_at=datetime(2024, 1, 1, tzinfo=UTC) if title is None else None,
    )
    assert "".join(render_csv(export_row(e) for e in entries)) == reference_csv(entries)
    assert "".join(render_json(entries, event, viewer)) == reference_json(entries, event, viewer)


@settings(max_examples=25, deadline=None)
@given(st.lists(_ENTRIES, max_size=40), _TEXT)
def test_vcards_equal_cards_built_one_by_one(entries: list[ExportEntry], name: str) -> None:
    """One vobject card refilled per person serializes as a card built for that person."""
    event = Event(id="ev1", name=name)
    expected = [reference_vcard(e, event) for e in entries]
    assert list(render_vcards(entries, event)) == expected


_ROWS = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=6),  # the other attendee (1: the viewer itself)
        st.sampled_from(("tap", "proximity")),
        st.sampled_from(ZONES),
        st.integers(min_value=0, max_value=600),
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=0, max_value=10_000),
    ),
    max_size=40,
)


@given(_ROWS, st.integers(min_value=0, max_value=900))
def test_fold_meeting_rows_is_a_plain_fold(rows: list[tuple[Any, ...]], threshold: int) -> None:
    expected = {}
    for other in {r[0] for r in rows} - {1}:
        mine = [r for r in rows if r[0] == other]
        proximity = sum(r[3] for r in mine if r[1] == "proximity")
        taps = sum(1 for r in mine if r[1] == "tap")
        if proximity >= threshold or taps > 0:
            expected[other] = Totals(
                first_seen=min(r[4] for r in mine),
                last_seen=max(r[5] for r in mine),
                total_contact_seconds=sum(r[3] for r in mine),
                meetings=len(mine),
                taps=taps,
                zones=sorted({r[2] for r in mine} - {""}),
            )
    assert fold_meeting_rows(rows, 1, threshold) == expected
