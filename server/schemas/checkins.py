"""Zones, sessions and check-ins (desk requests, reads, counts, presence)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from server.schemas.fields import Id, Name, RowId
from server.services.checkins import MAX_EVENT_SECONDS

Capacity = Annotated[int, Field(ge=0, le=10_000_000, description="How many people fit.")]


def _event_time(value: datetime) -> datetime:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value  # naive means UTC
    seconds = aware.timestamp()
    if not 0 <= seconds <= MAX_EVENT_SECONDS:
        raise ValueError("must be between 1970-01-01 and 9999-12-31 (UTC)")
    return datetime.fromtimestamp(seconds, UTC)


EventTime = Annotated[datetime, AfterValidator(_event_time)]
"""A time between 1970 and 9999, normalised to UTC (naive means UTC)."""


class ZoneCreate(BaseModel):
    """A zone (room, entrance, hall); its id is what check-in readers report."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"id": "main-hall", "name": "Main hall", "capacity": 400}]},
    )

    id: Id
    name: Name
    capacity: Capacity | None = None


class ZoneUpdate(BaseModel):
    """Fields of a zone to change; ``capacity: null`` removes the capacity."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Main hall", "capacity": 350}]}
    )

    name: Name | None = None
    capacity: Capacity | None = None

    @model_validator(mode="after")
    def _name_is_not_cleared(self) -> ZoneUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be cleared")
        return self


class ZoneOut(BaseModel):
    """A zone of an event."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "main-hall",
                    "name": "Main hall",
                    "capacity": 400,
                    "created_at": "2024-06-01T08:00:00Z",
                }
            ]
        },
    )

    id: str
    name: str
    capacity: int | None
    created_at: datetime


class SessionCreate(BaseModel):
    """A session of the programme, in one of the event's zones; it ends after it starts."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "keynote",
                    "title": "Opening keynote",
                    "zone": "main-hall",
                    "starts_at": "2024-06-01T09:00:00Z",
                    "ends_at": "2024-06-01T10:00:00Z",
                    "capacity": 400,
                }
            ]
        },
    )

    id: Id
    title: Name
    zone: Id
    starts_at: EventTime
    ends_at: EventTime
    capacity: Capacity | None = None


class SessionUpdate(BaseModel):
    """Fields of a session to change; ``capacity: null`` removes the capacity."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"title": "Opening keynote (moved)", "zone": "room-b"}]},
    )

    title: Name | None = None
    zone: Id | None = None
    starts_at: EventTime | None = None
    ends_at: EventTime | None = None
    capacity: Capacity | None = None

    @model_validator(mode="after")
    def _only_capacity_is_cleared(self) -> SessionUpdate:
        cleared = [
            f
            for f in ("title", "zone", "starts_at", "ends_at")
            if f in self.model_fields_set and getattr(self, f) is None
        ]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be cleared")
        return self


class SessionOut(BaseModel):
    """A session of an event."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "keynote",
                    "title": "Opening keynote",
                    "zone": "main-hall",
                    "starts_at": "2024-06-01T09:00:00Z",
                    "ends_at": "2024-06-01T10:00:00Z",
                    "capacity": 400,
                    "created_at": "2024-06-01T08:00:00Z",
                }
            ]
        },
    )

    id: str
    title: str
    zone: str
    starts_at: datetime
    ends_at: datetime
    capacity: int | None
    created_at: datetime


CheckInOutcomeName = Literal[
    "accepted",
    "already_inside",
    "unknown_badge",
    "revoked_badge",
    "not_registered",
    "unknown_reader",
    "unknown_nonce",
    "stale_nonce",
    "bad_signature",
    "malformed",
]
"""The outcomes of ``protocol.api.CheckInOutcome`` (the same vocabulary at the desk)."""


class DeskCheckIn(BaseModel):
    """A check-in at the organizer's desk: a badge or an attendee, into or out of a zone.

    ``nonce`` is chosen by the client, fresh per check-in: sending the same request again
    (a retry after a lost answer) returns the stored result; another request with a used
    nonce is refused. ``t`` is the real time of an offline check-in uploaded later.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "nonce": "desk1-000042",
                    "badge": "b0001",
                    "zone": "main-hall",
                    "direction": "entry",
                    "t": "2024-06-01T09:02:10Z",
                }
            ]
        },
    )

    nonce: Id
    badge: Id | None = None
    attendee: RowId | None = None
    zone: Id
    direction: Literal["entry", "exit"]
    t: EventTime | None = None

    @model_validator(mode="after")
    def _badge_or_attendee(self) -> DeskCheckIn:
        if (self.badge is None) == (self.attendee is None):
            raise ValueError('give either "badge" or "attendee"')
        return self


