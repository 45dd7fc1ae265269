"""Check-ins: what every tap is, and the gateway readers' records.

Every tap is stored, accepted or not (a failed tap is evidence too: a revoked badge at the
door, a reader with a stale nonce). Only ``accepted`` taps change who is inside: an
accepted entry puts the tap's *subject* (its attendee, or its badge when the server does
not know the badge) inside the zone, an accepted exit takes it out. Replaying a zone's
accepted taps in event-time order (``t``, then the reader's ``received_at``, then id) gives
its occupancy at any time, so taps uploaded hours late by an offline reader land in their
real place (``server.services.attendance`` reads it; ``server.services.desk`` holds the
organizer's desk check-ins).

Gateway records (``POST /gateway/checkins``) carry the reader's outcome and are idempotent
on their id (``protocol.ids.checkin_id``): the same record again is a duplicate, another
record with that id is rejected as ``conflict``.

Rejection codes of gateway records: wrong_event, wrong_gateway, malformed (``t`` after
9999, or no zone), conflict.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from protocol.api import (
    CheckInBatch,
    CheckInOutcome,
    CheckInRecord,
    IngestRejection,
    IngestResult,
)
from server.models import ID_LEN, Attendee, Badge, CheckIn, Gateway
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
CHUNK = 500
"""Ids per ``IN`` list."""
_CHECKINS = CheckIn.metadata.tables[CheckIn.__tablename__]
Content = tuple[str, str, str, str, str, int, str]


def subject_of(attendee_id: int | None, badge: str | None) -> Subject:
    """Return who a tap is about (the attendee, else the badge)."""
    return attendee_id if attendee_id is not None else f"badge:{badge}"


def chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    """Split ``values`` into ``IN`` lists of at most ``CHUNK``."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


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


def _owners(session: Session, event_id: str, badges: Iterable[str]) -> dict[str, int | None]:
    """Return the attendee of each of the event's badges (``None``: the attendee is erased)."""
    owners: dict[str, int | None] = {}
    for chunk in chunks(sorted(set(badges))):
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
    for chunk in chunks(sorted(set(ids))):
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
