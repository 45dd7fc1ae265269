"""Organizer routes for attendees: JSON and CSV imports, search, connections."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response, status

from server.api.body import csv_body
from server.api.openapi import ERROR_RESPONSES
from server.deps import (
    LinkSecretDep,
    NowDep,
    OwnedEvent,
    SessionDep,
    SettingsDep,
    TokenBytesDep,
)
from server.schemas import (
    MAX_IMPORT_ROWS,
    NO_NUL,
    AttendeeLinkOut,
    AttendeeOut,
    AttendeeUpdate,
    ConnectionOut,
    ImportResult,
)
from server.services.attendees import (
    active_badge,
    get_attendee,
    import_attendees,
    list_attendees,
    parse_csv,
    update_attendee,
)
from server.services.erasure import erase_attendee
from server.services.exports import utc_datetime
from server.services.linking import connections_of
from server.services.links import issue_link

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


_ROWS_EXAMPLE = [
    {
        "name": "Ada Lovelace",
        "company": "Analytical Engines",
        "email": "ada@example.org",
        "title": "Engineer",
        "external_id": "A-1",
        "share_level": "full",
        "share_with": "met",
    },
    {"name": "Bob Byte", "company": "Byte Corp"},
]


@router.post("")
def post_attendees(
    event: OwnedEvent,
    session: SessionDep,
    now: NowDep,
    rows: Annotated[list[Any], Body(max_length=MAX_IMPORT_ROWS, examples=[_ROWS_EXAMPLE])],
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

    Columns: name (required), company, email, phone, title, external_id, share_level
    (none, name_company, full), share_with (tapped, met); others are ignored.
    """
    return import_attendees(session, event.id, parse_csv(body), now)


@router.get("")
def get_attendees(
    event: OwnedEvent,
    session: SessionDep,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=NO_NUL, description="Name/company/email substring."),
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


@router.post("/{attendee_id}/link", status_code=status.HTTP_201_CREATED)
def post_link(
    event: OwnedEvent,
    attendee_id: AttendeeId,
    session: SessionDep,
    settings: SettingsDep,
    secret: LinkSecretDep,
    now: NowDep,
) -> AttendeeLinkOut:
    """Issue the attendee's personal self-service link (send it to them, e.g. by email)."""
    attendee = get_attendee(session, event.id, attendee_id)
    link = issue_link(secret, attendee, now + timedelta(days=settings.link_valid_days))
    return AttendeeLinkOut(
        token=link.token,
        path=f"/api/v1/me/{link.token}",
        expires_at=utc_datetime(link.expires_at),
    )


@router.delete("/{attendee_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_attendee(
    event: OwnedEvent,
    attendee_id: AttendeeId,
    session: SessionDep,
    now: NowDep,
    token_bytes: TokenBytesDep,
) -> Response:
    """Erase the attendee's personal data (on their request); meetings and check-ins stay,
    pseudonymous."""
    erase_attendee(session, get_attendee(session, event.id, attendee_id), now, token_bytes)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch("/{attendee_id}")
def patch_attendee(
    body: AttendeeUpdate, event: OwnedEvent, attendee_id: AttendeeId, session: SessionDep
) -> AttendeeOut:
    """Change an attendee's registration data (consent is the attendee's own, via their link)."""
    attendee = get_attendee(session, event.id, attendee_id)
    update_attendee(session, attendee, body.model_dump(exclude_unset=True))
    badge = active_badge(session, attendee.id)
    return AttendeeOut.model_validate(attendee).model_copy(update={"badge": badge})
