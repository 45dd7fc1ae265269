"""Persistence: organizers, events, attendees, badges, gateways and meetings (SQLAlchemy 2, typed).

Times are timezone-aware UTC datetimes in Python; event times of meetings are
integer seconds, exactly as the gateway sends them. Constraint names follow one
naming convention so Alembic migrations can refer to them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAME_LEN = 200
ID_LEN = 64
KEY_HEX_LEN = 64
SHARE_LEVEL_DEFAULT = "name_company"
"""What others see of an attendee who has not chosen: name and company, no contact details."""
SHARE_WITH_DEFAULT = "met"
"""Who sees it by default: everyone the attendee verifiably met."""

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as UTC and always read back timezone-aware (SQLite drops offsets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base holding the shared metadata."""

    metadata = MetaData(naming_convention=_NAMING)


class Organizer(Base):
    """Someone who runs events. The bootstrap organizer's token comes from the settings."""

    __tablename__ = "organizers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    token_sha256: Mapped[str] = mapped_column(String(KEY_HEX_LEN), unique=True)
    is_bootstrap: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Event(Base):
    """An event, owned by one organizer, with its detection settings."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizers.id"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Attendee(Base):
    """A person registered for an event. Personal data lives only here, on the server.

    ``share_level`` (``none``, ``name_company``, ``full``) and ``share_with``
    (``tapped``, ``met``) are the attendee's consent; ``server.services.consent``
    applies them. An erased attendee keeps its row (meetings reference its badges)
    with every personal field cleared and ``erased_at`` set.
    """

    __tablename__ = "attendees"
    __table_args__ = (
        UniqueConstraint("event_id", "email"),
        UniqueConstraint("event_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    company: Mapped[str | None] = mapped_column(String(NAME_LEN), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(50), nullable=True)
    title: Mapped[str | None] = mapped_column(String(NAME_LEN), nullable=True)
    share_level: Mapped[str] = mapped_column(
        String(16), default=SHARE_LEVEL_DEFAULT, server_default=SHARE_LEVEL_DEFAULT
    )
    share_with: Mapped[str] = mapped_column(
        String(16), default=SHARE_WITH_DEFAULT, server_default=SHARE_WITH_DEFAULT
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Badge(Base):
    """A provisioned badge: public keys only (the signing seed is never stored).

    An attendee has at most one badge that is not revoked; revoked badges stay
    so that meetings recorded with them keep their owner.
    """

    __tablename__ = "badges"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    attendee_id: Mapped[int] = mapped_column(ForeignKey("attendees.id"), index=True)
    public_key: Mapped[str] = mapped_column(String(KEY_HEX_LEN))
    ephid_key: Mapped[str] = mapped_column(String(KEY_HEX_LEN))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# At most one bootstrap organizer (partial unique index).
Index(
    "uq_organizers_bootstrap",
    Organizer.is_bootstrap,
    unique=True,
    sqlite_where=Organizer.is_bootstrap == true(),
    postgresql_where=Organizer.is_bootstrap == true(),
)

# At most one active (not revoked) badge per attendee (partial unique index).
Index(
    "uq_badges_active_attendee",
    Badge.attendee_id,
    unique=True,
    sqlite_where=Badge.revoked == false(),
    postgresql_where=Badge.revoked == false(),
)


class Gateway(Base):
    """A gateway registered for one event; its token is stored only as a SHA-256 hash."""

    __tablename__ = "gateways"

    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    zone: Mapped[str] = mapped_column(String(NAME_LEN))
    token_sha256: Mapped[str] = mapped_column(String(KEY_HEX_LEN), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Meeting(Base):
    """A verified meeting between two badges, as forwarded by a gateway (id is deterministic).

    The primary key is ``(event_id, first_seen, id)``, not ``id`` alone: the id is
    ``protocol.ids.meeting_id`` of the meeting's kind, event, badges and ``first_seen``
    (ingest rejects any other id as ``invalid_id``), so it is unique on its own all the
    same, and a batch of recent meetings adds its keys to a few pages at the end of the
    index instead of ~one random page per meeting (migration ``r0005``,
    docs/performance.md). The same index serves "the event's meetings in time order".
    """

    __tablename__ = "meetings"
    __table_args__ = (
        PrimaryKeyConstraint("event_id", "first_seen", "id"),
        ForeignKeyConstraint(["event_id", "gateway_id"], ["gateways.event_id", "gateways.id"]),
        Index("ix_meetings_event_gen_badge_a", "event_id", "ingest_gen", "badge_a"),
        Index("ix_meetings_event_gen_badge_b", "event_id", "ingest_gen", "badge_b"),
    )

    id: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    kind: Mapped[str] = mapped_column(String(16))
    badge_a: Mapped[str] = mapped_column(ForeignKey("badges.id"))
    badge_b: Mapped[str] = mapped_column(ForeignKey("badges.id"))
    first_seen: Mapped[int] = mapped_column(BigInteger)
    last_seen: Mapped[int] = mapped_column(BigInteger)
    contact_seconds: Mapped[int] = mapped_column(BigInteger)
    windows: Mapped[int] = mapped_column(BigInteger)
    gateway_id: Mapped[str] = mapped_column(String(ID_LEN))
    zone: Mapped[str] = mapped_column(String(NAME_LEN))
    rssi_median_dbm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ingest_gen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Ingest generation (``server.services.generations``): keys the per-badge indexes so that a
    batch's index entries land on a few pages; lookups go generation by generation."""


class Zone(Base):
    """A place of an event (a room, the entrance, the expo hall) with an optional capacity.

    Its id is a slug (the protocol's ``Id`` pattern) that readers report as their zone.
    """

    __tablename__ = "zones"

    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EventSession(Base):
    """A session of an event's programme: a title, a zone and a time span."""

    __tablename__ = "sessions"
    __table_args__ = (
        ForeignKeyConstraint(["event_id", "zone_id"], ["zones.event_id", "zones.id"]),
    )

    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    title: Mapped[str] = mapped_column(String(NAME_LEN))
    zone_id: Mapped[str] = mapped_column(String(ID_LEN))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CheckIn(Base):
    """One tap, accepted or not: forwarded by a gateway's reader or made at the organizer's desk.

    ``source`` is ``"gateway"`` (id from ``protocol.ids.checkin_id``) or ``"desk"`` (id
    derived from the client's ``nonce``; ``request_sha256`` fingerprints the request so a
    retry is told from a reuse of the nonce). ``badge`` is kept as reported (it may be
    unknown, so no foreign key); ``attendee_id`` is resolved when stored. ``t`` is the
    event time of the tap and ``received_at`` the reader's (or desk's) clock, integer
    seconds; ``stored_at`` is the server's wall time (retention counts from it).
    """

    __tablename__ = "checkins"
    __table_args__ = (
        Index("ix_checkins_event_t", "event_id", "t"),
        Index("ix_checkins_event_zone_t", "event_id", "zone", "t"),
        Index("ix_checkins_event_attendee", "event_id", "attendee_id"),
        Index("ix_checkins_stored_at", "stored_at"),
        Index("ix_checkins_event_outcome_zone_t", "event_id", "outcome", "zone", "t"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    source: Mapped[str] = mapped_column(String(8))
    nonce: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    request_sha256: Mapped[str | None] = mapped_column(String(KEY_HEX_LEN), nullable=True)
    badge: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    attendee_id: Mapped[int | None] = mapped_column(ForeignKey("attendees.id"), nullable=True)
    reader: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    gateway_id: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    zone: Mapped[str] = mapped_column(String(ID_LEN))
    direction: Mapped[str] = mapped_column(String(8))
    t: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(200))
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)
