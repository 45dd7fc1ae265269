"""Check-ins: gateway ingest (gateway token), the organizer's desk, and the organizer's reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from protocol.api import CheckInBatch, IngestResult
from protocol.encoding import decode_json, encode_json
from protocol.errors import MalformedMessage
from server.api.body import batch_body
from server.api.openapi import ERROR_RESPONSES, json_content, ref
from server.deps import GatewayAuth, NowDep, OwnedEvent, SessionDep
from server.errors import Unprocessable
from server.models import CheckIn
from server.schemas import (
    ID_PATTERN,
    NO_NUL,
    CheckInCounts,
    CheckInOut,
    CheckInOutcomeName,
    CheckInPage,
    CountBucket,
    DeskCheckIn,
    FailedTaps,
    OutcomeCount,
    ZoneCounts,
)
from server.services.attendance import (
    CheckInFilter,
    list_checkins,
    occupancy_series,
    outcome_counts,
    time_span,
)
from server.services.checkins import MAX_EVENT_SECONDS, ingest_checkins
from server.services.desk import DeskRequest, desk_checkin
from server.services.zones import get_session

router = APIRouter(tags=["check-ins"], responses=ERROR_RESPONSES)

_BATCH_DOC = {
    "requestBody": {"required": True, "content": json_content(ref(CheckInBatch))},
}

Since = Annotated[datetime | None, Query(description="Check-ins at or after (event time).")]
Until = Annotated[datetime | None, Query(description="Check-ins at or before (event time).")]
ZoneQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=NO_NUL,
        description="In this zone: a zone id, or a reader's zone as recorded.",
    ),
]
SessionQuery = Annotated[
    str | None,
    Query(pattern=ID_PATTERN, description="In this session: its zone, during its time span."),
]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=2**62)]


@router.post(
    "/gateway/checkins",
    openapi_extra=_BATCH_DOC,
    response_class=Response,
    responses={
        200: {"description": "What was stored.", "content": json_content(ref(IngestResult))}
    },
)
def post_gateway_checkins(
    gateway: GatewayAuth,
    session: SessionDep,
    now: NowDep,
    body: Annotated[bytes, Depends(batch_body)],
) -> Response:
    """Store a gateway's check-in records (every outcome); idempotent on check-in id."""
    try:
        batch = decode_json(body, CheckInBatch)
    except MalformedMessage as exc:
        raise Unprocessable(f"not a check-in batch: {exc.detail}", code="malformed") from exc
    result = ingest_checkins(session, gateway, batch, now)
    return Response(encode_json(result), media_type="application/json")


def checkin_out(row: CheckIn) -> CheckInOut:
    """Return the API view of a stored check-in."""
    return CheckInOut.model_validate(
        {
            "id": row.id,
            "source": row.source,
            "nonce": row.nonce,
            "badge": row.badge,
            "attendee": row.attendee_id,
            "reader": row.reader,
            "gateway": row.gateway_id,
            "zone": row.zone,
            "direction": row.direction,
            "t": row.t,
            "received_at": row.received_at,
            "outcome": row.outcome,
            "detail": row.detail,
        }
    )


def _seconds(value: datetime | None) -> int | None:
    if value is None:
        return None
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value  # naive means UTC
    return int(aware.timestamp())


@router.post(
    "/events/{event}/checkins",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": CheckInOut, "description": "A retry: the stored check-in."}},
)
def post_desk_checkin(
    body: DeskCheckIn, event: OwnedEvent, session: SessionDep, now: NowDep, response: Response
) -> CheckInOut:
    """Check a badge or an attendee into or out of a zone; the answer's ``outcome`` says how.

    Idempotent on ``nonce``: a retry answers ``200`` with the stored check-in; the same
    nonce with another request is ``409 nonce_reused``. A second entry while inside is
    stored as ``already_inside``. ``t`` (optional) is the real time of an offline check-in.
    """
    request = DeskRequest(
        nonce=body.nonce,
        zone=body.zone,
        direction=body.direction,
        badge=body.badge,
        attendee=body.attendee,
        t=_seconds(body.t),
    )
    row, created = desk_checkin(session, event, request, now)
    if not created:
        response.status_code = status.HTTP_200_OK
    return checkin_out(row)


