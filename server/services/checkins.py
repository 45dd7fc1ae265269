"""Check-ins: taps at gateway readers and at the organizer's desk, and who is inside where.

Every tap is stored, accepted or not (a failed tap is evidence too: a revoked badge at the
door, a reader with a stale nonce). Only ``accepted`` taps change who is inside: an
accepted entry puts the tap's *subject* (its attendee, or its badge when the server does
not know the badge) inside the zone, an accepted exit takes it out. Replaying a zone's
accepted taps in event-time order (``t``, then the reader's ``received_at``, then id) gives
its occupancy at any time, so taps uploaded hours late by an offline reader land in their
real place.

Gateway records (``POST /gateway/checkins``) carry the reader's outcome and are idempotent
on their id (``protocol.ids.checkin_id``): the same record again is a duplicate, another
record with that id is rejected as ``conflict``. Desk check-ins (pretix-style) are
idempotent on the client's nonce: the server decides the outcome once and answers a retry
with the stored result; the same nonce with another request is a ``Conflict``.

Rejection codes of gateway records: wrong_event, wrong_gateway, malformed (``t`` after
9999, or no zone), conflict.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVarTuple, get_args

from sqlalchemy import Row, Select, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol.api import (
    CheckInBatch,
    CheckInOutcome,
    CheckInRecord,
    IngestRejection,
    IngestResult,
)
from server.errors import Conflict, NotFound, Unavailable, Unprocessable
from server.models import ID_LEN, Attendee, Badge, CheckIn, Event, Gateway, Zone
from server.services.batches import store_batch

logger = logging.getLogger(__name__)

Direction = Literal["entry", "exit"]
Subject = int | str
"""Who a tap is about: an attendee id, or the badge id when the attendee is not known."""

ACCEPTED = "accepted"
FAILED_OUTCOMES = tuple(o for o in get_args(CheckInOutcome) if o != ACCEPTED)
"""Every outcome but ``accepted`` (an ``IN`` list the outcome index can serve)."""
MAX_EVENT_SECONDS = 253_402_300_799
"""9999-12-31T23:59:59Z, the last time a ``datetime`` holds: later taps are refused."""
DESK_READER = "desk"
MAX_BUCKETS = 5000
_DESK_DOMAIN = b"inperson/desk-checkin/v1\x00"
_CHUNK = 500
_STREAM = 5000
_Columns = TypeVarTuple("_Columns")
_ATTEMPTS = 3
_CHECKINS = CheckIn.metadata.tables[CheckIn.__tablename__]
Content = tuple[str, str, str, str, str, int, str]


def desk_checkin_id(event: str, nonce: str) -> str:
    """Return the id of the desk check-in made with the client's ``nonce`` in ``event``."""
    data = event.encode() + b"\x00" + nonce.encode()
    return hashlib.sha256(_DESK_DOMAIN + data).digest()[:16].hex()


def _subject(attendee_id: int | None, badge: str | None) -> Subject:
    return attendee_id if attendee_id is not None else f"badge:{badge}"


# --- gateway records -----------------------------------------------------------------------


def _content(record: CheckInRecord, zone: str) -> Content:
    r = record
    return (r.event, r.badge, r.reader, zone, r.direction, r.t, r.outcome)


def _zone_of(record: CheckInRecord, gateway: Gateway) -> str:
    return record.zone or gateway.zone


def _rejection(record: CheckInRecord, gateway: Gateway) -> tuple[str, str] | None:
    if record.event != gateway.event_id:
        return (
            "wrong_event",
            f"check-in is for event {record.event}, gateway belongs to {gateway.event_id}",
        )
    if record.gateway != gateway.id:
        return "wrong_gateway", f"check-in names gateway {record.gateway}, sent by {gateway.id}"
    if record.t > MAX_EVENT_SECONDS:
        return "malformed", "t is after 9999-12-31"
    if "\x00" in record.zone or "\x00" in record.detail:
        return "malformed", "zone and detail cannot contain NUL characters"
    if len(_zone_of(record, gateway)) > ID_LEN:
        return "malformed", f"no zone in the record and the gateway's zone exceeds {ID_LEN} chars"
    return None


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _owners(session: Session, event_id: str, badges: Iterable[str]) -> dict[str, int | None]:
    """Return the attendee of each of the event's badges (``None``: the attendee is erased)."""
    owners: dict[str, int | None] = {}
    for chunk in _chunks(sorted(set(badges))):
        query = (
            select(Badge.id, Badge.attendee_id, Attendee.erased_at)
            .join(Attendee, Attendee.id == Badge.attendee_id)
            .where(Badge.event_id == event_id, Badge.id.in_(chunk))
        )
        for badge, attendee, erased_at in session.execute(query):
            owners[badge] = None if erased_at is not None else attendee
    return owners


