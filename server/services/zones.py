"""Zones and sessions of an event: the places and the programme check-ins refer to.

A zone's id is a slug (the protocol's ``Id`` pattern): check-in readers report it. A
session takes place in one zone of its event, from ``starts_at`` to ``ends_at`` (strictly
later). A zone that sessions take place in cannot be deleted; check-ins keep the zone id
they were recorded with (they are evidence, so deleting a zone does not rewrite them).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.errors import Conflict, NotFound, Unprocessable
from server.models import EventSession, Zone
from server.services.events import as_utc

logger = logging.getLogger(__name__)


def create_zone(
    session: Session,
    event_id: str,
    *,
    zone_id: str,
    name: str,
    capacity: int | None,
    now: datetime,
) -> Zone:
    """Create a zone of the event.

    Raises:
        Conflict: the id is taken in this event (code ``zone_exists``).
    """
    if session.get(Zone, (event_id, zone_id)) is not None:
        raise Conflict(f"zone {zone_id} already exists in event {event_id}", code="zone_exists")
    zone = Zone(event_id=event_id, id=zone_id, name=name, capacity=capacity, created_at=now)
    session.add(zone)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(
            f"zone {zone_id} already exists in event {event_id}", code="zone_exists"
        ) from exc
    logger.info("zone created event=%s zone=%s", event_id, zone_id)
    return zone


def list_zones(session: Session, event_id: str) -> list[Zone]:
    """Return the event's zones, by id."""
    return list(session.scalars(select(Zone).where(Zone.event_id == event_id).order_by(Zone.id)))


def get_zone(session: Session, event_id: str, zone_id: str) -> Zone:
    """Return one zone of the event.

    Raises:
        NotFound: no such zone in this event (code ``zone_not_found``).
    """
    zone = session.get(Zone, (event_id, zone_id))
    if zone is None:
        raise NotFound(f"no zone {zone_id} in event {event_id}", code="zone_not_found")
    return zone


def update_zone(session: Session, zone: Zone, changes: Mapping[str, Any]) -> Zone:
    """Apply ``changes`` (``name``, ``capacity``; ``capacity=None`` clears it)."""
    if "name" in changes and changes["name"] is not None:
        zone.name = changes["name"]
    if "capacity" in changes:
        zone.capacity = changes["capacity"]
    session.commit()
    return zone


def delete_zone(session: Session, zone: Zone) -> None:
    """Delete a zone that no session takes place in.

    Raises:
        Conflict: sessions take place in it (code ``zone_in_use``).
    """
    used = session.scalar(
        select(func.count())
        .select_from(EventSession)
        .where(EventSession.event_id == zone.event_id, EventSession.zone_id == zone.id)
    )
    if used:
        raise Conflict(f"{used} session(s) take place in zone {zone.id}", code="zone_in_use")
    session.delete(zone)
    try:
        session.commit()
    except IntegrityError as exc:  # a session was added meanwhile
        session.rollback()
        raise Conflict(f"sessions take place in zone {zone.id}", code="zone_in_use") from exc
    logger.info("zone deleted event=%s zone=%s", zone.event_id, zone.id)


def _check_span(starts_at: datetime, ends_at: datetime) -> None:
    if as_utc(ends_at) <= as_utc(starts_at):
        raise Unprocessable("a session ends after it starts", code="invalid_interval")


def _require_zone(session: Session, event_id: str, zone_id: str) -> None:
    if session.get(Zone, (event_id, zone_id)) is None:
        raise Unprocessable(f"no zone {zone_id} in event {event_id}", code="unknown_zone")


def create_session(
    session: Session,
    event_id: str,
    *,
    session_id: str,
    title: str,
    zone_id: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int | None,
    now: datetime,
) -> EventSession:
    """Create a session of the event in one of its zones.

    Raises:
        Unprocessable: unknown zone (``unknown_zone``), end not after start (``invalid_interval``).
        Conflict: the id is taken in this event (code ``session_exists``).
    """
    _check_span(starts_at, ends_at)
    _require_zone(session, event_id, zone_id)
    if session.get(EventSession, (event_id, session_id)) is not None:
        raise Conflict(
            f"session {session_id} already exists in event {event_id}", code="session_exists"
        )
    row = EventSession(
        event_id=event_id,
        id=session_id,
        title=title,
        zone_id=zone_id,
        starts_at=as_utc(starts_at),
        ends_at=as_utc(ends_at),
        capacity=capacity,
        created_at=now,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(
            f"session {session_id} already exists in event {event_id}", code="session_exists"
        ) from exc
    logger.info("session created event=%s session=%s zone=%s", event_id, session_id, zone_id)
    return row


def list_sessions(
    session: Session, event_id: str, zone_id: str | None = None
) -> list[EventSession]:
    """Return the event's sessions (optionally of one zone), by start time."""
    query = select(EventSession).where(EventSession.event_id == event_id)
    if zone_id is not None:
        query = query.where(EventSession.zone_id == zone_id)
    return list(session.scalars(query.order_by(EventSession.starts_at, EventSession.id)))


def get_session(session: Session, event_id: str, session_id: str) -> EventSession:
    """Return one session of the event.

    Raises:
        NotFound: no such session in this event (code ``session_not_found``).
    """
    row = session.get(EventSession, (event_id, session_id))
    if row is None:
        raise NotFound(f"no session {session_id} in event {event_id}", code="session_not_found")
    return row


def update_session(session: Session, row: EventSession, changes: Mapping[str, Any]) -> EventSession:
    """Apply ``changes`` (title, zone, starts_at, ends_at, capacity) after validating the result.

    Raises:
        Unprocessable: unknown zone (``unknown_zone``), end not after start (``invalid_interval``).
    """
    starts_at = changes.get("starts_at") or row.starts_at
    ends_at = changes.get("ends_at") or row.ends_at
    _check_span(starts_at, ends_at)
    zone_id = changes.get("zone") or row.zone_id
    if zone_id != row.zone_id:
        _require_zone(session, row.event_id, zone_id)
    if changes.get("title") is not None:
        row.title = changes["title"]
    if "capacity" in changes:
        row.capacity = changes["capacity"]
    row.zone_id = zone_id
    row.starts_at = as_utc(starts_at)
    row.ends_at = as_utc(ends_at)
    session.commit()
    return row


def delete_session(session: Session, row: EventSession) -> None:
    """Delete a session (its check-ins stay: they belong to the zone)."""
    session.delete(row)
    session.commit()
    logger.info("session deleted event=%s session=%s", row.event_id, row.id)
