"""Attendee exports ("people I met") as CSV.

``contact_fields`` is the single place deciding which of the other person's
details an export shows; consent rules (a later issue) change only that function.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from server.models import Attendee, Event
from server.services.linking import Connection, connections_of

EXPORT_COLUMNS = (
    "name",
    "company",
    "email",
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


def contact_fields(viewer: Attendee, connection: Connection) -> dict[str, str]:
    """Return the other person's details that ``viewer`` may see in an export.

    This is the consent seam: for now every connection shows name, company and email.

    Args:
        viewer: the attendee the export is for.
        connection: one of the viewer's connections.
    """
    other = connection.other
    return {"name": other.name, "company": other.company or "", "email": other.email or ""}


def export_row(viewer: Attendee, connection: Connection) -> dict[str, str]:
    """Return one CSV row (all ``EXPORT_COLUMNS``) for a connection."""
    return {
        **contact_fields(viewer, connection),
        "first_met": iso_utc(connection.first_seen),
        "last_met": iso_utc(connection.last_seen),
        "total_minutes": f"{connection.total_contact_seconds / 60:.1f}",
        "meetings": str(connection.meetings),
        "where": "; ".join(connection.zones),
        "how": connection.how,
    }


def export_rows(session: Session, event: Event, viewer: Attendee) -> list[dict[str, str]]:
    """Return the viewer's export rows, longest total contact first."""
    return [export_row(viewer, c) for c in connections_of(session, event, viewer.id)]


def _neutralise(cell: str) -> str:
    # a cell starting like a formula would run in a spreadsheet (CSV injection)
    return "'" + cell if cell.startswith(_FORMULA_PREFIXES) else cell


def render_csv(rows: Iterable[dict[str, str]]) -> Iterator[str]:
    """Yield the CSV text line by line: a header, then one line per row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow({k: _neutralise(v) for k, v in row.items()})
        yield buffer.getvalue()