def _stored(session: Session, ids: Sequence[str]) -> dict[str, Content]:
    c = CheckIn
    stored: dict[str, Content] = {}
    for chunk in _chunks(sorted(set(ids))):
        query = select(
            c.id, c.event_id, c.badge, c.reader, c.zone, c.direction, c.t, c.outcome, c.source
        ).where(c.id.in_(chunk))
        for row in session.execute(query):
            if row[8] != "gateway":  # a desk check-in with this id: never the same record
                stored[row[0]] = ("", "", "", "", "", -1, "")
                continue
            stored[row[0]] = (row[1], row[2] or "", row[3] or "", row[4], row[5], row[6], row[7])
    return stored


def _ingest_once(
    session: Session, gateway: Gateway, records: list[CheckInRecord], now: datetime
) -> IngestResult:
    owners = _owners(session, gateway.event_id, (r.badge for r in records))
    seen = _stored(session, [r.id for r in records])
    rows: list[dict[str, object]] = []
    rejected: list[IngestRejection] = []
    duplicates = 0
    for record in records:
        reason = _rejection(record, gateway)
        if reason is not None:
            rejected.append(IngestRejection(id=record.id, code=reason[0], detail=reason[1]))
            continue
        zone = _zone_of(record, gateway)
        content = _content(record, zone)
        prior = seen.get(record.id)
        if prior is None:
            seen[record.id] = content
            rows.append(
                {
                    "id": record.id,
                    "event_id": record.event,
                    "source": "gateway",
                    "nonce": None,
                    "request_sha256": None,
                    "badge": record.badge,
                    "attendee_id": owners.get(record.badge),
                    "reader": record.reader,
                    "gateway_id": gateway.id,
                    "zone": zone,
                    "direction": record.direction,
                    "t": record.t,
                    "received_at": record.received_at,
                    "outcome": record.outcome,
                    "detail": record.detail,
                    "stored_at": now,
                }
            )
        elif prior == content:
            duplicates += 1
        else:
            rejected.append(
                IngestRejection(
                    id=record.id,
                    code="conflict",
                    detail="a different check-in with this id is already stored",
                )
            )
    if rows:
        session.execute(insert(_CHECKINS), rows)
    session.commit()
    return IngestResult(accepted=len(rows), duplicates=duplicates, rejected=rejected)


def ingest_checkins(
    session: Session, gateway: Gateway, batch: CheckInBatch, now: datetime
) -> IngestResult:
    """Store the batch's new check-in records (every outcome) in one transaction.

    Raises:
        Unavailable: concurrent ingests kept inserting the same ids; nothing was stored.
    """
    return store_batch(
        session, gateway, "check-ins", lambda: _ingest_once(session, gateway, batch.checkins, now)
    )


# --- desk check-ins ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeskRequest:
    """A check-in made by the organizer's staff (or an offline desk uploading later).

    Exactly one of ``badge`` and ``attendee`` is set. ``t`` is the real time of the
    check-in in event seconds, ``None`` meaning "now".
    """

    nonce: str
    zone: str
    direction: Direction
    badge: str | None = None
    attendee: int | None = None
    t: int | None = None

    def fingerprint(self) -> str:
        """Return a hash of what was asked, to tell a retry from a reused nonce."""
        fields = [self.badge, self.attendee, self.zone, self.direction, self.t]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def _inside_at(
    session: Session, event_id: str, zone: str, who: tuple[int | None, str | None], t: int
) -> bool:
    """Whether the subject of ``who`` (attendee, badge) is inside ``zone`` at time ``t``."""
    query = select(CheckIn.direction).where(
        CheckIn.event_id == event_id,
        CheckIn.zone == zone,
        CheckIn.outcome == ACCEPTED,
        CheckIn.t <= t,
    )
    attendee_id, badge = who
    if attendee_id is not None:  # the same subject as _subject()
        query = query.where(CheckIn.attendee_id == attendee_id)
    else:
        query = query.where(CheckIn.attendee_id.is_(None), CheckIn.badge == badge)
    last = session.scalar(
        query.order_by(CheckIn.t.desc(), CheckIn.received_at.desc(), CheckIn.id.desc()).limit(1)
    )
    return last == "entry"


