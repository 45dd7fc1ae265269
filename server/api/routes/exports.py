"""Attendee export ("people I met") as a CSV download."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from server.api.openapi import ERROR_RESPONSES
from server.api.routes.attendees import AttendeeId
from server.deps import OwnedEvent, SessionDep
from server.services.attendees import get_attendee
from server.services.exports import export_rows, render_csv

router = APIRouter(prefix="/events/{event}/attendees", tags=["exports"], responses=ERROR_RESPONSES)


@router.get(
    "/{attendee_id}/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def get_export(
    event: OwnedEvent, attendee_id: AttendeeId, session: SessionDep
) -> StreamingResponse:
    """CSV of the attendee's connections: name, company, email, first/last met, minutes, how."""
    attendee = get_attendee(session, event.id, attendee_id)
    # rows are computed now, while the session is open; only rendering is streamed
    rows = export_rows(session, event, attendee)
    filename = f"{event.id}-{attendee.id}-connections.csv"
    return StreamingResponse(
        render_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
