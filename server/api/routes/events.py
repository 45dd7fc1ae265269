"""Organizer routes for events and their statistics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from server.api.openapi import ERROR_RESPONSES
from server.deps import NowDep, OrganizerAuth, OwnedEvent, SessionDep
from server.schemas import EventCreate, EventOut, NetworkStats, Stats
from server.services.events import create_event, list_events
from server.services.stats import event_stats, network_stats

router = APIRouter(prefix="/events", tags=["events"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED)
def post_event(
    body: EventCreate, organizer: OrganizerAuth, session: SessionDep, now: NowDep
) -> EventOut:
    """Create an event owned by the caller; missing settings take the protocol defaults."""
    event = create_event(
        session,
        organizer_id=organizer.id,
        event_id=body.id,
        name=body.name,
        starts_at=body.starts_at,
        settings=body.settings,
        now=now,
    )
    return EventOut.model_validate(event)


@router.get("")
def get_events(organizer: OrganizerAuth, session: SessionDep) -> list[EventOut]:
    """List the caller's events."""
    return [EventOut.model_validate(e) for e in list_events(session, organizer.id)]


@router.get("/{event}")
def get_event(event: OwnedEvent) -> EventOut:
    """Return one event with its settings."""
    return EventOut.model_validate(event)


@router.get("/{event}/stats")
def get_stats(event: OwnedEvent, session: SessionDep) -> Stats:
    """Counts of attendees, badges, gateways, meetings, taps and connections."""
    return event_stats(session, event)


@router.get("/{event}/stats/network")
def get_network_stats(
    event: OwnedEvent,
    session: SessionDep,
    top: Annotated[int, Query(ge=1, le=1000, description="How many most connected.")] = 10,
) -> NetworkStats:
    """Degree distribution, mean contacts, most connected attendees, active attendees per hour."""
    return network_stats(session, event, top=top)
