"""Organizer exports of the whole contact network: CSV, GraphML and SocioPatterns ``t i j``.

All three stream: rows are read from the database in chunks (``yield_per``) inside
the generator, which owns its session, so a large event is never held in memory.
Only the event's attendee table (names or pseudonyms) is loaded up front.

- ``network.csv`` and ``network.graphml``: one row/edge per *connected* pair (the
  linking rule of ``server.services.linking``), with attendee ids, names and
  companies (never contact details), total and proximity contact time, meetings,
  taps, first and last met. The organizer already holds this data.
- ``contacts.tij``: the research export. One line ``t i j`` per 20-second contact
  window (the event's window), like the SocioPatterns data sets: ``t`` is seconds
  since the event's first contact window, ``i < j`` are pseudonyms 1..N assigned in
  the order of a keyed hash of the attendee ids under a fresh random key per export,
  so two exports cannot be linked to each other or to the attendee list. Only
  proximity meetings are included (taps are not contacts in this sense). Meetings are
  stored as runs: a run of ``windows`` windows is written as ``windows`` consecutive
  windows from its first one (bridged gaps are not stored, so their position is lost;
  per-pair totals are exact).
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import hmac
import io
from collections.abc import Callable, Iterator
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from server.models import Attendee, Badge, Event, Meeting
from server.services.events import detection_settings_of
from server.services.exports import iso_utc, neutralise
from server.services.linking import linked_pairs_query

Sessions = Callable[[], Session]
"""Opens a new session (``Database.session``); each export generator owns one."""

NETWORK_COLUMNS = (
    "attendee_a",
    "name_a",
    "company_a",
    "attendee_b",
    "name_b",
    "company_b",
    "first_met",
    "last_met",
    "total_contact_seconds",
    "proximity_seconds",
    "meetings",
    "taps",
)
_CHUNK = 2000


def _people(session: Session, event_id: str) -> dict[int, tuple[str, str]]:
    query = select(Attendee.id, Attendee.name, Attendee.company).where(
        Attendee.event_id == event_id
    )
    return {row[0]: (row[1], row[2] or "") for row in session.execute(query)}


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([neutralise(v) for v in values])
    return buffer.getvalue()


def render_network_csv(sessions: Sessions, event: Event) -> Iterator[str]:
    """Yield the event's connected pairs as CSV (``NETWORK_COLUMNS``), lowest ids first."""
    yield _csv_line(list(NETWORK_COLUMNS))
    with sessions() as session:
        people = _people(session, event.id)
        query = linked_pairs_query(event).order_by("low", "high")
        for row in session.execute(query, execution_options={"yield_per": _CHUNK}):
            low, high, proximity, total, meetings, taps, first, last = row
            name_a, company_a = people.get(low, ("", ""))
            name_b, company_b = people.get(high, ("", ""))
            yield _csv_line(
                [
                    str(low),
                    name_a,
                    company_a,
                    str(high),
                    name_b,
                    company_b,
                    iso_utc(first),
                    iso_utc(last),
                    str(total),
                    str(proximity),
                    str(meetings),
                    str(taps),
                ]
            )


_GRAPHML_KEYS = (
    ("name", "node", "string"),
    ("company", "node", "string"),
    ("first_met", "edge", "string"),
    ("last_met", "edge", "string"),
    ("total_contact_seconds", "edge", "long"),
    ("proximity_seconds", "edge", "long"),
    ("meetings", "edge", "int"),
    ("taps", "edge", "int"),
)


def _data(key: str, value: object) -> str:
    return f'<data key="{key}">{escape(str(value))}</data>'


def render_graphml(sessions: Sessions, event: Event) -> Iterator[str]:
    """Yield the event's contact network as GraphML: every attendee a node, every link an edge."""
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
        'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
    )
    for key, domain, kind in _GRAPHML_KEYS:
        yield f'<key id="{key}" for="{domain}" attr.name="{key}" attr.type="{kind}"/>\n'
    yield f'<graph id={quoteattr(event.id)} edgedefault="undirected">\n'
    with sessions() as session:
        for attendee_id, (name, company) in sorted(_people(session, event.id).items()):
            yield (
                f'<node id="a{attendee_id}">{_data("name", name)}'
                f"{_data('company', company)}</node>\n"
            )
        query = linked_pairs_query(event).order_by("low", "high")
        for row in session.execute(query, execution_options={"yield_per": _CHUNK}):
            low, high, proximity, total, meetings, taps, first, last = row
            yield (
                f'<edge source="a{low}" target="a{high}">'
                f"{_data('first_met', iso_utc(first))}{_data('last_met', iso_utc(last))}"
                f"{_data('total_contact_seconds', total)}{_data('proximity_seconds', proximity)}"
                f"{_data('meetings', meetings)}{_data('taps', taps)}</edge>\n"
            )
    yield "</graph>\n</graphml>\n"


def pseudonyms(attendee_ids: list[int], key: bytes) -> dict[int, int]:
    """Return attendee id -> 1..N, ordered by a keyed hash (unlinkable without the key)."""

    def keyed(attendee_id: int) -> bytes:
        return hmac.new(key, str(attendee_id).encode(), hashlib.sha256).digest()

    ordered = sorted(attendee_ids, key=keyed)
    return {attendee_id: rank for rank, attendee_id in enumerate(ordered, start=1)}


def render_tij(sessions: Sessions, event: Event, key: bytes) -> Iterator[str]:
    """Yield ``t i j`` lines (one per contact window), ordered by ``t``, anonymised.

    Args:
        key: a fresh random key for the pseudonyms of this export.
    """
    window = detection_settings_of(event).window_seconds
    badge_a = aliased(Badge)
    badge_b = aliased(Badge)
    with sessions() as session:
        ids = list(session.scalars(select(Attendee.id).where(Attendee.event_id == event.id)))
        names = pseudonyms(ids, key)
        query = (
            select(Meeting.first_seen, Meeting.windows, badge_a.attendee_id, badge_b.attendee_id)
            .join(badge_a, badge_a.id == Meeting.badge_a)
            .join(badge_b, badge_b.id == Meeting.badge_b)
            .where(Meeting.event_id == event.id, Meeting.kind == "proximity")
            .where(badge_a.attendee_id != badge_b.attendee_id)
            .order_by(Meeting.first_seen, Meeting.id)
        )
        # runs are read in order of their first window; a heap holds the open runs
        # so that lines come out ordered by t with memory bounded by concurrent runs
        heap: list[tuple[int, int, int, int]] = []
        origin: int | None = None
        for first, windows, x, y in session.execute(query, execution_options={"yield_per": _CHUNK}):
            if origin is None:
                origin = first
            while heap and heap[0][0] < first:
                yield _pop_window(heap, window, origin)
            if windows > 0:
                i, j = sorted((names[x], names[y]))
                heapq.heappush(heap, (first, i, j, windows))
        while heap:
            assert origin is not None
            yield _pop_window(heap, window, origin)


def _pop_window(heap: list[tuple[int, int, int, int]], window: int, origin: int) -> str:
    t, i, j, remaining = heapq.heappop(heap)
    if remaining > 1:
        heapq.heappush(heap, (t + window, i, j, remaining - 1))
    return f"{t - origin} {i} {j}\n"
