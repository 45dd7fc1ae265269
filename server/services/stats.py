"""Event statistics for the organizer's dashboard."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import case, distinct, func, select, union
from sqlalchemy.orm import Session

from server.models import Attendee, Badge, CheckIn, Event, Gateway, Meeting
from server.schemas import (
    AttendanceHour,
    Connected,
    DegreeCount,
    HourCount,
    NetworkStats,
    Stats,
)
from server.services.attendance import attendance_per_hour
from server.services.checkins import ACCEPTED
from server.services.linking import count_connections, linked_pairs_query


def event_stats(session: Session, event: Event) -> Stats:
    """Return counts of attendees, badges, gateways, meetings, taps, connections, check-ins,
    and attendance per hour from the check-ins."""
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
    checkins, failed = session.execute(
        select(
            func.count(CheckIn.id),
            func.coalesce(func.sum(case((CheckIn.outcome != ACCEPTED, 1), else_=0)), 0),
        ).where(CheckIn.event_id == event.id)
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
        checkins=checkins,
        failed_checkins=failed,
        attendance_per_hour=[
            AttendanceHour(
                hour=datetime.fromtimestamp(h.hour, UTC),
                entries=h.entries,
                exits=h.exits,
                inside=h.inside,
            )
            for h in attendance_per_hour(session, event.id)
        ],
    )


def network_stats(session: Session, event: Event, *, top: int) -> NetworkStats:
    """Return the contact network's shape: degrees, most connected, activity per hour.

    Connected pairs are streamed from the database; memory holds one counter per
    attendee, not the pairs.
    """
    query = select(Attendee.id, Attendee.name).where(Attendee.event_id == event.id)
    names = {row[0]: row[1] for row in session.execute(query)}
    degree: Counter[int] = Counter()
    seconds: Counter[int] = Counter()
    pairs = 0
    for row in session.execute(linked_pairs_query(event), execution_options={"yield_per": 2000}):
        low, high, total = row[0], row[1], row[3]
        pairs += 1
        for attendee in (low, high):
            degree[attendee] += 1
            seconds[attendee] += total
    distribution = Counter(degree.values())
    isolated = len(names) - len(degree)
    if isolated > 0:
        distribution[0] = isolated
    ranked = sorted(degree, key=lambda a: (-degree[a], -seconds[a], a))[:top]
    return NetworkStats(
        attendees=len(names),
        connected_pairs=pairs,
        mean_contacts=(2 * pairs / len(names)) if names else 0.0,
        degree_distribution=[
            DegreeCount(contacts=d, attendees=n) for d, n in sorted(distribution.items())
        ],
        most_connected=[
            Connected(
                attendee=a,
                name=names.get(a, ""),
                contacts=degree[a],
                total_contact_seconds=seconds[a],
            )
            for a in ranked
        ],
        active_attendees_per_hour=_active_per_hour(session, event.id),
    )


def _active_per_hour(session: Session, event_id: str) -> list[HourCount]:
    """Distinct attendees with a meeting starting in each hour (event time, UTC)."""
    sides = []
    for column in (Meeting.badge_a, Meeting.badge_b):
        sides.append(
            select((Meeting.first_seen // 3600).label("hour"), Badge.attendee_id.label("who"))
            .join(Badge, Badge.id == column)
            .where(Meeting.event_id == event_id)
        )
    both = union(*sides).subquery()
    query = (
        select(both.c.hour, func.count(distinct(both.c.who)))
        .group_by(both.c.hour)
        .order_by(both.c.hour)
    )
    return [
        HourCount(hour=datetime.fromtimestamp(int(hour) * 3600, UTC), attendees=n)
        for hour, n in session.execute(query)
    ]
