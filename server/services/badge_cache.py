"""Which badges are registered for an event, as ingest needs to know: a per-process cache.

Badges are never deleted and never change event (a lost badge is revoked, an erased
attendee's badges too, and a revoked badge still names its meetings), so a badge once
found stays known. A batch is first checked against the badges already known for its
event (``BadgeCache.cached``, no query); only when that fails are the batch's badges not
seen before looked up (``BadgeCache.known``). If badges could ever be deleted, this cache
would have to go: a deleted badge would then fail the foreign key at insert (the batch
answered 503), not be stored.
"""

from __future__ import annotations

import threading
import weakref

from sqlalchemy.orm import Session

from protocol.api import Meeting
from server.models import Badge

_BADGE_CHUNK = 2000
_NONE: frozenset[str] = frozenset()


def _mark(session: Session) -> str:
    """Return the DBAPI's positional parameter marker (``?`` for SQLite, ``%s`` for psycopg)."""
    return "?" if session.connection().dialect.paramstyle == "qmark" else "%s"


def registered_badges(session: Session, event_id: str, wanted: list[str]) -> set[str]:
    """Return which of ``wanted`` are badges registered for the event.

    Plain SQL through the DBAPI cursor, ``_BADGE_CHUNK`` ids a query: building a
    500-value ``IN`` with SQLAlchemy, and its result rows, cost more than running it.
    Looked up by primary key and filtered by event here, so the cost follows the batch,
    not the event's number of badges.
    """
    mark = _mark(session)
    cursor = session.connection().connection.cursor()
    known: set[str] = set()
    try:
        for start in range(0, len(wanted), _BADGE_CHUNK):
            chunk = wanted[start : start + _BADGE_CHUNK]
            cursor.execute(
                f"SELECT id, event_id FROM {Badge.__tablename__} "
                f"WHERE id IN ({', '.join(mark for _ in chunk)})",
                chunk,
            )
            known.update(badge for badge, event in cursor.fetchall() if event == event_id)
    finally:
        cursor.close()
    return known


class BadgeCache:
    """Per engine and event: the badge ids known to be registered for the event.

    Each event's set is immutable and replaced when badges are learnt, so a reader holds
    a consistent snapshot without the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_engine: weakref.WeakKeyDictionary[object, dict[str, frozenset[str]]] = (
            weakref.WeakKeyDictionary()
        )

    def cached(self, session: Session, event_id: str) -> frozenset[str]:
        """Return the badges already known to be registered for the event (no query).

        Every one of them is registered for the event; a badge missing from it may be too.
        """
        with self._lock:
            return self._by_engine.get(session.get_bind(), {}).get(event_id, _NONE)

    def known(self, session: Session, event_id: str, meetings: list[Meeting]) -> set[str]:
        """Return which of the batch's badges are registered for the event.

        Looks up only those not known yet, and remembers the ones found.
        """
        engine = session.get_bind()
        wanted = {m.badge_a for m in meetings} | {m.badge_b for m in meetings}
        hits = wanted & self.cached(session, event_id)
        if len(hits) == len(wanted):
            return hits
        found = registered_badges(session, event_id, sorted(wanted - hits))
        with self._lock:
            by_event = self._by_engine.setdefault(engine, {})
            by_event[event_id] = by_event.get(event_id, _NONE) | found
        return hits | found


cache = BadgeCache()
"""The process's badge cache (one per process, keyed by engine)."""
