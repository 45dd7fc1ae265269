"""Who is inside where, and when: the organizer's reads of the stored check-ins.

Occupancy is the replay of a zone's accepted taps in event-time order
(``server.services.checkins``): lists and outcome counts, occupancy per time bucket,
attendance per hour, and who is inside a zone now. Rows are streamed through Core in
chunks, so a large event's check-ins are never all in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVarTuple

from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

from server.errors import Unprocessable
from server.models import Attendee, CheckIn, Zone
from server.services.checkins import ACCEPTED, CHUNK, FAILED_OUTCOMES, Subject, subject_of

MAX_BUCKETS = 5000
_STREAM = 5000
_Columns = TypeVarTuple("_Columns")


@dataclass(frozen=True)
class CheckInFilter:
    """Which check-ins to read; ``None`` means no restriction (times are event seconds)."""

    zone: str | None = None
    attendee: int | None = None
    badge: str | None = None
    direction: str | None = None
    outcome: str | None = None
    failed: bool = False
    source: str | None = None
    since: int | None = None
    until: int | None = None

    def apply(self, query: Select[CheckIn]) -> Select[CheckIn]:
        """Return ``query`` restricted by this filter."""
        conditions = [
            (self.zone, CheckIn.zone),
            (self.attendee, CheckIn.attendee_id),
            (self.badge, CheckIn.badge),
            (self.direction, CheckIn.direction),
            (self.outcome, CheckIn.outcome),
            (self.source, CheckIn.source),
        ]
        for value, column in conditions:
            if value is not None:
                query = query.where(column == value)
        if self.failed:
            query = query.where(CheckIn.outcome.in_(FAILED_OUTCOMES))
        if self.since is not None:
            query = query.where(CheckIn.t >= self.since)
        if self.until is not None:
            query = query.where(CheckIn.t <= self.until)
        return query


def list_checkins(
    session: Session, event_id: str, where: CheckInFilter, *, limit: int, offset: int
) -> tuple[int, list[CheckIn]]:
    """Return the number of matching check-ins and one page of them, in event-time order."""
    query = where.apply(select(CheckIn).where(CheckIn.event_id == event_id))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(CheckIn.t, CheckIn.received_at, CheckIn.id).limit(limit).offset(offset)
    return total, list(session.scalars(page))


def outcome_counts(session: Session, event_id: str, where: CheckInFilter) -> dict[str, int]:
    """Return how many matching check-ins had each outcome."""
    base = where.apply(select(CheckIn).where(CheckIn.event_id == event_id)).subquery()
    query = select(base.c.outcome, func.count()).group_by(base.c.outcome)
    return {outcome: n for outcome, n in session.execute(query)}


@dataclass(frozen=True)
class Bucket:
    """Accepted entries and exits in ``[start, start + bucket)`` and who was inside at its end."""

    start: int
    entries: int
    exits: int
    occupancy: int


def _rows(session: Session, query: Select[*_Columns]) -> Iterator[Row[*_Columns]]:
    """Stream the rows of a column query through Core (no ORM row processing), in chunks."""
    result = session.connection().execute(query.execution_options(yield_per=_STREAM))
    yield from result


def _accepted(
    session: Session, event_id: str, zone: str | None, until: int | None
) -> Iterator[tuple[str, int, Subject, str]]:
    """Yield ``(zone, t, subject, direction)`` of accepted taps, by zone then replay order."""
    query = select(CheckIn.zone, CheckIn.t, CheckIn.attendee_id, CheckIn.badge, CheckIn.direction)
    query = query.where(CheckIn.event_id == event_id, CheckIn.outcome == ACCEPTED)
    if zone is not None:
        query = query.where(CheckIn.zone == zone)
    if until is not None:
        query = query.where(CheckIn.t <= until)
    query = query.order_by(CheckIn.zone, CheckIn.t, CheckIn.received_at, CheckIn.id)
    for z, t, attendee, badge, direction in _rows(session, query):
        yield z, t, subject_of(attendee, badge), direction


def time_span(session: Session, event_id: str, zone: str | None) -> tuple[int, int] | None:
    """Return the first and last time of the accepted taps (of one zone), if any."""
    query = select(func.min(CheckIn.t), func.max(CheckIn.t)).where(
        CheckIn.event_id == event_id, CheckIn.outcome == ACCEPTED
    )
    if zone is not None:
        query = query.where(CheckIn.zone == zone)
    low, high = session.execute(query).one()
    return None if low is None else (int(low), int(high))


def occupancy_series(
    session: Session, event_id: str, zone: str | None, *, start: int, end: int, bucket: int
) -> dict[str, list[Bucket]]:
    """Return per zone the buckets from ``start`` (aligned down to ``bucket``) through ``end``.

    Taps before ``start`` count for the occupancy (who was already inside), not as entries.

    Raises:
        Unprocessable: more than ``MAX_BUCKETS`` buckets (code ``too_many_buckets``).
    """
    first = start - start % bucket
    n = (end - first) // bucket + 1
    if n > MAX_BUCKETS:
        raise Unprocessable(
            f"{n} buckets of {bucket} s; at most {MAX_BUCKETS}: narrow since/until or widen bucket",
            code="too_many_buckets",
        )
    series: dict[str, list[Bucket]] = {}
    current: str | None = None
    entries = exits = occupancy = [0]
    inside: set[Subject] = set()
    filled = 0

    def close() -> None:
        if current is None:
            return
        for i in range(filled, n):
            occupancy[i] = len(inside)
        series[current] = [
            Bucket(first + i * bucket, entries[i], exits[i], occupancy[i]) for i in range(n)
        ]

    for z, t, subject, direction in _accepted(session, event_id, zone, end):
        if z != current:
            close()
            current, inside, filled = z, set(), 0
            entries, exits, occupancy = [0] * n, [0] * n, [0] * n
        index = (t - first) // bucket
        while filled < min(index, n):
            occupancy[filled] = len(inside)
            filled += 1
        if direction == "entry":
            inside.add(subject)
        else:
            inside.discard(subject)
        if 0 <= index < n:
            (entries if direction == "entry" else exits)[index] += 1
    close()
    return series


@dataclass(frozen=True)
class HourAttendance:
    """An hour with accepted taps: entries, exits, and how many were inside any zone at its end."""

    hour: int
    entries: int
    exits: int
    inside: int


def attendance_per_hour(session: Session, event_id: str) -> list[HourAttendance]:
    """Return attendance for each hour (event time) in which someone entered or left a zone."""
    query = select(CheckIn.t, CheckIn.zone, CheckIn.attendee_id, CheckIn.badge, CheckIn.direction)
    query = query.where(CheckIn.event_id == event_id, CheckIn.outcome == ACCEPTED)
    query = query.order_by(CheckIn.t, CheckIn.received_at, CheckIn.id)
    zones_of: dict[Subject, set[str]] = {}
    hours: list[HourAttendance] = []
    hour: int | None = None
    entries = exits = 0

    def inside() -> int:
        return sum(1 for zones in zones_of.values() if zones)

    for t, zone, attendee, badge, direction in _rows(session, query):
        this = int(t) // 3600
        if hour is not None and this != hour:
            hours.append(HourAttendance(hour * 3600, entries, exits, inside()))
            entries = exits = 0
        hour = this
        zones = zones_of.setdefault(subject_of(attendee, badge), set())
        if direction == "entry":
            zones.add(zone)
            entries += 1
        else:
            zones.discard(zone)
            exits += 1
    if hour is not None:
        hours.append(HourAttendance(hour * 3600, entries, exits, inside()))
    return hours


@dataclass(frozen=True)
class Presence:
    """Someone inside a zone now: since when (the accepted entry that put them there)."""

    attendee: int | None
    name: str | None
    badge: str | None
    since: int


def inside_now(session: Session, event_id: str, zone: str) -> list[Presence]:
    """Return who is inside ``zone`` after every accepted tap, by arrival time."""
    state: dict[Subject, tuple[int | None, str | None, int] | None] = {}
    query = select(CheckIn.t, CheckIn.attendee_id, CheckIn.badge, CheckIn.direction)
    query = query.where(
        CheckIn.event_id == event_id, CheckIn.zone == zone, CheckIn.outcome == ACCEPTED
    ).order_by(CheckIn.t, CheckIn.received_at, CheckIn.id)
    for t, attendee, badge, direction in _rows(session, query):
        subject = subject_of(attendee, badge)
        if direction == "entry":
            prior = state.get(subject)
            state[subject] = prior if prior is not None else (attendee, badge, int(t))
        else:
            state[subject] = None
    present = [v for v in state.values() if v is not None]
    ids = [a for a, _, _ in present if a is not None]
    names: dict[int, str] = {}
    for chunk in range(0, len(ids), CHUNK):
        query_names = select(Attendee.id, Attendee.name).where(
            Attendee.id.in_(ids[chunk : chunk + CHUNK])
        )
        names.update({i: n for i, n in session.execute(query_names)})
    result = [
        Presence(attendee=a, name=names.get(a) if a is not None else None, badge=b, since=t)
        for a, b, t in present
    ]
    return sorted(result, key=lambda p: (p.since, str(p.attendee), p.badge or ""))


def zone_known(session: Session, event_id: str, zone: str) -> bool:
    """Whether ``zone`` is a zone of the event or one that check-ins were recorded in."""
    if session.get(Zone, (event_id, zone)) is not None:
        return True
    query = select(CheckIn.id).where(CheckIn.event_id == event_id, CheckIn.zone == zone).limit(1)
    return session.scalar(query) is not None
