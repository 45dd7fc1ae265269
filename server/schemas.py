"""API input and output models (pydantic). Wire shapes shared with gateways: ``protocol.api``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from protocol.api import DetectionSettings
from server.services.checkins import MAX_EVENT_SECONDS
from server.services.consent import ShareLevel, ShareWith

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_IMPORT_ROWS = 10_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[0-9+()./ -]{3,50}$")

Id = Annotated[str, Field(pattern=ID_PATTERN)]
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]
"""A database row id: positive and within a signed 64-bit integer."""
NO_NUL = r"^[^\x00]*$"
"""Text without NUL characters (PostgreSQL cannot store them in text columns)."""
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _check_email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError("not an email address")
    return email


def _check_phone(value: str) -> str:
    if not _PHONE.match(value):
        raise ValueError("a phone number has 3-50 digits, spaces and + ( ) . / -")
    return value


def detection_settings(values: dict[str, Any]) -> DetectionSettings:
    """Return protocol detection settings from a partial mapping (missing fields take defaults).

    Raises:
        ValueError: an unknown field or a value out of the protocol's range.
    """
    # JSON Schema's "integer" includes 20.0; msgspec's strict int does not
    whole = {
        k: int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v
        for k, v in values.items()
    }
    try:
        return msgspec.convert(whole, DetectionSettings)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from exc


def _validate_settings(values: dict[str, Any]) -> dict[str, Any]:
    return msgspec.structs.asdict(detection_settings(values))


def _settings_schema() -> dict[str, Any]:
    (_,), components = msgspec.json.schema_components(
        [DetectionSettings], ref_template="#/components/schemas/{name}"
    )
    schema: dict[str, Any] = components["DetectionSettings"]
    return schema


_Blank = BeforeValidator(_blank_to_none)  # applied first: blank optional fields become null
_Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=NO_NUL)]
_ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=128, pattern=NO_NUL)
]
_Email = Annotated[
    str, StringConstraints(max_length=254, pattern=NO_NUL), AfterValidator(_check_email)
]
_Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=50), AfterValidator(_check_phone)
]
OptionalText = Annotated[_Text | None, _Blank]
SettingsIn = Annotated[
    dict[str, Any],
    AfterValidator(_validate_settings),
    WithJsonSchema(_settings_schema()),
]


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str
    detail: str


class Health(BaseModel):
    """Liveness answer."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"] = "ok"


class EventCreate(BaseModel):
    """An event to create; missing detection settings take the protocol defaults."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "demo-2026",
                    "name": "Demo Conference 2026",
                    "starts_at": "2026-06-04T08:00:00Z",
                    "settings": {"rssi_threshold_dbm": -70, "retention_days": 14},
                }
            ]
        },
        extra="forbid",
    )

    id: Id
    name: Name
    starts_at: datetime | None = None
    settings: SettingsIn = Field(default_factory=dict)


class EventOut(BaseModel):
    """An event with its complete detection settings."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "demo-2026",
                    "name": "Demo Conference 2026",
                    "starts_at": "2026-06-04T08:00:00Z",
                    "created_at": "2026-05-01T10:00:00Z",
                    "settings": {
                        "window_seconds": 20,
                        "rssi_threshold_dbm": -82,
                        "gap_tolerance_seconds": 60,
                        "min_meeting_seconds": 60,
                        "link_threshold_seconds": 180,
                        "ephid_rotation_seconds": 900,
                        "allowed_lateness_seconds": 60,
                        "max_clock_skew_seconds": 60,
                        "retention_days": 30,
                    },
                }
            ]
        },
        from_attributes=True,
    )

    id: str
    name: str
    starts_at: datetime | None
    created_at: datetime
    settings: dict[str, int]


class AttendeeIn(BaseModel):
    """One attendee row of an import; blank optional fields become null."""

    model_config = ConfigDict(extra="ignore")

    external_id: Annotated[_ExternalId | None, _Blank] = None
    name: Name
    company: OptionalText = None
    email: Annotated[_Email | None, _Blank] = None
    phone: Annotated[_Phone | None, _Blank] = None
    title: OptionalText = None
    share_level: ShareLevel = "name_company"
    share_with: ShareWith = "met"

    @model_validator(mode="before")
    @classmethod
    def _blank_consent_is_default(cls, data: Any) -> Any:
        # a CSV column left empty means "not chosen", i.e. the default
        if isinstance(data, dict):
            blank = [
                k for k in ("share_level", "share_with") if _blank_to_none(data.get(k)) is None
            ]
            if blank:
                data = {k: v for k, v in data.items() if k not in blank}
        return data


