"""Attendee exports ("people I met") as CSV, vCard 4.0 and JSON, filtered by consent.

Each entry is one connection of the viewer: the other person's details as their
consent allows (``server.services.consent``), first and last time met, total time
together, where and how (``tap``, ``proximity`` or ``tap+proximity``). People who
share nothing with the viewer are left out. Renderers are generators, so the HTTP
layer streams them.

An export reads two plain queries, the viewer's meetings (``linking.linked_totals_of``)
and the people met with their consent columns (``people``), and builds named tuples
rather than ORM objects or frozen dataclasses: docs/performance.md has the step-by-step
figures (``bench.export_profile``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import islice
from typing import Any, NamedTuple

import msgspec
import vobject
from sqlalchemy.orm import Session

from server.models import Attendee, Event
from server.services.consent import Contact, visible_contact
from server.services.linking import Totals, linked_totals_of

EXPORT_COLUMNS = (
    "name",
    "company",
    "title",
    "email",
    "phone",
    "first_met",
    "last_met",
    "total_minutes",
    "meetings",
    "where",
    "how",
)
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def utc_datetime(seconds: int) -> datetime:
    """Return event-time seconds (Unix time) as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


@lru_cache(maxsize=1024)
def _iso_day(days: int) -> str:
    return utc_datetime(days * 86_400).date().isoformat()


_ISO_HOURS = [f"T{h:02d}:" for h in range(24)]
_ISO_MINUTES_SECONDS = [f"{m:02d}:{s:02d}Z" for m in range(60) for s in range(60)]


def iso_utc(seconds: int) -> str:
    """Return event-time seconds as ISO 8601 UTC, e.g. ``2024-05-01T09:30:00Z``.

    The same text as ``utc_datetime(seconds).isoformat()`` with ``Z`` for ``+00:00``,
    built from a cached date and precomputed time pieces (an export formats two times per
    person met; this is ~3 times as fast).
    """
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    return _iso_day(days) + _ISO_HOURS[hours] + _ISO_MINUTES_SECONDS[rest]


class Person(NamedTuple):
    """The columns of another attendee that an export reads (``consent.Sharer``).

    Attributes:
        erased_at: the stored erasure time, as the database returns it (only whether it
            is set is read).
    """

    id: int
    name: str
    company: str | None
    title: str | None
    email: str | None
    phone: str | None
    share_level: str
    share_with: str
    erased_at: object


_PERSON_COLUMNS = ", ".join(
    ("id", "name", "company", "title", "email", "phone", "share_level", "share_with", "erased_at")
)


def people(session: Session, ids: Iterable[int]) -> dict[int, Person]:
    """Return the people with these attendee ids, with their consent: one query.

    Plain SQL through the DBAPI (the ids are integers written into the query): loading
    the same ~800 people as ``Attendee`` objects took ~6 times as long on SQLite.
    """
    listed = ", ".join(str(int(i)) for i in ids)
    if not listed:
        return {}
    query = f"SELECT {_PERSON_COLUMNS} FROM {Attendee.__tablename__} WHERE id IN ({listed})"
    rows = session.connection().exec_driver_sql(query).all()
    return {row[0]: Person(*row) for row in rows}


class ExportEntry(NamedTuple):
    """One person in a viewer's export, with only the details they consented to show.

    A named tuple, like ``Contact``: an export builds one per person met.
    """

    contact: Contact
    first_met: int
    last_met: int
    total_contact_seconds: int
    meetings: int
    taps: int
    where: list[str]
    how: str


def _how(meetings: int, taps: int) -> str:
    """``"tap"``, ``"proximity"`` or ``"tap+proximity"`` (as ``linking.Connection.how``)."""
    if taps and meetings > taps:
        return "tap+proximity"
    return "tap" if taps else "proximity"


def export_entries(session: Session, event: Event, viewer: Attendee) -> list[ExportEntry]:
    """Return the viewer's export entries, longest total contact first.

    The same entries, in the same order, as folding ``linking.connections_of``: the
    connections come from ``linked_totals_of``, the people met from one plain query
    (``people``), then ``entries_of`` applies consent.
    """
    totals = linked_totals_of(session, event, viewer.id)
    return entries_of(totals, people(session, totals))


def entries_of(totals: dict[int, Totals], met: dict[int, Person]) -> list[ExportEntry]:
    """Return the entries of these connections, longest total contact first (then first met,
    then attendee id), consent applied: people who share nothing with the viewer are left out.

    Args:
        totals: the viewer's connections, by other attendee id (``linked_totals_of``).
        met: the people of ``totals`` (``people``).
    """
    order = sorted(
        totals.items(), key=lambda i: (-i[1].total_contact_seconds, i[1].first_seen, i[0])
    )
    entries = []
    for other_id, t in order:
        contact = visible_contact(met[other_id], is_tapped=t.taps > 0)
        if contact is None:
            continue
        entry = ExportEntry(
            contact,
            t.first_seen,
            t.last_seen,
            t.total_contact_seconds,
            t.meetings,
            t.taps,
            t.zones,
            _how(t.meetings, t.taps),
        )
        entries.append(entry)
    return entries


def export_row(entry: ExportEntry) -> list[str]:
    """Return one CSV row for an entry: its cells in ``EXPORT_COLUMNS`` order."""
    c = entry.contact
    return [
        c.name,
        c.company or "",
        c.title or "",
        c.email or "",
        c.phone or "",
        iso_utc(entry.first_met),
        iso_utc(entry.last_met),
        f"{entry.total_contact_seconds / 60:.1f}",
        str(entry.meetings),
        "; ".join(entry.where),
        entry.how,
    ]


