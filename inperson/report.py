"""The event report: one self-contained HTML page an organizer can open and look at.

Everything comes from the organizer API, the large parts streamed so that the report of
a large event does not hold its meetings in memory:

- ``GET /events/{e}`` and ``/stats``, ``/stats/network``: counts, attendance per hour
  (check-ins), the degree distribution and the most connected attendees;
- ``GET /events/{e}/contacts.tij`` (streamed): pairs in contact per time bucket;
- ``GET /events/{e}/network.csv`` (streamed): the time each pair spent together.

``inperson report`` writes it for any event; ``inperson demo`` writes
``demo-out/report.html`` with a section comparing detection against the simulator's
ground truth. Charts are inline SVG (``inperson.charts``), so the page needs nothing else.
"""

from __future__ import annotations

import csv
import html
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx2

from inperson import charts

BUCKET_SECONDS = 300
"""Width of a time bucket of the contacts-over-time chart."""
_TOP = 10


class Http(Protocol):
    """An HTTP client with the organizer's token and ``.../api/v1`` as base URL.

    ``httpx2.Client`` in use; anything with the same two methods in tests.
    """

    def get(self, url: str) -> Any: ...

    def stream(self, method: str, url: str) -> AbstractContextManager[Any]: ...


class ReportError(Exception):
    """The server could not provide what the report needs (with the request and the reason)."""


@dataclass(frozen=True)
class EventReport:
    """What the page shows, gathered from the organizer API."""

    event: Mapping[str, Any]
    stats: Mapping[str, Any]
    network: Mapping[str, Any]
    contacts: list[tuple[int, int]] = field(default_factory=list)
    """(bucket start in seconds since the first contact window, pair-windows in it)."""
    pair_seconds: list[int] = field(default_factory=list)
    """Total contact seconds of each connected pair."""
    bucket_seconds: int = BUCKET_SECONDS


@dataclass(frozen=True)
class Detection:
    """The demo's comparison with the simulator's ground truth."""

    precision: float
    recall: float
    connections: int
    true_connections: int
    reports_sent: int
    reports_accepted: int
    rejected: Mapping[str, int] = field(default_factory=dict)
    checkins: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> Detection:
        """Build from the demo's summary dictionary."""
        return cls(
            precision=float(summary["precision"]),
            recall=float(summary["recall"]),
            connections=int(summary["connections"]),
            true_connections=int(summary["true_connections"]),
            reports_sent=int(summary["reports_sent"]),
            reports_accepted=int(summary["reports_accepted"]),
            rejected=dict(summary.get("rejected", {})),
            checkins=dict(summary.get("checkins", {})),
        )


# --- collecting ----------------------------------------------------------------------------


def _get(client: Http, path: str) -> Any:
    try:
        response = client.get(path)
    except httpx2.TransportError as exc:
        raise ReportError(f"GET {path}: {exc}") from exc
    if response.status_code >= 400:
        raise ReportError(f"GET {path} -> {response.status_code}: {response.text[:300]}")
    return response.json()


def _stream_lines(client: Http, path: str) -> Iterator[str]:
    try:
        with client.stream("GET", path) as response:
            if response.status_code >= 400:
                response.read()
                raise ReportError(f"GET {path} -> {response.status_code}: {response.text[:300]}")
            yield from response.iter_lines()
    except httpx2.TransportError as exc:
        raise ReportError(f"GET {path}: {exc}") from exc


