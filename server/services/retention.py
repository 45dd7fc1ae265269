"""Retention: meetings and check-ins older than their event's ``retention_days`` are deleted.

A meeting is the raw evidence of an encounter (who, when, where, which gateway, signal
strength). It is kept for ``retention_days`` after the server received it
(``received_at``, wall time: a replayed or simulated event is kept as long as a live
one); then the purge deletes it. Connections and exports are computed from meetings, so once
an event's meetings are all past the limit its "people I met" lists are empty too:
attendees are meant to export during the event or soon after (the retention is an event
setting, 1-3650 days, 30 by default). Attendee rows are not touched (erasure is separate).

Check-ins (every tap, accepted or failed) are raw evidence too: each is kept for
``retention_days`` after the server stored it (``stored_at``), then purged the same way;
zone counts and attendance statistics are computed from them and shrink with them.

``purge_expired`` is idempotent and deletes in chunks, so it can run often; the server
runs it on a schedule (``SERVER_RETENTION_INTERVAL_S``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.models import CheckIn, Event, Meeting
from server.services.checkins import expired_checkin_ids
from server.services.events import detection_settings_of

logger = logging.getLogger(__name__)

_CHUNK = 5000


def retention_cutoff(event: Event, now: datetime) -> datetime:
    """Return the reception time before which an event's meetings have expired."""
    return now - timedelta(days=detection_settings_of(event).retention_days)


def purge_expired(session: Session, now: datetime) -> int:
    """Delete every meeting and check-in received more than its event's retention before ``now``.

    Returns:
        How many rows (meetings and check-ins) were deleted.
    """
    deleted = 0
    for event in session.scalars(select(Event).order_by(Event.id)).all():
        cutoff = retention_cutoff(event, now)
        while True:
            expired = (
                select(Meeting.first_seen, Meeting.id)
                .where(Meeting.event_id == event.id, Meeting.received_at < cutoff)
                .limit(_CHUNK)
            )
            keys = session.execute(expired).all()
            if not keys:
                break
            # seeks of the (event_id, first_seen, id) primary key; ids are unique, so the
            # two IN lists name exactly these rows (and received_at keeps it to expired ones)
            session.execute(
                delete(Meeting).where(
                    Meeting.event_id == event.id,
                    Meeting.first_seen.in_(sorted({k.first_seen for k in keys})),
                    Meeting.id.in_([k.id for k in keys]),
                    Meeting.received_at < cutoff,
                )
            )
            session.commit()
            deleted += len(keys)
            logger.info("purged expired meetings event=%s n=%d", event.id, len(keys))
        while ids := expired_checkin_ids(session, event.id, cutoff, _CHUNK):
            session.execute(delete(CheckIn).where(CheckIn.id.in_(ids)))
            session.commit()
            deleted += len(ids)
            logger.info("purged expired check-ins event=%s n=%d", event.id, len(ids))
    return deleted
