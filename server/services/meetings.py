"""The organizer's view of stored meetings: filters and pagination."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from server.models import Badge, Meeting
from server.services.linking import meetings_of

_badge_a = aliased(Badge, name="badge_a")
_badge_b = aliased(Badge, name="badge_b")


@dataclass(frozen=True)
class MeetingFilter:
    """Which meetings to list; ``None`` means no restriction.

    Attributes:
        attendee: meetings of any badge of this attendee.
        kind: ``"proximity"`` or ``"tap"``.
        since: meetings still going on at or after this event time (``last_seen >= since``).
        until: meetings that started at or before this event time (``first_seen <= until``).
        zone: meetings recorded in this zone.
    """

    attendee: int | None = None
    kind: str | None = None
    since: int | None = None
    until: int | None = None
    zone: str | None = None


@dataclass(frozen=True)
class MeetingView:
    """A stored meeting with the attendees behind its badges."""

    meeting: Meeting
    attendee_a: int
    attendee_b: int


def list_meetings(
    session: Session, event_id: str, where: MeetingFilter, *, limit: int, offset: int
) -> tuple[int, list[MeetingView]]:
    """Return the number of matching meetings and one page of them, in event-time order."""
    query = (
        select(Meeting, _badge_a.attendee_id, _badge_b.attendee_id)
        .join(_badge_a, _badge_a.id == Meeting.badge_a)
        .join(_badge_b, _badge_b.id == Meeting.badge_b)
        .where(
            Meeting.event_id == event_id
            if where.attendee is None
            else meetings_of(event_id, where.attendee)  # already limited to the event
        )
    )
    if where.kind is not None:
        query = query.where(Meeting.kind == where.kind)
    if where.since is not None:
        query = query.where(Meeting.last_seen >= where.since)
    if where.until is not None:
        query = query.where(Meeting.first_seen <= where.until)
    if where.zone is not None:
        query = query.where(Meeting.zone == where.zone)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(Meeting.first_seen, Meeting.id).limit(limit).offset(offset)
    views = [MeetingView(m, a, b) for m, a, b in session.execute(page)]
    return total, views
