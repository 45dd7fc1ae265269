"""Bearer tokens: hashing, the bootstrap organizer, and who a token belongs to.

Tokens are never stored: only their SHA-256 hex digest, compared with
``hmac.compare_digest``. Organizer tokens and gateway tokens are disjoint
roles; using one where the other is needed is ``Forbidden``, an unknown token
``Unauthorized``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.errors import Forbidden, Unauthorized
from server.models import Gateway, Organizer

logger = logging.getLogger(__name__)

TokenBytes = Callable[[int], bytes]
"""Source of random bytes (``secrets.token_bytes`` in production)."""

BOOTSTRAP_ORGANIZER_NAME = "bootstrap"


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token(token_bytes: TokenBytes, prefix: str) -> str:
    """Return a fresh random bearer token (256 bits, URL-safe), e.g. ``gw_...``."""
    raw = base64.urlsafe_b64encode(token_bytes(32)).rstrip(b"=").decode()
    return f"{prefix}_{raw}"


def bootstrap_organizer(session: Session, token_sha256: str, now: datetime) -> Organizer:
    """Return the bootstrap organizer, creating it or updating its token hash from the settings."""
    for _ in range(2):
        organizer = session.scalars(select(Organizer).where(Organizer.is_bootstrap)).first()
        if organizer is not None:
            if not hmac.compare_digest(organizer.token_sha256, token_sha256):
                organizer.token_sha256 = token_sha256
                session.commit()
                logger.info("bootstrap organizer token changed organizer=%s", organizer.id)
            return organizer
        organizer = Organizer(
            name=BOOTSTRAP_ORGANIZER_NAME,
            token_sha256=token_sha256,
            is_bootstrap=True,
            created_at=now,
        )
        session.add(organizer)
        try:
            session.commit()
        except IntegrityError:
            # another request created it first; read theirs
            session.rollback()
            continue
        logger.info("bootstrap organizer created organizer=%s", organizer.id)
        return organizer
    raise RuntimeError("bootstrap organizer could not be created")


def _find_organizer(
    session: Session, token: str, bootstrap_token: str, now: datetime
) -> Organizer | None:
    digest = hash_token(token)
    bootstrap_digest = hash_token(bootstrap_token)
    if hmac.compare_digest(digest, bootstrap_digest):
        return bootstrap_organizer(session, bootstrap_digest, now)
    organizer = session.scalars(
        select(Organizer).where(Organizer.token_sha256 == digest, ~Organizer.is_bootstrap)
    ).first()
    if organizer is not None and hmac.compare_digest(organizer.token_sha256, digest):
        return organizer
    return None


def _find_gateway(session: Session, token: str) -> Gateway | None:
    digest = hash_token(token)
    gateway = session.scalars(select(Gateway).where(Gateway.token_sha256 == digest)).first()
    if gateway is not None and hmac.compare_digest(gateway.token_sha256, digest):
        return gateway
    return None


def require_token(token: str | None) -> str:
    """Return the token; ``Unauthorized`` (``missing_token``) when there is none."""
    if not token:
        raise Unauthorized(
            "an Authorization: Bearer <token> header is required", code="missing_token"
        )
    return token


def require_organizer(
    session: Session, token: str | None, bootstrap_token: str, now: datetime
) -> Organizer:
    """Return the organizer a bearer token belongs to.

    Raises:
        Unauthorized: no token, or a token nobody has.
        Forbidden: a gateway token (code ``organizer_only``).
    """
    token = require_token(token)
    organizer = _find_organizer(session, token, bootstrap_token, now)
    if organizer is not None:
        return organizer
    if _find_gateway(session, token) is not None:
        raise Forbidden(
            "this endpoint needs an organizer token, not a gateway token", code="organizer_only"
        )
    logger.warning("rejected organizer request: unknown token")
    raise Unauthorized("unknown token", code="invalid_token")


def require_gateway(
    session: Session, token: str | None, bootstrap_token: str, now: datetime
) -> Gateway:
    """Return the gateway a bearer token belongs to.

    Raises:
        Unauthorized: no token, or a token nobody has.
        Forbidden: an organizer token (code ``gateway_only``).
    """
    token = require_token(token)
    gateway = _find_gateway(session, token)
    if gateway is not None:
        return gateway
    if _find_organizer(session, token, bootstrap_token, now) is not None:
        raise Forbidden(
            "this endpoint needs a gateway token, not an organizer token", code="gateway_only"
        )
    logger.warning("rejected gateway request: unknown token")
    raise Unauthorized("unknown token", code="invalid_token")
