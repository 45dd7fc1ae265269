"""Events: creation, ownership checks, listing, and their detection settings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol.api import DetectionSettings
from server.errors import Conflict, Forbidden, NotFound
from server.models import Event

logger = logging.getLogger(__name__)


def detection_settings_of(event: Event) -> DetectionSettings:
    """Return an event's detection settings as the protocol struct."""
    return msgspec.convert(event.settings, DetectionSettings)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def create_event(
    session: Session,
    *,
    organizer_id: int,
    event_id: str,
    name: str,
    starts_at: datetime | None,
    settings: dict[str, Any],
    now: datetime,
) -> Event:
    """Create an event owned by ``organizer_id``.

    Args:
        settings: complete detection settings (validated by the caller's schema).

    Raises:
        Conflict: the id is taken (code ``event_exists``).
    """
    complete = msgspec.structs.asdict(msgspec.convert(settings, DetectionSettings))
    event = Event(
        id=event_id,
        organizer_id=organizer_id,
        name=name,
        starts_at=None if starts_at is None else as_utc(starts_at),
        settings=complete,
        created_at=now,
    )
    if session.get(Event, event_id) is not None:
        raise Conflict(f"event {event_id} already exists", code="event_exists")
    session.add(event)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"event {event_id} already exists", code="event_exists") from exc
    logger.info("event created event=%s organizer=%s", event_id, organizer_id)
    return event


def owned_event(session: Session, organizer_id: int, event_id: str) -> Event:
    """Return the event if ``organizer_id`` owns it.

    Raises:
        NotFound: no such event (code ``event_not_found``).
        Forbidden: another organizer's event (code ``not_event_organizer``).
    """
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound(f"no event {event_id}", code="event_not_found")
    if event.organizer_id != organizer_id:
        raise Forbidden(
            f"event {event_id} belongs to another organizer", code="not_event_organizer"
        )
    return event


def list_events(session: Session, organizer_id: int) -> Sequence[Event]:
    """Return the organizer's events, oldest first."""
    query = select(Event).where(Event.organizer_id == organizer_id)
    return session.scalars(query.order_by(Event.created_at, Event.id)).all()
