"""Organizer routes for an event's zones and sessions, and who is inside a zone now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from server.api.openapi import ERROR_RESPONSES
from server.deps import NowDep, OwnedEvent, SessionDep
from server.errors import NotFound
from server.models import EventSession, Zone
from server.schemas import (
    ID_PATTERN,
    NO_NUL,
    PresenceOut,
    SessionCreate,
    SessionOut,
    SessionUpdate,
    ZoneCreate,
    ZoneOut,
    ZonePresence,
    ZoneUpdate,
)
from server.services.attendance import inside_now, zone_known
from server.services.zones import (
    create_session,
    create_zone,
    delete_session,
    delete_zone,
    get_session,
    get_zone,
    list_sessions,
    list_zones,
    update_session,
    update_zone,
)

router = APIRouter(prefix="/events/{event}", tags=["zones and sessions"], responses=ERROR_RESPONSES)

ZoneId = Annotated[str, Path(pattern=ID_PATTERN, description="Zone id.")]
SessionId = Annotated[str, Path(pattern=ID_PATTERN, description="Session id.")]


def session_out(row: EventSession) -> SessionOut:
    """Return the API view of a session."""
    return SessionOut(
        id=row.id,
        title=row.title,
        zone=row.zone_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        capacity=row.capacity,
        created_at=row.created_at,
    )


@router.post("/zones", status_code=status.HTTP_201_CREATED)
def post_zone(body: ZoneCreate, event: OwnedEvent, session: SessionDep, now: NowDep) -> ZoneOut:
    """Create a zone; its id is what the event's check-in readers report as their zone."""
    zone = create_zone(
        session, event.id, zone_id=body.id, name=body.name, capacity=body.capacity, now=now
    )
    return ZoneOut.model_validate(zone)


@router.get("/zones")
def get_zones(event: OwnedEvent, session: SessionDep) -> list[ZoneOut]:
    """The event's zones, by id."""
    return [ZoneOut.model_validate(z) for z in list_zones(session, event.id)]


@router.get("/zones/{zone_id}")
def get_one_zone(event: OwnedEvent, zone_id: ZoneId, session: SessionDep) -> ZoneOut:
    """One zone."""
    return ZoneOut.model_validate(get_zone(session, event.id, zone_id))


@router.patch("/zones/{zone_id}")
def patch_zone(
    body: ZoneUpdate, event: OwnedEvent, zone_id: ZoneId, session: SessionDep
) -> ZoneOut:
    """Rename a zone or change its capacity."""
    zone = get_zone(session, event.id, zone_id)
    return ZoneOut.model_validate(update_zone(session, zone, body.model_dump(exclude_unset=True)))


@router.delete("/zones/{zone_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_one_zone(event: OwnedEvent, zone_id: ZoneId, session: SessionDep) -> Response:
    """Delete a zone no session takes place in (``409 zone_in_use`` otherwise)."""
    delete_zone(session, get_zone(session, event.id, zone_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


RecordedZone = Annotated[
    str,
    Path(max_length=64, pattern=NO_NUL, description="A zone id, or a reader's zone as recorded."),
]


@router.get("/zones/{zone_id}/inside")
def get_inside(event: OwnedEvent, zone_id: RecordedZone, session: SessionDep) -> ZonePresence:
    """Who is inside the zone now: replay of its accepted entries and exits, in event time.

    Also answers for a zone only known from readers' check-ins (not created as a zone).
    """
    if not zone_known(session, event.id, zone_id):
        raise NotFound(f"no zone {zone_id} in event {event.id}", code="zone_not_found")
    zone = session.get(Zone, (event.id, zone_id))
    present = inside_now(session, event.id, zone_id)
    return ZonePresence(
        zone=zone_id,
        name=zone.name if zone is not None else None,
        capacity=zone.capacity if zone is not None else None,
        occupancy=len(present),
        inside=[
            PresenceOut(
                attendee=p.attendee,
                name=p.name,
                badge=p.badge,
                since=datetime.fromtimestamp(p.since, UTC),
            )
            for p in present
        ],
    )


@router.post("/sessions", status_code=status.HTTP_201_CREATED)
def post_session(
    body: SessionCreate, event: OwnedEvent, session: SessionDep, now: NowDep
) -> SessionOut:
    """Create a session in one of the event's zones (``422 unknown_zone``, ``invalid_interval``)."""
    row = create_session(
        session,
        event.id,
        session_id=body.id,
        title=body.title,
        zone_id=body.zone,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        capacity=body.capacity,
        now=now,
    )
    return session_out(row)


@router.get("/sessions")
def get_sessions(
    event: OwnedEvent,
    session: SessionDep,
    zone: Annotated[str | None, Query(pattern=ID_PATTERN, description="In this zone.")] = None,
) -> list[SessionOut]:
    """The event's sessions by start time, optionally of one zone."""
    return [session_out(s) for s in list_sessions(session, event.id, zone)]


@router.get("/sessions/{session_id}")
def get_one_session(event: OwnedEvent, session_id: SessionId, session: SessionDep) -> SessionOut:
    """One session."""
    return session_out(get_session(session, event.id, session_id))


@router.patch("/sessions/{session_id}")
def patch_session(
    body: SessionUpdate, event: OwnedEvent, session_id: SessionId, session: SessionDep
) -> SessionOut:
    """Change a session's title, zone, times or capacity (validated like a new one)."""
    row = get_session(session, event.id, session_id)
    changes = body.model_dump(exclude_unset=True)
    return session_out(update_session(session, row, changes))


@router.delete(
    "/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
def delete_one_session(event: OwnedEvent, session_id: SessionId, session: SessionDep) -> Response:
    """Delete a session; check-ins in its zone stay."""
    delete_session(session, get_session(session, event.id, session_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
