"""Attendee self-service through a signed personal link: own data, consent, exports, erasure.

The ``{link}`` path segment is the credential (see ``server.services.links``); it
names one attendee, and these routes act on that attendee only.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.responses import StreamingResponse

from server.api.export_responses import attendee_export, content_doc
from server.api.openapi import ERROR_RESPONSES
from server.deps import LinkAttendee, NowDep, SessionDep, TokenBytesDep
from server.errors import NotFound
from server.models import Event
from server.schemas import AttendeeSelf, Consent
from server.services.erasure import erase_attendee

router = APIRouter(prefix="/me/{link}", tags=["attendee self-service"], responses=ERROR_RESPONSES)

_PEOPLE = "The people you met, as each of them allows you to see them."


def _event(session: SessionDep, attendee: LinkAttendee) -> Event:
    event = session.get(Event, attendee.event_id)
    if event is None:  # resolve_link checked it; the event was deleted since
        raise NotFound("the event no longer exists", code="event_not_found")
    return event


@router.get("")
def get_me(attendee: LinkAttendee) -> AttendeeSelf:
    """Your own data and consent settings."""
    return AttendeeSelf.model_validate(attendee)


@router.put("/consent")
def put_consent(body: Consent, attendee: LinkAttendee, session: SessionDep) -> AttendeeSelf:
    """Choose what the people you met may see of you, and who of them."""
    attendee.share_level = body.share_level
    attendee.share_with = body.share_with
    session.commit()
    return AttendeeSelf.model_validate(attendee)


@router.get("/export.csv", response_class=StreamingResponse, responses=content_doc("csv", _PEOPLE))
def get_my_export_csv(attendee: LinkAttendee, session: SessionDep) -> StreamingResponse:
    """The people you met as CSV."""
    return attendee_export(session, _event(session, attendee), attendee, "csv")


@router.get("/export.vcf", response_class=StreamingResponse, responses=content_doc("vcf", _PEOPLE))
def get_my_export_vcf(attendee: LinkAttendee, session: SessionDep) -> StreamingResponse:
    """The people you met as vCard 4.0 (import them into your address book)."""
    return attendee_export(session, _event(session, attendee), attendee, "vcf")


@router.get(
    "/export.json", response_class=StreamingResponse, responses=content_doc("json", _PEOPLE)
)
def get_my_export_json(attendee: LinkAttendee, session: SessionDep) -> StreamingResponse:
    """The people you met as JSON."""
    return attendee_export(session, _event(session, attendee), attendee, "json")


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_me(
    attendee: LinkAttendee, session: SessionDep, now: NowDep, token_bytes: TokenBytesDep
) -> Response:
    """Erase your personal data (export it first); this link stops working."""
    erase_attendee(session, attendee, now, token_bytes)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