def _decide(
    session: Session, event: Event, request: DeskRequest
) -> tuple[str, str, str | None, int | None]:
    """Return ``(outcome, detail, badge, attendee_id)`` for a desk request."""
    if request.badge is not None:
        badge = session.get(Badge, request.badge)
        if badge is None:
            return "unknown_badge", "no such badge", request.badge, None
        if badge.event_id != event.id:
            return "not_registered", "the badge belongs to another event", request.badge, None
        owner = session.get(Attendee, badge.attendee_id)
        attendee_id = None if owner is None or owner.erased_at is not None else owner.id
        if badge.revoked:
            return "revoked_badge", "the badge was revoked", badge.id, attendee_id
        return ACCEPTED, "", badge.id, attendee_id
    attendee = session.get(Attendee, request.attendee)
    if attendee is None or attendee.event_id != event.id:
        raise NotFound(
            f"no attendee {request.attendee} in event {event.id}", code="attendee_not_found"
        )
    if attendee.erased_at is not None:
        return "not_registered", "the attendee was erased", None, None
    active = session.scalar(
        select(Badge.id).where(Badge.attendee_id == attendee.id, Badge.revoked.is_(False))
    )
    return ACCEPTED, "", active, attendee.id


def desk_checkin(
    session: Session, event: Event, request: DeskRequest, now: datetime
) -> tuple[CheckIn, bool]:
    """Check a badge or attendee in or out of a zone at the desk; idempotent on the nonce.

    Returns:
        The stored check-in and whether it was created now (``False``: a retry).

    Raises:
        Unprocessable: the zone is not one of the event's zones (code ``unknown_zone``).
        NotFound: the attendee is not in this event (code ``attendee_not_found``).
        Conflict: the nonce was used for another request (code ``nonce_reused``).
    """
    checkin_id = desk_checkin_id(event.id, request.nonce)
    fingerprint = request.fingerprint()
    for attempt in range(_ATTEMPTS):
        stored = session.get(CheckIn, checkin_id)
        if stored is not None:
            if stored.source != "desk" or stored.request_sha256 != fingerprint:
                raise Conflict(
                    f"nonce {request.nonce} was already used for another check-in",
                    code="nonce_reused",
                )
            return stored, False
        if session.get(Zone, (event.id, request.zone)) is None:
            raise Unprocessable(f"no zone {request.zone} in event {event.id}", code="unknown_zone")
        outcome, detail, badge, attendee_id = _decide(session, event, request)
        received = int(now.timestamp())
        t = received if request.t is None else request.t
        if outcome == ACCEPTED and request.direction == "entry":
            if _inside_at(session, event.id, request.zone, (attendee_id, badge), t):
                outcome, detail = "already_inside", f"already inside {request.zone}"
        row = CheckIn(
            id=checkin_id,
            event_id=event.id,
            source="desk",
            nonce=request.nonce,
            request_sha256=fingerprint,
            badge=badge,
            attendee_id=attendee_id,
            reader=DESK_READER,
            gateway_id=None,
            zone=request.zone,
            direction=request.direction,
            t=t,
            received_at=received,
            outcome=outcome,
            detail=detail,
            stored_at=now,
        )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # the same nonce, stored by a concurrent request
            logger.info("desk check-in raced event=%s attempt=%d", event.id, attempt)
            continue
        logger.info(
            "desk check-in event=%s zone=%s direction=%s outcome=%s",
            event.id,
            request.zone,
            request.direction,
            outcome,
        )
        return row, True
    raise Unavailable("concurrent check-ins with the same nonce; retry", code="checkin_busy")


# --- reads ---------------------------------------------------------------------------------


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
        yield z, t, _subject(attendee, badge), direction


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
        zones = zones_of.setdefault(_subject(attendee, badge), set())
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
        subject = _subject(attendee, badge)
        if direction == "entry":
            prior = state.get(subject)
            state[subject] = prior if prior is not None else (attendee, badge, int(t))
        else:
            state[subject] = None
    present = [v for v in state.values() if v is not None]
    ids = [a for a, _, _ in present if a is not None]
    names: dict[int, str] = {}
    for chunk in range(0, len(ids), _CHUNK):
        query_names = select(Attendee.id, Attendee.name).where(
            Attendee.id.in_(ids[chunk : chunk + _CHUNK])
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


def pseudonymise_checkins(session: Session, attendee_id: int, pseudonym: str) -> int:
    """Detach an erased attendee's check-ins from them (without committing).

    Their badge id becomes ``pseudonym`` (random, the same for all of them, so occupancy
    replays stay right), the attendee reference and the desk request fingerprint are
    cleared. Returns how many check-ins were changed.
    """
    rows = list(session.scalars(select(CheckIn).where(CheckIn.attendee_id == attendee_id)))
    for row in rows:
        row.attendee_id = None
        row.badge = pseudonym
        row.request_sha256 = None
    return len(rows)


def expired_checkin_ids(session: Session, event_id: str, cutoff: datetime, limit: int) -> list[str]:
    """Return up to ``limit`` ids of the event's check-ins stored before ``cutoff``."""
    query = select(CheckIn.id).where(CheckIn.event_id == event_id, CheckIn.stored_at < cutoff)
    return list(session.scalars(query.limit(limit)))
