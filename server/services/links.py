"""Attendee self-service links: a signed, expiring token naming one attendee of one event.

A link token is ``v1.<event>.<attendee>.<expires>.<signature>``: the signature is
HMAC-SHA256 under the server's link secret over everything before it, so the
server stores nothing per link and any worker can check one. Tokens name exactly
one attendee; every self-service route acts on that attendee only. A link stops
working when it expires, when the attendee is erased, or for every attendee when
the link secret changes (the way to revoke leaked links).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from server.errors import Unauthorized
from server.models import Attendee, Event

logger = logging.getLogger(__name__)

_VERSION = "v1"
_DERIVATION = b"inperson attendee links v1"
MAX_LINK_LENGTH = 200


def link_secret(configured: str | None, organizer_token: str) -> bytes:
    """Return the key signing links: the configured secret, else one derived from the token.

    Args:
        configured: ``SERVER_LINK_SECRET`` if set.
        organizer_token: the bootstrap organizer's token (the fallback's root secret).
    """
    root = configured if configured else organizer_token
    return hmac.new(root.encode(), _DERIVATION, hashlib.sha256).digest()


def _signature(secret: bytes, payload: str) -> str:
    digest = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class AttendeeLink:
    """A self-service link token and when it stops working."""

    token: str
    expires_at: int


def issue_link(secret: bytes, attendee: Attendee, expires_at: datetime) -> AttendeeLink:
    """Return a signed link token for the attendee, valid until ``expires_at``."""
    expires = int(expires_at.timestamp())
    payload = f"{_VERSION}.{attendee.event_id}.{attendee.id}.{expires}"
    logger.info("link issued event=%s attendee=%s", attendee.event_id, attendee.id)
    return AttendeeLink(token=f"{payload}.{_signature(secret, payload)}", expires_at=expires)


def _invalid(detail: str = "not a valid attendee link") -> Unauthorized:
    return Unauthorized(detail, code="invalid_link")


def resolve_link(session: Session, secret: bytes, token: str, now: datetime) -> Attendee:
    """Return the attendee a link token names, after checking signature and expiry.

    Raises:
        Unauthorized: malformed or forged (``invalid_link``), expired (``expired_link``),
            or naming an attendee that no longer exists or was erased (``invalid_link``).
    """
    if len(token) > MAX_LINK_LENGTH:
        raise _invalid()
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != _VERSION:
        raise _invalid()
    payload, signature = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(signature.encode(), _signature(secret, payload).encode()):
        logger.warning("rejected attendee link: bad signature")
        raise _invalid()
    event_id, attendee_text, expires_text = parts[1], parts[2], parts[3]
    if not (attendee_text.isdigit() and expires_text.isdigit()):
        raise _invalid()
    if int(expires_text) < now.timestamp():
        raise Unauthorized("this attendee link has expired; ask for a new one", code="expired_link")
    attendee = session.get(Attendee, int(attendee_text))
    if attendee is None or attendee.event_id != event_id or attendee.erased_at is not None:
        raise _invalid("this attendee link no longer names anyone")
    if session.get(Event, event_id) is None:
        raise _invalid("this attendee link no longer names anyone")
    return attendee