def contacts_per_bucket(lines: Iterable[str], bucket_seconds: int) -> list[tuple[int, int]]:
    """Count ``t i j`` lines per bucket of ``t``; every bucket from the first to the last.

    Lines that are not three integers are skipped (the export writes none).
    """
    counts: Counter[int] = Counter()
    for line in lines:
        parts = line.split()
        if len(parts) != 3 or not parts[0].isdigit():  # t >= 0 seconds
            continue
        counts[int(parts[0]) // bucket_seconds] += 1
    if not counts:
        return []
    first, last = min(counts), max(counts)
    return [(k * bucket_seconds, counts[k]) for k in range(first, last + 1)]


def pair_contact_seconds(lines: Iterable[str]) -> list[int]:
    """The ``total_contact_seconds`` column of a network CSV (header row first)."""
    rows = csv.reader(line + "\n" for line in lines)  # keeps quoted line breaks in names
    header = next(rows, None)
    if header is None or "total_contact_seconds" not in header:
        return []
    column = header.index("total_contact_seconds")
    return [int(row[column]) for row in rows if len(row) > column and row[column].isdigit()]


def collect(client: Http, event: str, bucket_seconds: int = BUCKET_SECONDS) -> EventReport:
    """Gather an event's report through the organizer API (``client`` is authenticated).

    Raises:
        ReportError: a request failed (unknown event, wrong token, server down).
    """
    base = f"/events/{event}"
    return EventReport(
        event=_get(client, base),
        stats=_get(client, f"{base}/stats"),
        network=_get(client, f"{base}/stats/network"),
        contacts=contacts_per_bucket(_stream_lines(client, f"{base}/contacts.tij"), bucket_seconds),
        pair_seconds=pair_contact_seconds(_stream_lines(client, f"{base}/network.csv")),
        bucket_seconds=bucket_seconds,
    )


# --- rendering -----------------------------------------------------------------------------


def escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def tiles(pairs: Iterable[tuple[str, str]]) -> str:
    cells = "".join(
        f'<div class="tile"><div class="v">{escape(v)}</div><div class="k">{escape(k)}</div></div>'
        for k, v in pairs
    )
    return f'<div class="tiles">{cells}</div>'


def section(title: str, body: str, note: str = "") -> str:
    caption = f'<p class="note">{escape(note)}</p>' if note else ""
    return f"<section><h2>{escape(title)}</h2>{caption}{body}</section>"


def _empty(what: str) -> str:
    return f'<p class="empty">No {escape(what)} yet.</p>'


def _overview(report: EventReport) -> str:
    stats = report.stats
    connected = int(report.network.get("connected_pairs", 0))
    return tiles(
        [
            ("attendees", f"{int(stats.get('attendees', 0)):,}"),
            ("meetings", f"{int(stats.get('meetings', 0)):,}"),
            ("of which taps", f"{int(stats.get('taps', 0)):,}"),
            ("connections", f"{int(stats.get('connections', 0)):,}"),
            ("time together", duration(float(stats.get("total_contact_seconds", 0)))),
            ("contacts per attendee", f"{float(report.network.get('mean_contacts', 0)):.1f}"),
            ("connected pairs", f"{connected:,}"),
            ("check-ins", f"{int(stats.get('checkins', 0)):,}"),
        ]
    )


def _contacts_over_time(report: EventReport) -> str:
    if not report.contacts:
        return section("Contacts over time", _empty("proximity contacts"))
    minutes = [start / 60 for start, _ in report.contacts]
    windows = int(report.event.get("settings", {}).get("window_seconds", 20)) or 20
    per_bucket = report.bucket_seconds / windows
    pairs = [count / per_bucket for _, count in report.contacts]
    svg = charts.line_chart(
        minutes, pairs, xlabel="minutes since the first contact", ylabel="pairs in contact"
    )
    return section(
        "Contacts over time",
        svg,
        f"Pairs of attendees in verified face-to-face contact, averaged over "
        f"{duration(report.bucket_seconds)} buckets.",
    )


def _attendance(report: EventReport) -> str:
    hours = list(report.stats.get("attendance_per_hour", []))
    if not hours:
        return section("Attendance", _empty("check-ins"))
    labels = [str(h["hour"])[11:16] for h in hours]
    svg = charts.bar_chart(
        labels,
        [int(h["entries"]) for h in hours],
        second=[int(h["exits"]) for h in hours],
        legend=("entries", "exits"),
        xlabel="hour (UTC)",
        ylabel="check-ins",
    )
    inside = ", ".join(
        f"{label} {int(h['inside'])}" for label, h in zip(labels, hours, strict=True)
    )
    return section("Attendance", svg, f"People inside at the end of each hour: {inside}.")


def _network(report: EventReport) -> str:
    degrees = sorted(report.network.get("degree_distribution", []), key=lambda d: d["contacts"])
    if not degrees:
        return section("Contact network", _empty("connections"))
    svg = charts.bar_chart(
        [str(d["contacts"]) for d in degrees],
        [int(d["attendees"]) for d in degrees],
        xlabel="contacts (people met)",
        ylabel="attendees",
    )
    rows = "".join(
        f"<tr><td>{rank}</td><td>{escape(c.get('name', ''))}</td><td>{int(c['contacts'])}</td></tr>"
        for rank, c in enumerate(list(report.network.get("most_connected", []))[:_TOP], start=1)
    )
    table = (
        f"<table><tr><th>#</th><th>most connected</th><th>contacts</th></tr>{rows}</table>"
        if rows
        else ""
    )
    return section("Contact network", svg + table, "How many people each attendee met.")


def _time_together(report: EventReport) -> str:
    if not report.pair_seconds:
        return section("Time together", _empty("connections"))
    svg = charts.log_histogram(
        report.pair_seconds, xlabel="total time together per pair", ylabel="pairs"
    )
    ordered = sorted(report.pair_seconds)
    median = ordered[len(ordered) // 2]
    return section(
        "Time together",
        svg,
        f"{len(ordered):,} pairs; median {duration(median)}, longest {duration(ordered[-1])}.",
    )


def _detection(detection: Detection) -> str:
    body = tiles(
        [
            ("precision", f"{detection.precision:.3f}"),
            ("recall", f"{detection.recall:.3f}"),
            ("connections found", f"{detection.connections:,}"),
            ("true connections", f"{detection.true_connections:,}"),
            ("reports sent", f"{detection.reports_sent:,}"),
            ("reports accepted", f"{detection.reports_accepted:,}"),
        ]
    )
    if detection.rejected:
        body += charts.bar_chart(
            list(detection.rejected),
            list(detection.rejected.values()),
            xlabel="rejection reason",
            ylabel="messages",
        )
    if detection.checkins:
        body += charts.bar_chart(
            list(detection.checkins),
            list(detection.checkins.values()),
            xlabel="check-in outcome",
            ylabel="taps",
        )
    return section(
        "Detection against the simulator's ground truth",
        body,
        "Precision: share of the linked pairs that truly met; recall: share of the true "
        "connections that were linked.",
    )


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.sub,.note{color:#666}.empty{color:#999;font-style:italic}
.tiles{display:flex;flex-wrap:wrap;gap:.6rem}.tile{background:#f3f6f9;border-radius:6px;
padding:.5rem .9rem;min-width:8rem}.v{font-size:1.4rem;font-weight:600}
.k{color:#555;font-size:.85rem}
table{border-collapse:collapse;margin-top:.8rem}td,th{padding:.2rem .8rem;text-align:left;
border-bottom:1px solid #eee}svg{max-width:100%;height:auto}
"""


def render_html(
    report: EventReport, detection: Detection | None = None, generated: datetime | None = None
) -> str:
    """Return the report page (self-contained HTML; every server value is escaped)."""
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    name = report.event.get("name") or report.event.get("id", "event")
    parts = [
        f"<h1>{escape(name)}</h1>",
        f'<p class="sub">event {escape(report.event.get("id", ""))} · report generated {when}</p>',
        _overview(report),
        _contacts_over_time(report),
        _attendance(report),
        _network(report),
        _time_together(report),
    ]
    if detection is not None:
        parts.append(_detection(detection))
    return html_page(f"{name}: inperson report", parts)


def html_page(title: str, parts: Iterable[str]) -> str:
    """Return a self-contained page: ``title`` (escaped here) and already-escaped ``parts``."""
    body = "\n".join(parts)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def write_report(path: Path, report: EventReport, detection: Detection | None = None) -> Path:
    """Write the page to ``path`` (parents created) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, detection), encoding="utf-8")
    return path
