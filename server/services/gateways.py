"""Gateways: registration with a one-time token, and the registry they fetch."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol.api import Registry, RegistryBadge
from server.errors import Conflict, NotFound
from server.models import Badge, Event, Gateway
from server.services.auth import TokenBytes, hash_token, new_token
from server.services.events import detection_settings_of

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "gw"


def register_gateway(
    session: Session,
    event: Event,
    *,
    gateway_id: str | None,
    name: str,
    zone: str,
    now: datetime,
    token_bytes: TokenBytes,
) -> tuple[Gateway, str]:
    """Register a gateway for ``event`` and return it with its token (shown only once).

    Args:
        gateway_id: the wanted id, or ``None`` for a generated ``g`` + 8 hex characters.

    Raises:
        Conflict: the id is taken in this event (code ``gateway_exists``).
    """
    if gateway_id is None:
        gateway_id = "g" + token_bytes(4).hex()
        while session.get(Gateway, (event.id, gateway_id)) is not None:
            gateway_id = "g" + token_bytes(4).hex()
    elif session.get(Gateway, (event.id, gateway_id)) is not None:
        raise Conflict(
            f"gateway {gateway_id} already exists in event {event.id}", code="gateway_exists"
        )
    token = new_token(token_bytes, TOKEN_PREFIX)
    gateway = Gateway(
        event_id=event.id,
        id=gateway_id,
        name=name,
        zone=zone,
        token_sha256=hash_token(token),
        created_at=now,
    )
    session.add(gateway)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(
            f"gateway {gateway_id} already exists in event {event.id}", code="gateway_exists"
        ) from exc
    logger.info("gateway registered event=%s gateway=%s zone=%s", event.id, gateway_id, zone)
    return gateway, token


def build_registry(session: Session, gateway: Gateway, now: datetime) -> Registry:
    """Return the registry of the gateway's event and record that the gateway was seen.

    Raises:
        NotFound: the gateway's event is gone.
    """
    event = session.get(Event, gateway.event_id)
    if event is None:
        raise NotFound(f"no event {gateway.event_id}", code="event_not_found")
    query = select(Badge.id, Badge.public_key, Badge.ephid_key, Badge.revoked)
    query = query.where(Badge.event_id == event.id).order_by(Badge.id)
    badges = [
        RegistryBadge(badge=b, public_key=pk, ephid_key=ek, revoked=revoked)
        for b, pk, ek, revoked in session.execute(query)
    ]
    gateway.last_seen = now
    session.commit()
    logger.debug("registry served event=%s gateway=%s badges=%d", event.id, gateway.id, len(badges))
    return Registry(
        event=event.id,
        gateway=gateway.id,
        zone=gateway.zone,
        settings=detection_settings_of(event),
        badges=badges,
    )


def list_gateways(session: Session, event_id: str) -> list[Gateway]:
    """Return the event's gateways, by id."""
    query = select(Gateway).where(Gateway.event_id == event_id).order_by(Gateway.id)
    return list(session.scalars(query))


def get_gateway(session: Session, event_id: str, gateway_id: str) -> Gateway:
    """Return one gateway of the event.

    Raises:
        NotFound: no such gateway in this event (code ``gateway_not_found``).
    """
    gateway = session.get(Gateway, (event_id, gateway_id))
    if gateway is None:
        raise NotFound(f"no gateway {gateway_id} in event {event_id}", code="gateway_not_found")
    return gateway


def rotate_token(session: Session, gateway: Gateway, token_bytes: TokenBytes) -> str:
    """Give the gateway a new token (returned once); the old one stops working at once."""
    token = new_token(token_bytes, TOKEN_PREFIX)
    gateway.token_sha256 = hash_token(token)
    session.commit()
    logger.info("gateway token rotated event=%s gateway=%s", gateway.event_id, gateway.id)
    return token
