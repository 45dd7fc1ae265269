"""Event statistics for the organizer's dashboard."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from server.models import Attendee, Badge, Event, Gateway, Meeting
from server.schemas import Stats
from server.services.linking import count_connections


def event_stats(session: Session, event: Event) -> Stats:
    """Return counts of attendees, badges, gateways, meetings, taps and connections."""
    attendees = session.scalar(select(func.count(Attendee.id)).where(Attendee.event_id == event.id))
    badges = session.scalar(select(func.count(Badge.id)).where(Badge.event_id == event.id))
    gateways = session.scalar(select(func.count(Gateway.id)).where(Gateway.event_id == event.id))
    meetings, proximity, taps, seconds = session.execute(
        select(
            func.count(Meeting.id),
            func.coalesce(func.sum(case((Meeting.kind == "proximity", 1), else_=0)), 0),
            func.coalesce(func.sum(case((Meeting.kind == "tap", 1), else_=0)), 0),
            func.coalesce(func.sum(Meeting.contact_seconds), 0),
        ).where(Meeting.event_id == event.id)
    ).one()
    return Stats(
        attendees=attendees or 0,
        badges=badges or 0,
        gateways=gateways or 0,
        meetings=meetings,
        proximity_meetings=proximity,
        taps=taps,
        connections=count_connections(session, event),
        total_contact_seconds=seconds,
    )
