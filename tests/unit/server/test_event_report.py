"""The organizer's event report page (``inperson.report``), gathered from a real server app."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from inperson.report import (
    Detection,
    EventReport,
    ReportError,
    collect,
    contacts_per_bucket,
    pair_contact_seconds,
    render_html,
)
from tests.unit.server.conftest import ORG, T0, Api, build_scenario, proximity, tap

_NAMES = ("Ada", "Bob", "Cy", "<b>Di</b>")


def _organizer(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="http://testserver/api/v1", headers=ORG)


def test_report_shows_what_the_server_holds(api: Api, app: FastAPI) -> None:
    s = build_scenario(api, names=_NAMES, link_threshold_seconds=60)
    b, e, g = s.badges, s.event, s.gateway
    s.api.ingest_ok(
        s.token,
        [
            proximity(e, b["Ada"], b["Bob"], T0, 10, gateway=g),  # 200 s, windows 0-9
            proximity(e, b["Bob"], b["Cy"], T0 + 600, 30, gateway=g),  # 600 s
            proximity(e, b["Cy"], b["<b>Di</b>"], T0 + 40, 4, gateway=g),  # 80 s
            tap(e, b["Ada"], b["Cy"], T0 + 50, gateway=g),
        ],
    )
    report = collect(_organizer(app), e, bucket_seconds=300)

    assert report.stats["meetings"] == 4 and report.stats["taps"] == 1
    # one t i j line per contact window, bucketed from the first window (t = 0)
    assert sum(count for _, count in report.contacts) == 10 + 30 + 4
    assert report.contacts[0] == (0, 14)  # Ada-Bob 10 windows + Cy-Di 4 windows in 0-300 s
    assert report.contacts[1:] == [(300, 0), (600, 15), (900, 15)]  # Bob-Cy: t = 600..1180
    assert sorted(report.pair_seconds) == [0, 80, 200, 600]  # the tap pair spent 0 s

    page = render_html(report)
    assert page.count("<svg") == 3  # contacts over time, network, time together
    assert "&lt;b&gt;Di&lt;/b&gt;" in page and "<b>Di" not in page  # names are escaped
    assert "No check-ins yet" in page  # no reader in this event
    assert "Detection against" not in page  # only the demo knows the truth


def test_report_of_an_event_without_meetings(api: Api, app: FastAPI) -> None:
    build_scenario(api, names=_NAMES)
    report = collect(_organizer(app), "ev1")
    assert report.contacts == [] and report.pair_seconds == []
    page = render_html(report)
    assert "No proximity contacts yet" in page and "No connections yet" in page
    assert page.count("<svg") == 1  # the degree distribution: everyone met 0 people


def test_report_of_an_unknown_event_or_without_a_token_is_a_clear_error(
    api: Api, app: FastAPI
) -> None:
    build_scenario(api, names=_NAMES)
    with pytest.raises(ReportError, match=r"GET /events/nope -> 404"):
        collect(_organizer(app), "nope")
    anonymous = TestClient(app, base_url="http://testserver/api/v1")
    with pytest.raises(ReportError, match=r"-> 401"):
        collect(anonymous, "ev1")


def test_detection_section_from_the_demo_summary() -> None:
    summary = {
        "precision": 0.9761,
        "recall": 0.992,
        "connections": 900,
        "true_connections": 885,
        "reports_sent": 38000,
        "reports_accepted": 37990,
        "rejected": {"bad_signature": 7, "stale": 3},
        "checkins": {"accepted": 400},
    }
    empty = EventReport(event={"id": "e", "name": "E"}, stats={}, network={})
    page = render_html(empty, Detection.from_summary(summary))
    assert "0.976" in page and "0.992" in page and "37,990" in page
    assert page.count("<svg") == 2  # rejection reasons, check-in outcomes


_lines = st.lists(
    st.one_of(
        st.tuples(st.integers(0, 10**6), st.integers(1, 50), st.integers(1, 50)).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        ),
        st.text(max_size=12),  # garbage is skipped, never counted
    ),
    max_size=60,
)


@given(_lines, st.integers(20, 3600))
def test_contacts_per_bucket_counts_every_valid_line_once(lines: list[str], bucket: int) -> None:
    valid = [int(p[0]) for p in (line.split() for line in lines) if len(p) == 3 and p[0].isdigit()]
    buckets = contacts_per_bucket(lines, bucket)
    assert sum(count for _, count in buckets) == len(valid)
    starts = [start for start, _ in buckets]
    assert starts == list(range(starts[0], starts[-1] + 1, bucket)) if starts else valid == []


@given(st.lists(st.tuples(st.text(max_size=15), st.integers(0, 10**7)), max_size=20))
def test_pair_seconds_survive_any_names(rows: list[tuple[str, int]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["name_a", "total_contact_seconds", "meetings"])
    for name, seconds in rows:
        writer.writerow([name, seconds, 1])
    lines = re.split(r"\r\n", buffer.getvalue())[:-1]  # as a streamed response's lines
    assert pair_contact_seconds(lines) == [seconds for _, seconds in rows]


def _page(name: str, attendee: str) -> str:
    return render_html(
        EventReport(
            event={"id": "ev", "name": name},
            stats={"attendees": 1},
            network={
                "degree_distribution": [{"contacts": 1, "attendees": 2}],
                "most_connected": [{"attendee": 1, "name": attendee, "contacts": 1}],
            },
        )
    )


@settings(max_examples=30, deadline=None)  # each example draws two charts (~0.1 s each)
@given(st.text(max_size=40), st.text(max_size=40))
def test_render_escapes_every_server_string(name: str, attendee: str) -> None:
    page = _page(name, attendee)
    assert html.escape(name) in page and html.escape(attendee) in page
    tags = re.compile(r"<(/?[a-zA-Z][\w:-]*)")
    assert tags.findall(page) == tags.findall(_page("E", "A"))  # no string adds markup
