"""Meeting ingest from gateways: validate per meeting, idempotent on meeting id, one transaction.

Two meetings with the same id are the same meeting when their *content* is
equal: event, kind, the unordered badge pair, first/last seen, contact seconds
and windows. Which gateway saw it, the zone and the RSSI are metadata, so two
gateways forwarding the same encounter count it once.

Rejection codes: wrong_event, wrong_gateway, self_meeting, unknown_badge,
invalid_interval, malformed, conflict. A rejected meeting never stops the rest
of its batch.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol.api import IngestRejection, IngestResult, Meeting, MeetingBatch
from protocol.ids import ordered_pair
from server.errors import Unavailable
from server.models import NAME_LEN, Badge, Gateway
from server.models import Meeting as MeetingRow

logger = logging.getLogger(__name__)

Content = tuple[str, str, str, str, int, int, int, int]
_CHUNK = 500
_MAX_WINDOWS = 2**40
_ATTEMPTS = 3
_MEETINGS = MeetingRow.metadata.tables[MeetingRow.__tablename__]


def content_of(meeting: Meeting) -> Content:
    """Return what makes two meetings with one id the same meeting."""
    a, b = ordered_pair(meeting.badge_a, meeting.badge_b)
    return (
        meeting.event,
        meeting.kind,
        a,
        b,
        meeting.first_seen,
        meeting.last_seen,
        meeting.contact_seconds,
        meeting.windows,
    )


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _known_badges(session: Session, event_id: str, meetings: list[Meeting]) -> set[str]:
    wanted = sorted({m.badge_a for m in meetings} | {m.badge_b for m in meetings})
    known: set[str] = set()
    for chunk in _chunks(wanted):
        query = select(Badge.id).where(Badge.event_id == event_id, Badge.id.in_(chunk))
        known.update(session.scalars(query))
    return known


def _stored_contents(session: Session, meetings: list[Meeting]) -> dict[str, Content]:
    t = MeetingRow
    stored: dict[str, Content] = {}
    for chunk in _chunks(sorted({m.id for m in meetings})):
        query = select(
            t.id,
            t.event_id,
            t.kind,
            t.badge_a,
            t.badge_b,
            t.first_seen,
            t.last_seen,
            t.contact_seconds,
            t.windows,
        ).where(t.id.in_(chunk))
        for row in session.execute(query):
            a, b = ordered_pair(row[3], row[4])
            stored[row[0]] = (row[1], row[2], a, b, row[5], row[6], row[7], row[8])
    return stored


def rejection_of(meeting: Meeting, gateway: Gateway, known: set[str]) -> tuple[str, str] | None:
    """Return ``(code, detail)`` if the meeting cannot be stored for this gateway, else ``None``."""
    if meeting.event != gateway.event_id:
        return (
            "wrong_event",
            f"meeting is for event {meeting.event}, gateway belongs to {gateway.event_id}",
        )
    if meeting.gateway != gateway.id:
        return "wrong_gateway", f"meeting names gateway {meeting.gateway}, sent by {gateway.id}"
    if meeting.badge_a == meeting.badge_b:
        return "self_meeting", f"badge {meeting.badge_a} cannot meet itself"
    for badge in (meeting.badge_a, meeting.badge_b):
        if badge not in known:
            return "unknown_badge", f"badge {badge} is not registered for event {gateway.event_id}"
    if meeting.last_seen < meeting.first_seen:
        return "invalid_interval", "last_seen is before first_seen"
    if meeting.contact_seconds > meeting.last_seen - meeting.first_seen:
        return "invalid_interval", "contact_seconds exceeds last_seen - first_seen"
    if meeting.windows > _MAX_WINDOWS:
        return "malformed", f"windows must be at most {_MAX_WINDOWS}"
    if meeting.rssi_median_dbm is not None and not -127 <= meeting.rssi_median_dbm <= 20:
        return "malformed", "rssi_median_dbm must be within -127..20"
    if len(meeting.zone) > NAME_LEN:
        return "malformed", f"zone is longer than {NAME_LEN} characters"
    return None


def _row(meeting: Meeting, gateway: Gateway, now: datetime) -> dict[str, object]:
    return {
        "id": meeting.id,
        "event_id": meeting.event,
        "kind": meeting.kind,
        "badge_a": meeting.badge_a,
        "badge_b": meeting.badge_b,
        "first_seen": meeting.first_seen,
        "last_seen": meeting.last_seen,
        "contact_seconds": meeting.contact_seconds,
        "windows": meeting.windows,
        "gateway_id": gateway.id,
        "zone": meeting.zone or gateway.zone,
        "rssi_median_dbm": meeting.rssi_median_dbm,
        "received_at": now,
    }


def _ingest_once(
    session: Session, gateway: Gateway, meetings: list[Meeting], now: datetime
) -> IngestResult:
    known = _known_badges(session, gateway.event_id, meetings)
    seen = _stored_contents(session, meetings)
    rows: list[dict[str, object]] = []
    rejected: list[IngestRejection] = []
    duplicates = 0
    for meeting in meetings:
        reason = rejection_of(meeting, gateway, known)
        if reason is not None:
            rejected.append(IngestRejection(id=meeting.id, code=reason[0], detail=reason[1]))
            continue
        content = content_of(meeting)
        prior = seen.get(meeting.id)
        if prior is None:
            seen[meeting.id] = content
            rows.append(_row(meeting, gateway, now))
        elif prior == content:
            duplicates += 1
        else:
            rejected.append(
                IngestRejection(
                    id=meeting.id,
                    code="conflict",
                    detail="a different meeting with this id is already stored",
                )
            )
    if rows:
        # Core insert of the table: no ORM unit of work for thousands of plain rows
        session.execute(insert(_MEETINGS), rows)
    session.commit()
    return IngestResult(accepted=len(rows), duplicates=duplicates, rejected=rejected)


def ingest_batch(
    session: Session, gateway: Gateway, batch: MeetingBatch, now: datetime
) -> IngestResult:
    """Store the batch's new meetings in one transaction; count duplicates; reject the rest.

    Raises:
        Unavailable: concurrent ingests kept inserting the same ids; nothing was stored.
    """
    for attempt in range(_ATTEMPTS):
        try:
            result = _ingest_once(session, gateway, batch.meetings, now)
        except IntegrityError:
            # another request stored some of these ids between our read and our insert
            session.rollback()
            logger.info("ingest raced gateway=%s attempt=%d", gateway.id, attempt)
            continue
        _log_result(gateway, result)
        return result
    raise Unavailable("concurrent ingests of the same meetings; retry", code="ingest_busy")


def _log_result(gateway: Gateway, result: IngestResult) -> None:
    logger.info(
        "ingested event=%s gateway=%s accepted=%d duplicates=%d rejected=%d",
        gateway.event_id,
        gateway.id,
        result.accepted,
        result.duplicates,
        len(result.rejected),
    )
    if result.rejected:
        codes = Counter(r.code for r in result.rejected)
        logger.warning(
            "rejected meetings event=%s gateway=%s %s first=%s",
            gateway.event_id,
            gateway.id,
            " ".join(f"{code}={n}" for code, n in sorted(codes.items())),
            result.rejected[0].id,
        )
