"""Erasure: an attendee's personal data is removed; their meetings stay, pseudonymous.

What erasure does, in one transaction:

- name becomes ``"(erased)"``; company, title, email, phone and external id are cleared;
- consent becomes ``share_level="none"`` and ``erased_at`` is set, so the attendee
  appears in nobody's export and their self-service links stop working;
- their badges are revoked (gateways stop accepting them at the next registry fetch).

Meetings are *kept*: they reference random badge ids, never personal data, and they
are also the other attendees' history (the people they met keep their counts and
times, but see nothing of the erased person). The organizer's statistics stay right.

Check-ins are *pseudonymised*: they no longer name the attendee, their badge id is
replaced by one random pseudonym (``erased-`` + 16 hex characters, the same for all of
that attendee's check-ins, linked to nothing), and desk request fingerprints are cleared.
Zone counts, occupancy and attendance over time stay right; nobody can tell whose
check-ins they were.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from server.models import Attendee, Badge
from server.services.auth import TokenBytes
from server.services.checkins import pseudonymise_checkins

logger = logging.getLogger(__name__)

ERASED_NAME = "(erased)"


def erase_attendee(
    session: Session, attendee: Attendee, now: datetime, token_bytes: TokenBytes
) -> None:
    """Remove the attendee's personal data, revoke their badges, pseudonymise their check-ins.

    Idempotent. ``token_bytes`` supplies the random pseudonym of the check-ins.
    """
    attendee.name = ERASED_NAME
    attendee.company = None
    attendee.title = None
    attendee.email = None
    attendee.phone = None
    attendee.external_id = None
    attendee.share_level = "none"
    if attendee.erased_at is None:
        attendee.erased_at = now
    session.execute(update(Badge).where(Badge.attendee_id == attendee.id).values(revoked=True))
    pseudonymise_checkins(session, attendee.id, "erased-" + token_bytes(8).hex())
    session.commit()
    logger.info("attendee erased event=%s attendee=%s", attendee.event_id, attendee.id)
