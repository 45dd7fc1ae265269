"""Desk check-ins (pretix-style): the organizer's staff check a badge or attendee in or out.

Idempotent on the client's nonce: the server decides the outcome once and answers a retry
with the stored result; the same nonce with another request is a ``Conflict``. An entry of
someone already inside the zone (at the tap's time ``t``) is stored as ``already_inside``;
concurrent entries of one person are serialised (see ``_lock_subject``), so exactly one of
them is accepted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.errors import Conflict, NotFound, Unavailable, Unprocessable
from server.models import Attendee, Badge, CheckIn, Event, Zone
from server.services.checkins import ACCEPTED, DESK_READER, Direction

logger = logging.getLogger(__name__)

_DESK_DOMAIN = b"inperson/desk-checkin/v1\x00"
_ATTEMPTS = 3


def desk_checkin_id(event: str, nonce: str) -> str:
    """Return the id of the desk check-in made with the client's ``nonce`` in ``event``."""
    data = event.encode() + b"\x00" + nonce.encode()
    return hashlib.sha256(_DESK_DOMAIN + data).digest()[:16].hex()


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


def _lock_subject(session: Session, attendee_id: int | None, badge: str | None) -> None:
    """Serialise desk entries of one person until this transaction ends.

    Without it two concurrent entries (two desks scanning the same badge) could both read
    "not inside" and both be accepted. PostgreSQL: a row lock on the attendee (else the
    badge), ``SELECT ... FOR UPDATE``, so only that person's entries wait. SQLite: a write
    that changes nothing opens the write transaction now (pysqlite begins one before any
    ``UPDATE``), and SQLite has one writer at a time, so the check that follows sees every
    committed entry and no other entry can commit before this one.
    """
    table, key = (Attendee, attendee_id) if attendee_id is not None else (Badge, badge)
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(table).where(table.id == key).values(id=table.id))
    else:
        session.execute(select(table.id).where(table.id == key).with_for_update())


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
            _lock_subject(session, attendee_id, badge)
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