_CHECKIN_EXAMPLE: dict[str, Any] = {
    "id": "3f1c0d6a9b2e4c5d8e7f60718293a4b5",
    "source": "gateway",
    "nonce": None,
    "badge": "b0001",
    "attendee": 1,
    "reader": "door-1",
    "gateway": "gw1",
    "zone": "main-hall",
    "direction": "entry",
    "t": 1717232530,
    "received_at": 1717232531,
    "outcome": "accepted",
    "detail": "",
}


class CheckInOut(BaseModel):
    """A stored check-in (every outcome is stored). Times are event seconds (Unix time)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CHECKIN_EXAMPLE]})

    id: str
    source: Literal["gateway", "desk"]
    nonce: str | None
    badge: str | None
    attendee: int | None
    reader: str | None
    gateway: str | None
    zone: str
    direction: Literal["entry", "exit"]
    t: int
    received_at: int
    outcome: CheckInOutcomeName
    detail: str


class CheckInPage(BaseModel):
    """One page of check-ins and the total number matching the filters."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"total": 1, "limit": 100, "offset": 0, "items": [_CHECKIN_EXAMPLE]}]
        }
    )

    total: int
    limit: int
    offset: int
    items: list[CheckInOut]


class OutcomeCount(BaseModel):
    """How many taps had one outcome."""

    outcome: CheckInOutcomeName
    count: int


class FailedTaps(BaseModel):
    """Taps that were not accepted: counts by outcome, and one page of them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": 1,
                    "by_outcome": [{"outcome": "revoked_badge", "count": 1}],
                    "limit": 100,
                    "offset": 0,
                    "items": [
                        {**_CHECKIN_EXAMPLE, "outcome": "revoked_badge", "detail": "revoked"}
                    ],
                }
            ]
        }
    )

    total: int
    by_outcome: list[OutcomeCount]
    limit: int
    offset: int
    items: list[CheckInOut]


class CountBucket(BaseModel):
    """Accepted entries and exits in one bucket, and how many were inside at its end."""

    start: datetime
    entries: int
    exits: int
    occupancy: int


class ZoneCounts(BaseModel):
    """One zone's counts over time."""

    zone: str
    buckets: list[CountBucket]


class CheckInCounts(BaseModel):
    """Entries, exits and occupancy per zone over time, in buckets of ``bucket_seconds``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "bucket_seconds": 900,
                    "zones": [
                        {
                            "zone": "main-hall",
                            "buckets": [
                                {
                                    "start": "2024-06-01T09:00:00Z",
                                    "entries": 12,
                                    "exits": 2,
                                    "occupancy": 10,
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    bucket_seconds: int
    zones: list[ZoneCounts]


class PresenceOut(BaseModel):
    """Someone inside a zone, since their accepted entry (``attendee`` null: unknown badge)."""

    attendee: int | None
    name: str | None
    badge: str | None
    since: datetime


class ZonePresence(BaseModel):
    """Who is inside a zone now (after every accepted tap)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "zone": "main-hall",
                    "name": "Main hall",
                    "capacity": 400,
                    "occupancy": 1,
                    "inside": [
                        {
                            "attendee": 1,
                            "name": "Ada Lovelace",
                            "badge": "b0001",
                            "since": "2024-06-01T09:02:10Z",
                        }
                    ],
                }
            ]
        }
    )

    zone: str
    name: str | None
    capacity: int | None
    occupancy: int
    inside: list[PresenceOut]
