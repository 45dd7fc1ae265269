"""Badge provisioning: fresh Ed25519 and EphID keys per attendee, bundles handed out once.

The server keeps the public key and the EphID key (gateways need it to resolve
EphIDs) but never the signing seed, which only the bundle carries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol.api import ProvisioningBundle
from protocol.ids import EPHID_KEY_LEN
from protocol.signing import SEED_LEN, BadgeKey
from server.errors import BadRequest, Conflict, NotFound
from server.models import Attendee, Badge, Event
from server.services.auth import TokenBytes
from server.services.events import detection_settings_of

logger = logging.getLogger(__name__)

BADGE_ID_BYTES = 5
"""A badge id is "b" and 10 hex characters."""


def _unbadged(session: Session, event_id: str) -> list[Attendee]:
    active = select(Badge.attendee_id).where(Badge.event_id == event_id, ~Badge.revoked)
    query = select(Attendee).where(
        Attendee.event_id == event_id, Attendee.id.not_in(active), Attendee.erased_at.is_(None)
    )
    return list(session.scalars(query.order_by(Attendee.id)))


def _chosen(session: Session, event_id: str, attendee_ids: Sequence[int]) -> list[Attendee]:
    if len(set(attendee_ids)) != len(attendee_ids):
        raise BadRequest("attendee_ids lists an attendee twice", code="duplicate_attendee")
    found: dict[int, Attendee] = {}
    for start in range(0, len(attendee_ids), 500):
        chunk = attendee_ids[start : start + 500]
        query = select(Attendee).where(Attendee.event_id == event_id, Attendee.id.in_(chunk))
        found.update((a.id, a) for a in session.scalars(query))
    missing = [i for i in attendee_ids if i not in found]
    if missing:
        shown = ", ".join(str(i) for i in missing[:20])
        raise NotFound(f"no attendee {shown} in event {event_id}", code="attendee_not_found")
    erased = [i for i in attendee_ids if found[i].erased_at is not None]
    if erased:
        shown = ", ".join(str(i) for i in erased[:20])
        raise Conflict(f"attendee {shown} was erased", code="attendee_erased")
    badged: list[int] = []
    for start in range(0, len(attendee_ids), 500):
        chunk = attendee_ids[start : start + 500]
        active = select(Badge.attendee_id).where(Badge.attendee_id.in_(chunk), ~Badge.revoked)
        badged.extend(session.scalars(active))
    if badged:
        shown = ", ".join(str(i) for i in sorted(badged)[:20])
        raise Conflict(f"attendee {shown} already has an active badge", code="badge_exists")
    return [found[i] for i in attendee_ids]


def _new_badge_id(session: Session, token_bytes: TokenBytes, taken: set[str]) -> str:
    while True:
        badge_id = "b" + token_bytes(BADGE_ID_BYTES).hex()
        if badge_id not in taken and session.get(Badge, badge_id) is None:
            taken.add(badge_id)
            return badge_id


def provision_badges(
    session: Session,
    event: Event,
    *,
    attendee_ids: Sequence[int] | None,
    now: datetime,
    token_bytes: TokenBytes,
) -> list[ProvisioningBundle]:
    """Create one badge per attendee and return their provisioning bundles (all or nothing).

    Args:
        attendee_ids: the attendees to provision, or ``None`` for every attendee
            of the event without an active badge.
        token_bytes: the cryptographic random source (``secrets.token_bytes``).

    Raises:
        BadRequest: an attendee is listed twice.
        NotFound: an id is not an attendee of this event.
        Conflict: an attendee already has an active badge (code ``badge_exists``).
    """
    attendees = (
        _unbadged(session, event.id)
        if attendee_ids is None
        else _chosen(session, event.id, attendee_ids)
    )
    settings = detection_settings_of(event)
    taken: set[str] = set()
    bundles: list[ProvisioningBundle] = []
    rows: list[dict[str, object]] = []
    for attendee in attendees:
        seed = token_bytes(SEED_LEN)
        ephid_key = token_bytes(EPHID_KEY_LEN)
        badge_id = _new_badge_id(session, token_bytes, taken)
        rows.append(
            {
                "id": badge_id,
                "event_id": event.id,
                "attendee_id": attendee.id,
                "public_key": BadgeKey(seed).public_key.hex(),
                "ephid_key": ephid_key.hex(),
                "revoked": False,
                "created_at": now,
            }
        )
        bundles.append(
            ProvisioningBundle(
                event=event.id,
                badge=badge_id,
                signing_seed=seed.hex(),
                ephid_key=ephid_key.hex(),
                settings=settings,
            )
        )
    try:
        if rows:
            session.execute(insert(Badge), rows)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(
            "an attendee was given a badge concurrently; retry", code="badge_exists"
        ) from exc
    logger.info("badges provisioned event=%s n=%d", event.id, len(rows))
    return bundles


def revoke_badge(session: Session, event_id: str, badge_id: str) -> Badge:
    """Revoke a badge (lost, stolen); its meetings keep their owner. Idempotent.

    Raises:
        NotFound: no such badge in this event (code ``badge_not_found``).
    """
    badge = session.get(Badge, badge_id)
    if badge is None or badge.event_id != event_id:
        raise NotFound(f"no badge {badge_id} in event {event_id}", code="badge_not_found")
    if not badge.revoked:
        badge.revoked = True
        session.commit()
        logger.info("badge revoked event=%s badge=%s", event_id, badge_id)
    return badge


def replace_badge(
    session: Session, event: Event, attendee_id: int, *, now: datetime, token_bytes: TokenBytes
) -> ProvisioningBundle:
    """Revoke the attendee's active badge and provision a new one (a lost badge).

    Meetings stay with the attendee: they are mapped to attendees through every badge
    the attendee ever had, revoked or not.

    Raises:
        NotFound: no such attendee in this event.
        Conflict: the attendee was erased (``attendee_erased``).
    """
    active = select(Badge).where(
        Badge.event_id == event.id, Badge.attendee_id == attendee_id, ~Badge.revoked
    )
    for badge in session.scalars(active):
        badge.revoked = True
    session.flush()
    (bundle,) = provision_badges(
        session, event, attendee_ids=[attendee_id], now=now, token_bytes=token_bytes
    )
    logger.info("badge replaced event=%s attendee=%s badge=%s", event.id, attendee_id, bundle.badge)
    return bundle