def neutralise(cell: str) -> str:
    """Return a CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_PREFIXES) else cell


_CSV_LINES_PER_PIECE = 256


def render_csv(rows: Iterable[Sequence[str]]) -> Iterator[str]:
    """Yield the CSV text: a header, then the rows, ``_CSV_LINES_PER_PIECE`` lines a piece.

    Rows are cells in ``EXPORT_COLUMNS`` order (``export_row``), each ``neutralise``d and
    written with ``csv.writer`` a piece at a time (a ``DictWriter`` and one piece per line
    took about twice as long).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue()
    rows = iter(rows)
    while piece := list(islice(rows, _CSV_LINES_PER_PIECE)):
        buffer.seek(0)
        buffer.truncate()
        # neutralise, inlined (a call per cell cost a fifth of the rendering)
        writer.writerows(
            ["'" + c if c.startswith(_FORMULA_PREFIXES) else c for c in row] for row in piece
        )
        yield buffer.getvalue()


def vcard_of(entry: ExportEntry, event: Event) -> str:
    """Return one entry as a vCard 4.0 (RFC 6350) text, built with vobject (``render_vcards``).

    How and when they met goes in ``NOTE`` for people and in ``X-INPERSON-*`` for programs.
    """
    return next(render_vcards([entry], event))


_CARD_OPTIONAL = ("org", "title", "email", "tel")
"""The properties of a card present only when the contact has a (non-empty) value."""
_CARD_TAIL = (
    "note",
    "x-inperson-first-met",
    "x-inperson-last-met",
    "x-inperson-total-seconds",
    "x-inperson-how",
    "x-inperson-where",
)


def _blank_card(present: tuple[bool, bool, bool, bool]) -> tuple[Any, list[Any]]:
    """Return a vobject vCard with the properties of ``present`` and its lines to fill.

    Lines are added in the order a card lists them: ``FN``, ``N``, the optional ones of
    ``_CARD_OPTIONAL`` that are present, then ``_CARD_TAIL``.
    """
    card = vobject.vCard()
    card.add("version").value = "4.0"
    lines = [card.add("fn"), card.add("n")]
    card.add("kind").value = "individual"
    lines += [card.add(name) for name, on in zip(_CARD_OPTIONAL, present, strict=True) if on]
    lines += [card.add(name) for name in _CARD_TAIL]
    return card, lines


def render_vcards(entries: Iterable[ExportEntry], event: Event) -> Iterator[str]:
    """Yield one vCard 4.0 per entry (a .vcf file is their concatenation), built with vobject.

    One vobject card per set of present properties is built for the whole export, then
    refilled and serialized for each person: the same text as a card built per person,
    in ~60 % of the time (building a card cost as much as serializing it).
    """
    cards: dict[tuple[bool, bool, bool, bool], tuple[Any, list[Any]]] = {}
    for entry in entries:
        c = entry.contact
        present = (bool(c.company), bool(c.title), bool(c.email), bool(c.phone))
        card, lines = cards.get(present) or cards.setdefault(present, _blank_card(present))
        optional = ([c.company], c.title, c.email, c.phone)
        first_met = iso_utc(entry.first_met)
        minutes = f"{entry.total_contact_seconds / 60:.1f}"
        where = ", ".join(entry.where) or "unknown zone"
        values = [
            c.name,
            vobject.vcard.Name(given=c.name),
            *(value for value, on in zip(optional, present, strict=True) if on),
            f"Met at {event.name} ({entry.how}), first {first_met}, "
            f"{minutes} min together, in {where}.",
            first_met,
            iso_utc(entry.last_met),
            str(entry.total_contact_seconds),
            entry.how,
            "; ".join(entry.where),
        ]
        for line, value in zip(lines, values, strict=True):
            line.value = value
        text: str = card.serialize()
        yield text


def entry_json(entry: ExportEntry) -> dict[str, object]:
    """Return an entry as a JSON-ready mapping (hidden details are absent, not null)."""
    c = entry.contact
    item: dict[str, object] = {"name": c.name}
    if c.company is not None:
        item["company"] = c.company
    if c.title is not None:
        item["title"] = c.title
    if c.email is not None:
        item["email"] = c.email
    if c.phone is not None:
        item["phone"] = c.phone
    item["first_met"] = iso_utc(entry.first_met)
    item["last_met"] = iso_utc(entry.last_met)
    item["total_contact_seconds"] = entry.total_contact_seconds
    item["meetings"] = entry.meetings
    item["taps"] = entry.taps
    item["where"] = entry.where
    item["how"] = entry.how
    return item


def render_json(entries: Iterable[ExportEntry], event: Event, viewer: Attendee) -> Iterator[str]:
    """Yield ``{"event", "attendee", "connections": [...]}`` piece by piece.

    ``attendee`` is the viewer's own data (what an erasure removes), so this is also the
    "export my data" answer.
    """
    own = {
        "name": viewer.name,
        "company": viewer.company,
        "title": viewer.title,
        "email": viewer.email,
        "phone": viewer.phone,
        "share_level": viewer.share_level,
        "share_with": viewer.share_with,
    }
    head = {"event": {"id": event.id, "name": event.name}, "attendee": own}
    yield _json_text(head)[:-1] + ',"connections":['
    entries = iter(entries)
    separator = ""
    while piece := list(islice(entries, _JSON_ENTRIES_PER_PIECE)):
        # one encode per piece: a list's items joined by "," exactly as encoded one by one
        yield separator + _json_text([entry_json(e) for e in piece])[1:-1]
        separator = ","
    yield "]}"


_JSON_ENTRIES_PER_PIECE = 256


def _json_text(value: object) -> str:
    """Return compact JSON text, UTF-8 kept as is (msgspec: several times ``json.dumps``)."""
    return msgspec.json.encode(value).decode()
