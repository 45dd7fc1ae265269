"""Meeting ingest (gateway token) and the organizer's meeting list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from protocol.api import IngestResult, MeetingBatch
from protocol.encoding import decode_json, encode_json
from protocol.errors import MalformedMessage
from server.api.body import batch_body
from server.api.openapi import ERROR_RESPONSES, json_content, ref
from server.deps import (
    BearerCredentials,
    DatabaseDep,
    NowDep,
    OwnedEvent,
    SessionDep,
    SettingsDep,
    sender_of,
)
from server.errors import Unprocessable
from server.schemas import NO_NUL, MeetingOut, MeetingPage
from server.services.ingest import ingest_batch
from server.services.meetings import MeetingFilter, list_meetings

router = APIRouter(tags=["meetings"], responses=ERROR_RESPONSES)

_BATCH_DOC = {
    "requestBody": {"required": True, "content": json_content(ref(MeetingBatch))},
}


@router.post(
    "/gateway/meetings",
    openapi_extra=_BATCH_DOC,
    response_class=Response,
    responses={
        200: {"description": "What was stored.", "content": json_content(ref(IngestResult))}
    },
)
def post_meetings(
    credentials: BearerCredentials,
    settings: SettingsDep,
    database: DatabaseDep,
    now: NowDep,
    body: Annotated[bytes, Depends(batch_body)],
) -> Response:
    """Store a batch of meetings; idempotent on meeting id, per-meeting rejections (gateway token).

    The hot path of ingest: the session and the gateway's authentication are made here,
    not by ``SessionDep``/``GatewayAuth``, so the request takes one thread hop instead of
    four, and the token is checked by one plain SQL query (``sender_of``;
    docs/performance.md). The token is still checked before the body is decoded.
    """
    with database.session() as session:
        gateway = sender_of(session, settings, now, credentials)
        try:
            batch = decode_json(body, MeetingBatch)
        except MalformedMessage as exc:
            raise Unprocessable(f"not a meeting batch: {exc.detail}", code="malformed") from exc
        result = ingest_batch(session, gateway, batch, now)
    return Response(encode_json(result), media_type="application/json")


def _seconds(value: datetime | None) -> int | None:
    if value is None:
        return None
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value  # naive means UTC
    return int(aware.timestamp())


@router.get("/events/{event}/meetings")
def get_meetings(
    event: OwnedEvent,
    session: SessionDep,
    attendee: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    kind: Literal["proximity", "tap"] | None = None,
    since: Annotated[datetime | None, Query(description="Meetings ending at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Meetings starting at or before.")] = None,
    zone: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, description="Recorded in this zone.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> MeetingPage:
    """Meetings of the event in event-time order, filtered and paginated."""
    where = MeetingFilter(
        attendee=attendee, kind=kind, since=_seconds(since), until=_seconds(until), zone=zone
    )
    total, views = list_meetings(session, event.id, where, limit=limit, offset=offset)
    items = [
        MeetingOut(
            id=v.meeting.id,
            kind=v.meeting.kind,
            badge_a=v.meeting.badge_a,
            badge_b=v.meeting.badge_b,
            attendee_a=v.attendee_a,
            attendee_b=v.attendee_b,
            first_seen=v.meeting.first_seen,
            last_seen=v.meeting.last_seen,
            contact_seconds=v.meeting.contact_seconds,
            windows=v.meeting.windows,
            gateway=v.meeting.gateway_id,
            zone=v.meeting.zone,
            rssi_median_dbm=v.meeting.rssi_median_dbm,
        )
        for v in views
    ]
    return MeetingPage(total=total, limit=limit, offset=offset, items=items)
