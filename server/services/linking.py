"""Linking: which attendees are *connected*, computed by SQL aggregation over meetings.

Attendees X and Y are connected when the contact seconds of their proximity
meetings add up to the event's ``link_threshold_seconds``, or when they have a
tap meeting. Meetings store badge ids; they are mapped to attendees through the
badge table, so a replaced badge keeps its history. Nothing is cached: the
answer is always that of the meetings stored right now.

The whole network (``linked_pairs``) is one grouped query over the event. One
attendee's connections (``linked_totals_of``: ``connections_of`` and the "people I
met" exports) read just their meetings through the per-badge indexes, one seek per
ingest generation (``generations_of``), and fold them per other attendee in Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from server.models import Attendee, Badge, Event, Meeting
from server.services.events import detection_settings_of

_badge_a = aliased(Badge, name="badge_a")
_badge_b = aliased(Badge, name="badge_b")
_x = _badge_a.attendee_id
_y = _badge_b.attendee_id


@dataclass(frozen=True)
class PairTotals:
    """Aggregates over all meetings of one pair of attendees (``low < high``)."""

    low: int
    high: int
    proximity_seconds: int
    total_contact_seconds: int
    meetings: int
    taps: int
    first_seen: int
    last_seen: int


@dataclass(frozen=True)
class Connection:
    """Someone an attendee is connected to, with the evidence.

    Attributes:
        other: the attendee on the other side.
        zones: distinct zones where they met, sorted.
    """

    other: Attendee
    first_seen: int
    last_seen: int
    total_contact_seconds: int
    meetings: int
    taps: int
    zones: list[str]

    @property
    def is_tapped(self) -> bool:
        """Whether they exchanged a tap."""
        return self.taps > 0

    @property
    def has_proximity(self) -> bool:
        """Whether at least one proximity meeting links them."""
        return self.meetings > self.taps

    @property
    def how(self) -> str:
        """``"tap"``, ``"proximity"`` or ``"tap+proximity"``."""
        if self.is_tapped and self.has_proximity:
            return "tap+proximity"
        return "tap" if self.is_tapped else "proximity"


def _total(value: ColumnElement[Any] | InstrumentedAttribute[int]) -> ColumnElement[Any]:
    # PostgreSQL sums bigints as numeric (Decimal in Python); keep integers integers
    return cast(func.coalesce(func.sum(value), 0), BigInteger)


def _proximity_seconds() -> ColumnElement[Any]:
    return _total(case((Meeting.kind == "proximity", Meeting.contact_seconds), else_=0))


def _taps() -> ColumnElement[Any]:
    return _total(case((Meeting.kind == "tap", 1), else_=0))


def _is_linked(threshold: int) -> ColumnElement[bool]:
    """THE linking rule, as a HAVING clause over one pair's meetings (``is_linked`` in Python)."""
    return or_(_proximity_seconds() >= threshold, _taps() > 0)


def _aggregates() -> list[ColumnElement[Any]]:
    return [
        _proximity_seconds().label("proximity_seconds"),
        _total(Meeting.contact_seconds).label("total_contact_seconds"),
        func.count(Meeting.id).label("meetings"),
        _taps().label("taps"),
        func.min(Meeting.first_seen).label("first_seen"),
        func.max(Meeting.last_seen).label("last_seen"),
    ]


def _joined(query: Select[Any], *where: ColumnElement[bool]) -> Select[Any]:
    return (
        query.select_from(Meeting)
        .join(_badge_a, _badge_a.id == Meeting.badge_a)
        .join(_badge_b, _badge_b.id == Meeting.badge_b)
        .where(_x != _y, *where)
    )


def generations_of(event_id: str) -> Select[Any]:
    """Return a SELECT of the event's ingest generations, 0 to the newest (a recursive CTE).

    Per-badge lookups seek ``(event_id, ingest_gen, badge)`` once per generation
    (``server.services.generations`` explains the generations).
    """
    newest = (
        select(func.max(Meeting.ingest_gen)).where(Meeting.event_id == event_id).scalar_subquery()
    )
    generations = select(literal(0, BigInteger).label("g")).cte(recursive=True)
    generations = generations.union_all(select(generations.c.g + 1).where(generations.c.g < newest))
    return select(generations.c.g)


def meetings_of(event_id: str, attendee_id: int) -> ColumnElement[bool]:
    """Return a condition selecting the meetings of any badge of the attendee.

    Phrased as ids from a UNION of the two badge columns, generation by generation, so
    the database seeks the ``(event_id, ingest_gen, badge_a)`` and ``(..., badge_b)``
    indexes instead of scanning the event.
    """
    own = select(Badge.id).where(Badge.attendee_id == attendee_id).scalar_subquery()
    gens = generations_of(event_id)
    as_a = select(Meeting.id).where(
        Meeting.event_id == event_id, Meeting.ingest_gen.in_(gens), Meeting.badge_a.in_(own)
    )
    as_b = select(Meeting.id).where(
        Meeting.event_id == event_id, Meeting.ingest_gen.in_(gens), Meeting.badge_b.in_(own)
    )
    return Meeting.id.in_(as_a.union_all(as_b))


def _link_threshold(event: Event) -> int:
    return detection_settings_of(event).link_threshold_seconds


def linked_pairs_query(event: Event) -> Select[Any]:
    """Return the query of every connected pair of the event (one row per pair)."""
    low = case((_x < _y, _x), else_=_y)
    high = case((_x < _y, _y), else_=_x)
    query = _joined(
        select(low.label("low"), high.label("high"), *_aggregates()), Meeting.event_id == event.id
    )
    return query.group_by(low, high).having(_is_linked(_link_threshold(event)))


