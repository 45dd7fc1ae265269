"""Meeting ingest from gateways: validate per meeting, idempotent on meeting id, one transaction.

Two meetings with the same id are the same meeting when their *content* is
equal: event, kind, the unordered badge pair, first/last seen, contact seconds
and windows. Which gateway saw it, the zone and the RSSI are metadata, so two
gateways forwarding the same encounter count it once.

Rejection codes: those of ``server.services.meeting_checks`` (wrong_event, wrong_gateway,
self_meeting, unknown_badge, invalid_id, invalid_interval, malformed) and conflict. A
rejected meeting never stops the rest of its batch. ``invalid_id``: the id is not
``protocol.ids.meeting_id`` of the meeting's kind, event, badges and ``first_seen`` (the
design's deterministic id); the check is what lets the meetings table be keyed
``(event_id, first_seen, id)``.

How a batch is stored (the fast path; docs/performance.md has the figures):

1. the batch is checked in Python, all at once (``meeting_checks.all_valid``), against
   the badges this process already knows registered for the event
   (``server.services.badge_cache``, no query); if that fails, again with the batch's
   badges looked up (only those not known yet); meeting by meeting only if something is
   refused;
2. the new rows go in with one DBAPI ``executemany`` of
   ``INSERT ... ON CONFLICT (event_id, first_seen, id) DO NOTHING`` (no ORM, no per-row
   SQLAlchemy type processing; ``received_at`` is converted once per batch).
   A stored meeting makes its row a no-op instead of an error, so concurrent ingests of
   the same meetings need no retry. The key is local (recent ``first_seen`` values sit
   together at the end of the index) where the id, a hash, is random: that halved the
   database's work per batch (migration ``r0005``, docs/performance.md);
3. only when fewer rows went in than were sent does one query read the stored
   content of the batch's meetings, to tell duplicates (same content) from conflicts
   (different content). A batch of new meetings does no read of the meetings table
   besides the ingest generation below.

Each row carries its *ingest generation* (``Meeting.ingest_gen``,
``server.services.generations``), so a batch adds its per-badge index entries to the
few pages of the current generation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol.api import IngestRejection, IngestResult, Meeting, MeetingBatch
from protocol.ids import ordered_pair
from server.models import Meeting as MeetingRow
from server.services import badge_cache, generations
from server.services.batches import Sender, store_batch
from server.services.meeting_checks import all_valid, rejection_for
from server.services.meeting_ids import IdCheck

logger = logging.getLogger(__name__)

Content = tuple[str, str, str, str, int, int, int, int]
_CHUNK = 500
_MEETINGS = MeetingRow.metadata.tables[MeetingRow.__tablename__]
_COLUMNS = (
    "id",
    "event_id",
    "kind",
    "badge_a",
    "badge_b",
    "first_seen",
    "last_seen",
    "contact_seconds",
    "windows",
    "gateway_id",
    "zone",
    "rssi_median_dbm",
    "received_at",
    "ingest_gen",
)
_CONFLICT = "conflict", "a different meeting with this id is already stored"


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


def _mark(session: Session) -> str:
    """Return the DBAPI's positional parameter marker (``?`` for SQLite, ``%s`` for psycopg)."""
    return "?" if session.connection().dialect.paramstyle == "qmark" else "%s"


def _stored_contents(session: Session, event_id: str, keys: dict[str, int]) -> dict[str, Content]:
    """Return the stored content of the meetings ``keys`` (id -> first_seen) names.

    Seeks the primary key with ``first_seen IN (...) AND id IN (...)`` (a row-value
    ``IN`` makes SQLite scan the event) and keeps the exact ``(first_seen, id)`` pairs.
    """
    t = MeetingRow
    stored: dict[str, Content] = {}
    for chunk in _chunks(sorted(keys)):
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
        ).where(
            t.event_id == event_id,
            t.first_seen.in_(sorted({keys[i] for i in chunk})),
            t.id.in_(chunk),
        )
        for row in session.execute(query):
            if keys[row[0]] != row[5]:
                continue
            a, b = ordered_pair(row[3], row[4])
            stored[row[0]] = (row[1], row[2], a, b, row[5], row[6], row[7], row[8])
    return stored


def _insert_sql(mark: str) -> str:
    return (
        f"INSERT INTO {_MEETINGS.name} ({', '.join(_COLUMNS)}) "
        f"VALUES ({', '.join(mark for _ in _COLUMNS)}) "
        "ON CONFLICT (event_id, first_seen, id) DO NOTHING"
    )


def _insert(session: Session, rows: list[tuple[Any, ...]]) -> int:
    """Insert rows (``_COLUMNS`` order), skipping stored ids; return how many went in.

    One DBAPI ``executemany``: pysqlite runs it without round trips, psycopg in pipeline
    mode (measured faster than multi-row ``INSERT`` statements of 500 rows); both sum the
    row counts of its executions.
    """
    connection = session.connection()
    sql = _insert_sql(_mark(session))
    if connection.dialect.supports_sane_multi_rowcount:
        return int(connection.exec_driver_sql(sql, rows).rowcount)
    return sum(int(connection.exec_driver_sql(sql, row).rowcount) for row in rows)


def _received_at(session: Session, now: datetime) -> object:
    """Return ``now`` as the driver wants it for ``received_at`` (converted once per batch)."""
    dialect = session.connection().dialect
    process = _MEETINGS.c.received_at.type.dialect_impl(dialect).bind_processor(dialect)
    return process(now) if process is not None else now


