"""Attendee exports ("people I met") as CSV, vCard 4.0 and JSON, filtered by consent.

Each entry is one connection of the viewer: the other person's details as their
consent allows (``server.services.consent``), first and last time met, total time
together, where and how (``tap``, ``proximity`` or ``tap+proximity``). People who
share nothing with the viewer are left out. Renderers are generators, so the HTTP
layer streams them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
import vobject
from sqlalchemy.orm import Session

from server.models import Attendee, Event
from server.services.consent import Contact, visible_contact
from server.services.linking import connections_of

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


def iso_utc(seconds: int) -> str:
    """Return event-time seconds as ISO 8601 UTC, e.g. ``2024-05-01T09:30:00Z``."""
    return utc_datetime(seconds).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class ExportEntry:
    """One person in a viewer's export, with only the details they consented to show."""

    contact: Contact
    first_met: int
    last_met: int
    total_contact_seconds: int
    meetings: int
    taps: int
    where: list[str]
    how: str


def export_entries(session: Session, event: Event, viewer: Attendee) -> list[ExportEntry]:
    """Return the viewer's export entries, longest total contact first.

    Connections whose other side shares nothing with the viewer are left out.
    """
    entries = []
    for connection in connections_of(session, event, viewer.id):
        contact = visible_contact(connection.other, is_tapped=connection.is_tapped)
        if contact is None:
            continue
        entries.append(
            ExportEntry(
                contact=contact,
                first_met=connection.first_seen,
                last_met=connection.last_seen,
                total_contact_seconds=connection.total_contact_seconds,
                meetings=connection.meetings,
                taps=connection.taps,
                where=connection.zones,
                how=connection.how,
            )
        )
    return entries


def export_row(entry: ExportEntry) -> dict[str, str]:
    """Return one CSV row (all ``EXPORT_COLUMNS``) for an entry."""
    c = entry.contact
    return {
        "name": c.name,
        "company": c.company or "",
        "title": c.title or "",
        "email": c.email or "",
        "phone": c.phone or "",
        "first_met": iso_utc(entry.first_met),
        "last_met": iso_utc(entry.last_met),
        "total_minutes": f"{entry.total_contact_seconds / 60:.1f}",
        "meetings": str(entry.meetings),
        "where": "; ".join(entry.where),
        "how": entry.how,
    }


def neutralise(cell: str) -> str:
    """Return a CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_PREFIXES) else cell


_CSV_LINES_PER_PIECE = 256


def render_csv(rows: Iterable[dict[str, str]]) -> Iterator[str]:
    """Yield the CSV text: a header, then the rows, ``_CSV_LINES_PER_PIECE`` lines a piece.

    Rows are written with ``csv.writer`` in ``EXPORT_COLUMNS`` order (a ``DictWriter``
    and one piece per line took about twice as long).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    lines = 0
    for row in rows:
        writer.writerow([neutralise(row[k]) for k in EXPORT_COLUMNS])
        lines += 1
        if lines == _CSV_LINES_PER_PIECE:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            lines = 0
    if lines:
        yield buffer.getvalue()


def vcard_of(entry: ExportEntry, event: Event) -> str:
    """Return one entry as a vCard 4.0 (RFC 6350) text, built with vobject.

    How and when they met goes in ``NOTE`` for people and in ``X-INPERSON-*`` for programs.
    """
    c = entry.contact
    card = vobject.vCard()
    card.add("version").value = "4.0"
    card.add("fn").value = c.name
    card.add("n").value = vobject.vcard.Name(given=c.name)
    card.add("kind").value = "individual"
    if c.company:
        card.add("org").value = [c.company]
    if c.title:
        card.add("title").value = c.title
    if c.email:
        card.add("email").value = c.email
    if c.phone:
        card.add("tel").value = c.phone
    minutes = f"{entry.total_contact_seconds / 60:.1f}"
    where = ", ".join(entry.where) or "unknown zone"
    card.add("note").value = (
        f"Met at {event.name} ({entry.how}), first {iso_utc(entry.first_met)}, "
        f"{minutes} min together, in {where}."
    )
    card.add("x-inperson-first-met").value = iso_utc(entry.first_met)
    card.add("x-inperson-last-met").value = iso_utc(entry.last_met)
    card.add("x-inperson-total-seconds").value = str(entry.total_contact_seconds)
    card.add("x-inperson-how").value = entry.how
    card.add("x-inperson-where").value = "; ".join(entry.where)
    text: str = card.serialize()
    return text


def render_vcards(entries: Iterable[ExportEntry], event: Event) -> Iterator[str]:
    """Yield one vCard 4.0 per entry (a .vcf file is their concatenation)."""
    for entry in entries:
        yield vcard_of(entry, event)


def entry_json(entry: ExportEntry) -> dict[str, object]:
    """Return an entry as a JSON-ready mapping (hidden details are absent, not null)."""
    c = entry.contact
    person = {
        k: v
        for k, v in (
            ("name", c.name),
            ("company", c.company),
            ("title", c.title),
            ("email", c.email),
            ("phone", c.phone),
        )
        if v is not None
    }
    return {
        **person,
        "first_met": iso_utc(entry.first_met),
        "last_met": iso_utc(entry.last_met),
        "total_contact_seconds": entry.total_contact_seconds,
        "meetings": entry.meetings,
        "taps": entry.taps,
        "where": entry.where,
        "how": entry.how,
    }


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
    for index, entry in enumerate(entries):
        yield ("," if index else "") + _json_text(entry_json(entry))
    yield "]}"


def _json_text(value: object) -> str:
    """Return compact JSON text, UTF-8 kept as is (msgspec: several times ``json.dumps``)."""
    return msgspec.json.encode(value).decode()