def linked_pairs(session: Session, event: Event) -> list[PairTotals]:
    """Return every connected pair of the event."""
    return [PairTotals(*row) for row in session.execute(linked_pairs_query(event))]


def count_connections(session: Session, event: Event) -> int:
    """Return how many pairs of attendees of the event are connected."""
    pairs = linked_pairs_query(event).subquery()
    return int(session.scalar(select(func.count()).select_from(pairs)) or 0)


def is_linked(proximity_seconds: int, taps: int, threshold: int) -> bool:
    """THE linking rule in Python (same as ``_is_linked``), for per-attendee folding."""
    return proximity_seconds >= threshold or taps > 0


def newest_generation(session: Session, event_id: str) -> int | None:
    """Return the event's newest ingest generation (``None``: no meetings)."""
    query = select(func.max(Meeting.ingest_gen)).where(Meeting.event_id == event_id)
    newest = session.scalar(query)
    return None if newest is None else int(newest)


_SIDES = (("badge_a", "badge_b"), ("badge_b", "badge_a"))


def meeting_rows_of(session: Session, event_id: str, badges: list[str]) -> list[Any]:
    """Return ``(other attendee, kind, zone, contact, first, last)`` of the badges' meetings.

    One seek per generation and badge on each badge index, the other badge's owner
    joined in SQL; a meeting between two of the given badges comes once per side.
    Plain SQL through the DBAPI with the generations as a literal list of integers:
    the same query built with SQLAlchemy took ~1.7 times as long on SQLite (the
    recursive ``generations_of`` in the query, rendering and row processing).
    """
    newest = newest_generation(session, event_id)
    if newest is None:
        return []
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    gens = ", ".join(str(g) for g in range(newest + 1))
    marks = ", ".join(mark for _ in badges)
    sides = [
        f"SELECT o.attendee_id, m.kind, m.zone, m.contact_seconds, m.first_seen, m.last_seen "
        f"FROM {Meeting.__tablename__} m JOIN {Badge.__tablename__} o ON o.id = m.{other} "
        f"WHERE m.event_id = {mark} AND m.ingest_gen IN ({gens}) AND m.{own} IN ({marks})"
        for own, other in _SIDES
    ]
    params = (event_id, *badges) * len(sides)
    return list(connection.exec_driver_sql(" UNION ALL ".join(sides), params).all())


class Totals(NamedTuple):
    """An attendee's meetings with one other attendee, folded (``connections_of`` and exports).

    A named tuple: an export builds one per person met (~3 times cheaper than a frozen
    dataclass).

    Attributes:
        zones: distinct zones where they met, sorted.
    """

    first_seen: int
    last_seen: int
    total_contact_seconds: int
    meetings: int
    taps: int
    zones: list[str]


def linked_totals_of(session: Session, event: Event, attendee_id: int) -> dict[int, Totals]:
    """Return the attendee's connections as ``{other attendee id: totals}``, in no order.

    The attendee's meetings are read by badge and generation (``meeting_rows_of``), then
    folded (``fold_meeting_rows``).
    """
    own = list(session.scalars(select(Badge.id).where(Badge.attendee_id == attendee_id)).all())
    if not own:
        return {}
    rows = meeting_rows_of(session, event.id, own)
    return fold_meeting_rows(rows, attendee_id, _link_threshold(event))


def fold_meeting_rows(rows: Iterable[Any], attendee_id: int, threshold: int) -> dict[int, Totals]:
    """Fold ``meeting_rows_of`` rows per other attendee and keep the linked ones.

    Args:
        threshold: the event's ``link_threshold_seconds`` (``is_linked``).
    """
    folded: dict[int, list[Any]] = {}  # proximity s, contact s, meetings, taps, first, last, zones
    for other_id, kind, zone, contact, first, last in rows:
        acc = folded.get(other_id)
        if acc is None:
            proximity = contact if kind == "proximity" else 0
            folded[other_id] = [proximity, contact, 1, int(kind == "tap"), first, last, {zone}]
            continue
        if kind == "proximity":
            acc[0] += contact
        elif kind == "tap":
            acc[3] += 1
        acc[1] += contact
        acc[2] += 1
        if first < acc[4]:
            acc[4] = first
        if last > acc[5]:
            acc[5] = last
        acc[6].add(zone)
    folded.pop(attendee_id, None)  # two badges of the same person (a replaced badge)
    linked = {}
    for other_id, (proximity, contact, meetings, taps, first, last, zones) in folded.items():
        if is_linked(proximity, taps, threshold):
            zones.discard("")  # no zone
            linked[other_id] = Totals(first, last, contact, meetings, taps, sorted(zones))
    return linked


def connections_of(session: Session, event: Event, attendee_id: int) -> list[Connection]:
    """Return the attendee's connections, longest total contact first (``linked_totals_of``)."""
    totals = linked_totals_of(session, event, attendee_id)
    if not totals:
        return []
    ids = sorted(totals)
    attendees: dict[int, Attendee] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(Attendee).where(Attendee.id.in_(chunk))
        attendees.update((a.id, a) for a in session.scalars(query).all())
    connections = [
        Connection(
            other=attendees[other_id],
            first_seen=t.first_seen,
            last_seen=t.last_seen,
            total_contact_seconds=t.total_contact_seconds,
            meetings=t.meetings,
            taps=t.taps,
            zones=t.zones,
        )
        for other_id, t in totals.items()
    ]
    connections.sort(key=lambda c: (-c.total_contact_seconds, c.first_seen, c.other.id))
    return connections