def _scope(
    session: SessionDep,
    event: OwnedEvent,
    zone: str | None,
    session_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[str | None, int | None, int | None]:
    """Return ``(zone, since, until)`` in event seconds, narrowed to the session if named."""
    low, high = _seconds(since), _seconds(until)
    if session_id is not None:
        span = get_session(session, event.id, session_id)
        start, end = int(span.starts_at.timestamp()), int(span.ends_at.timestamp())
        low = start if low is None else max(low, start)
        high = end if high is None else min(high, end)
        if zone is not None and zone != span.zone_id:
            low, high = 1, 0  # a session in another zone: nothing matches
        zone = span.zone_id
    return zone, low, high


@router.get("/events/{event}/checkins")
def get_checkins(
    event: OwnedEvent,
    session: SessionDep,
    zone: ZoneQuery = None,
    session_id: Annotated[SessionQuery, Query(alias="session")] = None,
    attendee: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    badge: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    direction: Literal["entry", "exit"] | None = None,
    outcome: CheckInOutcomeName | None = None,
    source: Literal["gateway", "desk"] | None = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> CheckInPage:
    """Check-ins of every outcome in event-time order, filtered and paginated."""
    in_zone, low, high = _scope(session, event, zone, session_id, since, until)
    where = CheckInFilter(
        zone=in_zone,
        since=low,
        until=high,
        attendee=attendee,
        badge=badge,
        direction=direction,
        outcome=outcome,
        source=source,
    )
    total, rows = list_checkins(session, event.id, where, limit=limit, offset=offset)
    return CheckInPage(
        total=total, limit=limit, offset=offset, items=[checkin_out(r) for r in rows]
    )


@router.get("/events/{event}/checkins/failed")
def get_failed_taps(
    event: OwnedEvent,
    session: SessionDep,
    zone: ZoneQuery = None,
    session_id: Annotated[SessionQuery, Query(alias="session")] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> FailedTaps:
    """Taps that were not accepted: how many of each outcome, and the taps with their reasons."""
    in_zone, low, high = _scope(session, event, zone, session_id, since, until)
    where = CheckInFilter(zone=in_zone, since=low, until=high, failed=True)
    counts = outcome_counts(session, event.id, where)
    total, rows = list_checkins(session, event.id, where, limit=limit, offset=offset)
    return FailedTaps(
        total=total,
        by_outcome=[
            OutcomeCount.model_validate({"outcome": o, "count": n})
            for o, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        limit=limit,
        offset=offset,
        items=[checkin_out(r) for r in rows],
    )


@router.get("/events/{event}/checkins/counts")
def get_checkin_counts(
    event: OwnedEvent,
    session: SessionDep,
    zone: ZoneQuery = None,
    session_id: Annotated[SessionQuery, Query(alias="session")] = None,
    since: Since = None,
    until: Until = None,
    bucket: Annotated[int, Query(ge=60, le=86_400, description="Bucket length, seconds.")] = 900,
) -> CheckInCounts:
    """Accepted entries, exits and occupancy per zone over time (at most 5000 buckets).

    Without ``since``/``until`` the buckets span the first to the last accepted tap.
    Occupancy counts everyone inside at a bucket's end, including who entered before
    ``since``.
    """
    in_zone, low, high = _scope(session, event, zone, session_id, since, until)
    span = time_span(session, event.id, in_zone)
    if low is None or high is None:
        if span is None:
            return CheckInCounts(bucket_seconds=bucket, zones=[])
        low = span[0] if low is None else low
        high = span[1] if high is None else high
    low, high = max(low, 0), min(high, MAX_EVENT_SECONDS)
    if high < low:
        return CheckInCounts(bucket_seconds=bucket, zones=[])
    series = occupancy_series(session, event.id, in_zone, start=low, end=high, bucket=bucket)
    return CheckInCounts(
        bucket_seconds=bucket,
        zones=[
            ZoneCounts(
                zone=z,
                buckets=[
                    CountBucket(
                        start=datetime.fromtimestamp(b.start, UTC),
                        entries=b.entries,
                        exits=b.exits,
                        occupancy=b.occupancy,
                    )
                    for b in buckets
                ],
            )
            for z, buckets in sorted(series.items())
        ],
    )
