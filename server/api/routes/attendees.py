"""Organizer routes for attendees: JSON and CSV imports, search, connections."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query

from server.api.body import csv_body
from server.api.openapi import ERROR_RESPONSES
from server.deps import NowDep, OwnedEvent, SessionDep
from server.schemas import MAX_IMPORT_ROWS, AttendeeOut, ConnectionOut, ImportResult
from server.services.attendees import get_attendee, import_attendees, list_attendees, parse_csv
from server.services.exports import utc_datetime
from server.services.linking import connections_of

router = APIRouter(
    prefix="/events/{event}/attendees", tags=["attendees"], responses=ERROR_RESPONSES
)

AttendeeId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Attendee id.")]

_CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "name,company,email,phone,title,external_id\n"
                "Ada Lovelace,Analytical Engines,ada@example.org,,Engineer,A-1\n",
            }
        },
    }
}


@router.post("")
def post_attendees(
    event: OwnedEvent,
    session: SessionDep,
    now: NowDep,
    rows: Annotated[list[Any], Body(max_length=MAX_IMPORT_ROWS)],
) -> ImportResult:
    """Import attendees from a JSON list; rows are numbered from 0, bad rows are reported."""
    return import_attendees(session, event.id, enumerate(rows), now)


@router.post("/import", openapi_extra=_CSV_BODY)
def post_attendees_csv(
    event: OwnedEvent,
    session: SessionDep,
    now: NowDep,
    body: Annotated[bytes, Depends(csv_body)],
) -> ImportResult:
    """Import attendees from UTF-8 CSV with a header row (header = row 1, data from row 2).

    Columns: name (required), company, email, phone, title, external_id; others are ignored.
    """
    return import_attendees(session, event.id, parse_csv(body), now)


@router.get("")
def get_attendees(
    event: OwnedEvent,
    session: SessionDep,
    q: Annotated[
        str | None, Query(max_length=200, description="Name/company/email substring.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> list[AttendeeOut]:
    """List attendees (with their active badge), optionally searched."""
    found = list_attendees(session, event.id, q=q, limit=limit, offset=offset)
    return [
        AttendeeOut.model_validate(attendee).model_copy(update={"badge": badge})
        for attendee, badge in found
    ]


@router.get("/{attendee_id}/connections")
def get_connections(
    event: OwnedEvent, attendee_id: AttendeeId, session: SessionDep
) -> list[ConnectionOut]:
    """The attendee's connections, longest total contact first."""
    attendee = get_attendee(session, event.id, attendee_id)
    return [
        ConnectionOut(
            attendee=c.other.id,
            name=c.other.name,
            company=c.other.company,
            first_met=utc_datetime(c.first_seen),
            last_met=utc_datetime(c.last_seen),
            total_contact_seconds=c.total_contact_seconds,
            meetings=c.meetings,
            tapped=c.is_tapped,
            where=c.zones,
        )
        for c in connections_of(session, event, attendee.id)
    ]