class AttendeeOut(BaseModel):
    """An attendee as the organizer sees it, with the id of their active badge."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "external_id": "A-1",
                    "name": "Ada Lovelace",
                    "company": "Analytical Engines",
                    "email": "ada@example.org",
                    "phone": None,
                    "title": "Engineer",
                    "share_level": "full",
                    "share_with": "met",
                    "erased_at": None,
                    "badge": "b0001",
                }
            ]
        },
        from_attributes=True,
    )

    id: int
    external_id: str | None
    name: str
    company: str | None
    email: str | None
    phone: str | None
    title: str | None
    share_level: str
    share_with: str
    erased_at: datetime | None
    badge: str | None = None


class ImportRowError(BaseModel):
    """Why one row of an import was not created."""

    row: int
    code: str
    detail: str


class ImportResult(BaseModel):
    """Outcome of an attendee import: good rows are created, bad rows reported."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "created": 2,
                    "errors": [
                        {
                            "row": 3,
                            "code": "invalid_email",
                            "detail": "email: Value error, not an email address",
                        }
                    ],
                }
            ]
        }
    )

    created: int
    errors: list[ImportRowError]


class BadgeRequest(BaseModel):
    """Which attendees to provision badges for: a list of ids, or everyone without one."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"attendee_ids": [1, 2]}]}, extra="forbid"
    )

    attendee_ids: Annotated[list[RowId], Field(max_length=MAX_IMPORT_ROWS)] | None = None
    all_unbadged: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> BadgeRequest:
        if (self.attendee_ids is None) == (not self.all_unbadged):
            raise ValueError('give either "attendee_ids" or "all_unbadged": true')
        return self


class GatewayCreate(BaseModel):
    """A gateway to register; without an id the server picks one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "gw-hall", "name": "Main hall gateway", "zone": "main-hall"}]
        },
        extra="forbid",
    )

    id: Id | None = None
    name: Name
    zone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=NO_NUL)]


class GatewayCreated(BaseModel):
    """A new gateway and its token; the token is shown only this once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"gateway": "gw-hall", "token": "gw_5pZ2mJqQy8F1xH3kz0cW7eRrT9uVbNaLdGsYoIi4MEA"}
            ]
        }
    )

    gateway: str
    token: str


class MeetingOut(BaseModel):
    """A stored meeting, with the attendees behind its two badges."""

    id: str
    kind: str
    badge_a: str
    badge_b: str
    attendee_a: int
    attendee_b: int
    first_seen: int
    last_seen: int
    contact_seconds: int
    windows: int
    gateway: str
    zone: str
    rssi_median_dbm: int | None


class MeetingPage(BaseModel):
    """One page of meetings and the total number matching the filters."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": 1,
                    "limit": 100,
                    "offset": 0,
                    "items": [
                        {
                            "id": "6c1f0e2a9b8d7c6e5f4a3b2c1d0e9f8a",
                            "kind": "proximity",
                            "badge_a": "b0001",
                            "badge_b": "b0002",
                            "attendee_a": 1,
                            "attendee_b": 2,
                            "first_seen": 1780563600,
                            "last_seen": 1780563840,
                            "contact_seconds": 240,
                            "windows": 12,
                            "gateway": "gw-hall",
                            "zone": "main-hall",
                            "rssi_median_dbm": -61,
                        }
                    ],
                }
            ]
        }
    )

    total: int
    limit: int
    offset: int
    items: list[MeetingOut]


class ConnectionOut(BaseModel):
    """Someone an attendee is connected to, with the evidence."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "attendee": 2,
                    "name": "Bob Byte",
                    "company": "Byte Corp",
                    "first_met": "2026-06-04T09:00:00Z",
                    "last_met": "2026-06-04T09:04:00Z",
                    "total_contact_seconds": 240,
                    "meetings": 1,
                    "tapped": False,
                    "where": ["main-hall"],
                }
            ]
        }
    )

    attendee: int
    name: str
    company: str | None
    first_met: datetime
    last_met: datetime
    total_contact_seconds: int
    meetings: int
    tapped: bool
    where: list[str]


class Stats(BaseModel):
    """Counts for an event's dashboard, and attendance over time from check-ins."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "attendees": 200,
                    "badges": 200,
                    "gateways": 3,
                    "meetings": 1450,
                    "proximity_meetings": 1380,
                    "taps": 70,
                    "connections": 910,
                    "total_contact_seconds": 612000,
                    "checkins": 420,
                    "failed_checkins": 12,
                    "attendance_per_hour": [
                        {"hour": "2026-06-04T09:00:00Z", "entries": 180, "exits": 20, "inside": 160}
                    ],
                }
            ]
        }
    )

    attendees: int
    badges: int
    gateways: int
    meetings: int
    proximity_meetings: int
    taps: int
    connections: int
    total_contact_seconds: int
    checkins: int = Field(0, description="Check-ins stored, every outcome.")
    failed_checkins: int = Field(0, description="Check-ins not accepted.")
    attendance_per_hour: list[AttendanceHour] = Field(
        default_factory=list, description="Hours (UTC) in which someone entered or left a zone."
    )