def _rejection(meeting_id: str, reason: tuple[str, str]) -> IngestRejection:
    return IngestRejection(id=meeting_id, code=reason[0], detail=reason[1])


def _classify(
    valid: Iterable[tuple[int, Meeting]], seen: dict[str, Content]
) -> tuple[int, list[tuple[int, IngestRejection]]]:
    """Walk the valid meetings in batch order against ``seen`` (id -> stored content).

    Returns the number of same-content repeats (duplicates) and the conflicts with
    their positions; ``seen`` learns the first content of every new id.
    """
    duplicates = 0
    conflicts: list[tuple[int, IngestRejection]] = []
    for position, meeting in valid:
        meeting_id, content = meeting.id, content_of(meeting)
        prior = seen.get(meeting_id)
        if prior is None:
            seen[meeting_id] = content
        elif prior == content:
            duplicates += 1
        else:
            conflicts.append((position, _rejection(meeting_id, _CONFLICT)))
    return duplicates, conflicts


def _judge(
    session: Session, meetings: list[Meeting], event_id: str, gateway_id: str
) -> tuple[list[tuple[int, Meeting]] | None, list[tuple[int, IngestRejection]]]:
    """Return the batch's valid meetings (None: all of them) and its rejections, with positions.

    First against the badges already known for the event (no query, no set of the batch's
    badges: the common case), then with the batch's badges looked up, then meeting by
    meeting. ``all_valid`` and ``rejection_for`` agree, and every cached badge is
    registered, so the answer is the one the looked-up badges give. None spares the
    common case a list of 500 ``(position, meeting)`` pairs.
    """
    ids = IdCheck(event_id)
    cached = badge_cache.cache.cached(session, event_id)
    if all_valid(meetings, event_id, gateway_id, cached, ids):
        return None, []
    known = badge_cache.cache.known(session, event_id, meetings)
    # with no badge newly found, the answer cannot change: straight to meeting by meeting
    if not known <= cached and all_valid(meetings, event_id, gateway_id, known, ids):
        return None, []
    valid: list[tuple[int, Meeting]] = []
    rejected: list[tuple[int, IngestRejection]] = []
    for position, meeting in enumerate(meetings):
        reason = rejection_for(meeting, event_id, gateway_id, known, ids)
        if reason is None:
            valid.append((position, meeting))
        else:
            rejected.append((position, _rejection(meeting.id, reason)))
    return valid, rejected


def _firsts(meetings: list[Meeting]) -> list[Meeting]:
    """Return the first meeting of each id, in batch order."""
    seen: set[str] = set()
    firsts = []
    for meeting in meetings:
        if meeting.id not in seen:
            seen.add(meeting.id)
            firsts.append(meeting)
    return firsts


def _ingest_once(
    session: Session, gateway: Sender, meetings: list[Meeting], now: datetime
) -> IngestResult:
    event_id = gateway.event_id
    gateway_id = gateway.id
    received_at = _received_at(session, now)
    gen = generations.cache.generation(session, event_id)
    fallback_zone = gateway.zone
    valid, rejected = _judge(session, meetings, event_id, gateway_id)
    kept = meetings if valid is None else [meeting for _, meeting in valid]
    # the first meeting of each id is inserted; a repeat of it is a duplicate or a conflict
    firsts = {meeting.id: meeting.first_seen for meeting in reversed(kept)}
    rows = [
        (
            meeting.id,
            meeting.event,
            meeting.kind,
            meeting.badge_a,
            meeting.badge_b,
            meeting.first_seen,
            meeting.last_seen,
            meeting.contact_seconds,
            meeting.windows,
            gateway_id,
            meeting.zone or fallback_zone,
            meeting.rssi_median_dbm,
            received_at,
            gen,
        )
        for meeting in (kept if len(firsts) == len(kept) else _firsts(kept))
    ]
    inserted = _insert(session, rows) if rows else 0
    duplicates: int
    conflicts: list[tuple[int, IngestRejection]]
    pairs = enumerate(meetings) if valid is None else valid
    if inserted == len(rows) == len(kept):
        # every meeting had a new id, once: nothing to compare
        duplicates, conflicts = 0, []
    elif inserted == len(rows):
        # every id was new: repeats are judged against the batch's first meeting of the id
        duplicates, conflicts = _classify(pairs, {})
    else:
        # some ids were stored already: judge every meeting against what is stored now
        # (which includes the rows just inserted, so their first meeting counts as a repeat)
        duplicates, conflicts = _classify(pairs, _stored_contents(session, event_id, firsts))
        duplicates -= inserted
    session.commit()
    generations.cache.added(session, gateway.event_id, gen, inserted)
    rejected.extend(conflicts)
    rejected.sort(key=lambda item: item[0])
    return IngestResult(accepted=inserted, duplicates=duplicates, rejected=[r for _, r in rejected])


def ingest_batch(
    session: Session, gateway: Sender, batch: MeetingBatch, now: datetime
) -> IngestResult:
    """Store the batch's new meetings in one transaction; count duplicates; reject the rest.

    Raises:
        Unavailable: concurrent ingests kept inserting the same ids; nothing was stored.
    """
    return store_batch(
        session, gateway, "meetings", lambda: _ingest_once(session, gateway, batch.meetings, now)
    )
