"""The attendee export as it was before its speed work, to compare the server against.

A deliberately plain statement: every meeting of the event is read and folded per other
attendee in Python (no per-badge index, no SQL), people are ORM objects, and the bodies
are rendered one entry at a time with ``datetime.isoformat`` and ``csv.DictWriter``-like
dict rows, and one vobject card built per person, as ``server.services.exports`` did.
The consent rule is reused (``test_consent`` checks it against its own oracle).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import msgspec
import vobject
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Attendee, Badge, Event, Meeting
from server.services.consent import Contact, visible_contact
from server.services.events import detection_settings_of
from server.services.exports import EXPORT_COLUMNS, ExportEntry


def reference_iso(seconds: int) -> str:
    """ISO 8601 UTC with ``Z``, through ``datetime`` (the old ``iso_utc``)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def reference_entries(session: Session, event: Event, viewer_id: int) -> list[ExportEntry]:
    """The viewer's entries from every meeting of the event, folded naively."""
    owner = {b: a for b, a in session.execute(select(Badge.id, Badge.attendee_id))}
    with_other: dict[int, list[Meeting]] = defaultdict(list)
    for m in session.scalars(select(Meeting).where(Meeting.event_id == event.id)):
        a, b = owner[m.badge_a], owner[m.badge_b]
        if a != b and viewer_id in (a, b):
            with_other[b if a == viewer_id else a].append(m)
    threshold = detection_settings_of(event).link_threshold_seconds
    rows: list[tuple[tuple[int, int, int], ExportEntry]] = []
    for other_id, meetings in with_other.items():
        proximity = sum(m.contact_seconds for m in meetings if m.kind == "proximity")
        taps = sum(1 for m in meetings if m.kind == "tap")
        if proximity < threshold and taps == 0:
            continue
        other = session.get(Attendee, other_id)
        assert other is not None
        contact = visible_contact(other, is_tapped=taps > 0)
        if contact is None:
            continue
        has_proximity = len(meetings) > taps
        how = "tap+proximity" if taps and has_proximity else "tap" if taps else "proximity"
        total = sum(m.contact_seconds for m in meetings)
        first = min(m.first_seen for m in meetings)
        entry = ExportEntry(
            contact=contact,
            first_met=first,
            last_met=max(m.last_seen for m in meetings),
            total_contact_seconds=total,
            meetings=len(meetings),
            taps=taps,
            where=sorted({m.zone for m in meetings if m.zone}),
            how=how,
        )
        rows.append(((-total, first, other_id), entry))
    return [entry for _, entry in sorted(rows, key=lambda r: r[0])]


def reference_csv(entries: list[ExportEntry]) -> str:
    """The CSV body, one dict row at a time (the old ``export_row`` and ``render_csv``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for e in entries:
        c = e.contact
        row = {
            "name": c.name,
            "company": c.company or "",
            "title": c.title or "",
            "email": c.email or "",
            "phone": c.phone or "",
            "first_met": reference_iso(e.first_met),
            "last_met": reference_iso(e.last_met),
            "total_minutes": f"{e.total_contact_seconds / 60:.1f}",
            "meetings": str(e.meetings),
            "where": "; ".join(e.where),
            "how": e.how,
        }
        formula = ("=", "+", "-", "@", "\t", "\r")
        writer.writerow(["'" + row[k] if row[k].startswith(formula) else row[k] for k in row])
    return buffer.getvalue()


def reference_json(entries: list[ExportEntry], event: Event, viewer: Attendee) -> str:
    """The JSON body, one encode per entry (the old ``entry_json`` and ``render_json``)."""
    own = {
        k: getattr(viewer, k)
        for k in ("name", "company", "title", "email", "phone", "share_level", "share_with")
    }
    items: list[dict[str, Any]] = []
    for e in entries:
        c: Contact = e.contact
        person = {k: v for k, v in c._asdict().items() if v is not None}
        items.append(
            {
                **person,
                "first_met": reference_iso(e.first_met),
                "last_met": reference_iso(e.last_met),
                "total_contact_seconds": e.total_contact_seconds,
                "meetings": e.meetings,
                "taps": e.taps,
                "where": e.where,
                "how": e.how,
            }
        )
    document = {"event": {"id": event.id, "name": event.name}, "attendee": own}
    head = msgspec.json.encode(document).decode()[:-1] + ',"connections":['
    return head + ",".join(msgspec.json.encode(i).decode() for i in items) + "]}"


def reference_vcard(e: ExportEntry, event: Event) -> str:
    """One card built for one person with vobject (the old ``vcard_of``)."""
    c = e.contact
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
    minutes = f"{e.total_contact_seconds / 60:.1f}"
    where = ", ".join(e.where) or "unknown zone"
    card.add("note").value = (
        f"Met at {event.name} ({e.how}), first {reference_iso(e.first_met)}, "
        f"{minutes} min together, in {where}."
    )
    card.add("x-inperson-first-met").value = reference_iso(e.first_met)
    card.add("x-inperson-last-met").value = reference_iso(e.last_met)
    card.add("x-inperson-total-seconds").value = str(e.total_contact_seconds)
    card.add("x-inperson-how").value = e.how
    card.add("x-inperson-where").value = "; ".join(e.where)
    text: str = card.serialize()
    return text


def reference_bodies(session: Session, event_id: str, viewer_id: int) -> dict[str, str]:
    """The viewer's CSV, vCard and JSON export bodies, computed the plain way."""
    event = session.get(Event, event_id)
    viewer = session.get(Attendee, viewer_id)
    assert event is not None and viewer is not None
    entries = reference_entries(session, event, viewer_id)
    return {
        "csv": reference_csv(entries),
        "vcf": "".join(reference_vcard(e, event) for e in entries),
        "json": reference_json(entries, event, viewer),
    }