class Consent(BaseModel):
    """What the people an attendee met may see of them (see ``server.services.consent``)."""

    share_level: ShareLevel = Field(
        description="none: nothing; name_company: name and company; full: also title, "
        "email and phone."
    )
    share_with: ShareWith = Field(
        description="tapped: only people they tapped badges with; met: everyone they "
        "verifiably met. A tap always counts as consent for that pair."
    )

    model_config = ConfigDict(
        extra="forbid",
        from_attributes=True,
        json_schema_extra={"examples": [{"share_level": "full", "share_with": "tapped"}]},
    )


class AttendeeSelf(BaseModel):
    """An attendee's own data, as they see it through their personal link."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "event_id": "demo-2026",
                    "name": "Ada Lovelace",
                    "company": "Analytical Engines",
                    "title": "Engineer",
                    "email": "ada@example.org",
                    "phone": None,
                    "share_level": "full",
                    "share_with": "tapped",
                }
            ]
        },
        from_attributes=True,
    )

    id: int
    event_id: str
    name: str
    company: str | None
    title: str | None
    email: str | None
    phone: str | None
    share_level: str
    share_with: str


class AttendeeLinkOut(BaseModel):
    """A personal self-service link for one attendee (a bearer secret: hand it to them only)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "v1.demo-2026.1.1788336000.Jq3v9X2kR0m8bQz1",
                    "path": "/api/v1/me/v1.demo-2026.1.1788336000.Jq3v9X2kR0m8bQz1",
                    "expires_at": "2026-09-02T00:00:00Z",
                }
            ]
        }
    )

    token: str
    path: str
    expires_at: datetime


class GatewayOut(BaseModel):
    """A gateway as the organizer sees it: when it last fetched its registry."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "gw-hall",
                    "name": "Main hall gateway",
                    "zone": "main-hall",
                    "created_at": "2026-06-03T16:00:00Z",
                    "last_seen": "2026-06-04T09:15:02Z",
                }
            ]
        },
        from_attributes=True,
    )

    id: str
    name: str
    zone: str
    created_at: datetime
    last_seen: datetime | None


class AttendeeUpdate(BaseModel):
    """Fields of an attendee to change; absent fields stay, ``null`` clears an optional one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"company": "Analytical Engines", "title": "CTO"}]},
    )

    external_id: Annotated[_ExternalId | None, _Blank] = None
    name: Name | None = None
    company: OptionalText = None
    email: Annotated[_Email | None, _Blank] = None
    phone: Annotated[_Phone | None, _Blank] = None
    title: OptionalText = None

    @model_validator(mode="after")
    def _name_is_not_cleared(self) -> AttendeeUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be cleared")
        return self


class DegreeCount(BaseModel):
    """How many attendees have exactly ``contacts`` connections."""

    contacts: int
    attendees: int


class Connected(BaseModel):
    """One of the most connected attendees."""

    attendee: int
    name: str
    contacts: int
    total_contact_seconds: int


class HourCount(BaseModel):
    """Distinct attendees with a meeting starting in the hour beginning at ``hour``."""

    hour: datetime
    attendees: int


class NetworkStats(BaseModel):
    """The shape of an event's contact network."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "attendees": 200,
                    "connected_pairs": 910,
                    "mean_contacts": 9.1,
                    "degree_distribution": [
                        {"contacts": 0, "attendees": 4},
                        {"contacts": 9, "attendees": 31},
                    ],
                    "most_connected": [
                        {
                            "attendee": 17,
                            "name": "Ada Lovelace",
                            "contacts": 24,
                            "total_contact_seconds": 15840,
                        }
                    ],
                    "active_attendees_per_hour": [
                        {"hour": "2026-06-04T09:00:00Z", "attendees": 163}
                    ],
                }
            ]
        }
    )

    attendees: int
    connected_pairs: int
    mean_contacts: float
    degree_distribution: list[DegreeCount]
    most_connected: list[Connected]
    active_attendees_per_hour: list[HourCount]


class BadgeOut(BaseModel):
    """A badge as the organizer sees it (public data only)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "b0001",
                    "attendee_id": 1,
                    "revoked": True,
                    "created_at": "2026-06-03T16:05:00Z",
                }
            ]
        },
        from_attributes=True,
    )

    id: str
    attendee_id: int
    revoked: bool
    created_at: datetime


# --- zones, sessions, check-ins -----------------------------------------------------------

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


class AttendanceHour(BaseModel):
    """An hour with check-ins: accepted entries, exits, and people inside any zone at its end."""

    hour: datetime
    entries: int
    exits: int
    inside: int
